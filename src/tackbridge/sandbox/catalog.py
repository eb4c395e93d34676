"""Static realistic marketplace data the scenario engine draws from: categories with their
questions, places, customer names, schedules, lead types and prices.

Category IDs and names follow the shapes in the reference documents (18-digit IDs).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryInfo:
    category_id: str
    name: str
    descriptions: tuple[str, ...]
    questions: tuple[tuple[str, tuple[str, ...]], ...]
    price_range: tuple[int, int]  # lead price in cents


@dataclass(frozen=True)
class Place:
    city: str
    state: str
    zip_code: str
    streets: tuple[str, ...]


CATEGORIES: tuple[CategoryInfo, ...] = (
    CategoryInfo(
        "201565295100608806",
        "Kitchen Remodel",
        (
            "Full kitchen renovation, new cabinets and counters.",
            "Replace the backsplash and update the lighting.",
            "Looking to open the kitchen to the living room.",
        ),
        (
            ("Property type", ("Residential", "Commercial")),
            ("Project scope", ("Full kitchen renovation", "Repair of existing tiling or flooring")),
            ("Plumbing to be relocated", ("No, plumbing will not need to be relocated", "Yes")),
            ("Existing plans", ("No existing plans, but have a good idea of what I want", "Yes")),
        ),
        (2500, 9000),
    ),
    CategoryInfo(
        "122681972262289742",
        "Interior Painting",
        (
            "There is a stain on the door that needs to be touched up.",
            "Paint two bedrooms and a hallway.",
            "Whole apartment repaint before we move out.",
        ),
        (
            ("Type of property", ("Home", "Apartment", "Office")),
            ("Number of rooms", ("1 room", "2 rooms", "4 rooms", "5 or more rooms")),
            ("Paint supply", ("I will supply the paint", "The pro should supply the paint")),
        ),
        (1200, 4000),
    ),
    CategoryInfo(
        "109125193401647362",
        "House Cleaning",
        (
            "I am looking for someone to clean my apartment before I move",
            "Deep clean after a renovation.",
            "Biweekly cleaning for a three bedroom house.",
        ),
        (
            ("Home size", ("1 bedroom", "2 bedrooms", "3 bedrooms", "4+ bedrooms")),
            ("Cleaning type", ("Standard cleaning", "Deep cleaning", "Move out cleaning")),
            ("Frequency", ("Just once", "Every week", "Every 2 weeks")),
        ),
        (800, 2500),
    ),
    CategoryInfo(
        "219264413294461288",
        "Plumbing Pipe Repair",
        (
            "Leaking pipe under the kitchen sink.",
            "Low water pressure in the upstairs bathroom.",
            "Burst pipe in the garage, need someone today.",
        ),
        (
            ("Problem", ("Leak", "Clog", "Low pressure", "Burst pipe")),
            ("Location in home", ("Kitchen", "Bathroom", "Basement", "Garage")),
            ("Urgency", ("Emergency", "Within a few days", "Flexible")),
        ),
        (1500, 6000),
    ),
    CategoryInfo(
        "286845156044809662",
        "Roof Repair or Maintenance",
        (
            "A few shingles blew off in the storm.",
            "Water stain on the ceiling after heavy rain.",
            "Annual roof inspection and gutter cleaning.",
        ),
        (
            ("Roof type", ("Asphalt shingle", "Tile", "Metal", "Flat")),
            ("Stories", ("1 story", "2 stories", "3 or more stories")),
            ("Issue", ("Leak", "Missing shingles", "Inspection", "Not sure")),
        ),
        (3000, 12000),
    ),
    CategoryInfo(
        "151436204227846419",
        "Local Moving (under 50 miles)",
        (
            "Moving a two bedroom apartment across town.",
            "Need help loading a truck, about 3 hours.",
            "Moving a piano and a few boxes.",
        ),
        (
            ("Home size", ("Studio", "1 bedroom", "2 bedrooms", "3 bedrooms")),
            ("Stairs", ("Elevator", "No stairs", "1 flight", "2+ flights")),
            ("Packing", ("I will pack", "I need packing help")),
        ),
        (1000, 3500),
    ),
)

PLACES: tuple[Place, ...] = (
    Place("San Francisco", "CA", "94117", ("1450 Haight Street", "88 Ashbury Street")),
    Place("Palo Alto", "CA", "94301", ("101 Alma Street", "540 Bryant Street")),
    Place("San Jose", "CA", "95125", ("1200 Lincoln Avenue", "77 Willow Street")),
    Place("Austin", "TX", "78704", ("1600 South Congress Avenue", "2301 Barton Hills Drive")),
    Place("Denver", "CO", "80205", ("2800 Welton Street", "1955 Gaylord Street")),
    Place("Brooklyn", "NY", "11215", ("421 7th Avenue", "160 Prospect Park West")),
    Place("Seattle", "WA", "98103", ("3601 Fremont Avenue N", "4401 Stone Way N")),
    Place("Chicago", "IL", "60614", ("2100 N Halsted Street", "1800 N Clark Street")),
)

FIRST_NAMES = ("Olivia", "John", "Jay", "Maria", "Wei", "Aisha", "Diego", "Hannah", "Sam", "Priya")
LAST_NAMES = ("Young", "Davis", "Johnson", "Garcia", "Chen", "Khan", "Lopez", "Schmidt", "Patel")

SCHEDULES = (
    "Date: Tue, May 05 2020\nTime: 6:00 PM\nLength: 3.5 hours",
    "Dates: Apr 10, Apr 11, Apr 12\nTimes: Morning (9am - 12pm), Afternoon (12pm - 3pm)",
    "Date: Fri Apr 10 2020\nTime: Early Morning (before 9am)\nLength: 4 hours",
    "This week",
    "I'm flexible",
    "As soon as possible",
)

TRAVEL_PREFERENCES = (
    "Professional must travel to my address.",
    "I will travel to the professional.",
    "Phone or online consultation.",
)

# Lead types the legacy reference lists; instant ones carry a street address.
LEAD_TYPES = (
    "REQUEST_A_QUOTE",
    "INSTANT_BOOK",
    "CONTACT",
    "ESTIMATION",
    "BOOKING",
    "INSTANT_CONSULT",
    "SERVICE_CALL",
    "PHONE_CONSULTATION",
)
ADDRESS_LEAD_TYPES = frozenset({"INSTANT_BOOK", "BOOKING", "INSTANT_CONSULT", "SERVICE_CALL"})

ESTIMATE_TYPES = ("Fixed", "PerUnit", "OnSite", "Hourly", "MoreInfo")

PRICE_TEXTS = (
    "More information needed to give an estimate",
    "$150 - $300",
    "$85/hour",
    "$1,200 fixed price",
)

CUSTOMER_MESSAGES = (
    "Hi! Are you available this week?",
    "Do you offer fridge cleaning or is that extra?",
    "Could you give me a rough estimate?",
    "Thanks, that works for me.",
    "Can you send some photos of similar work?",
    "What time could you come by?",
)

REVIEW_TEXTS = (
    "best service ever",
    "On time, friendly and tidy. Would hire again.",
    "Good work, a little pricier than expected.",
    "Fixed the problem quickly.",
)

"""Targeting: turning a service, or one of its categories, on or off at Thumbtack (legacy v3)."""

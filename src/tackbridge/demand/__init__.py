"""Demand: submitting requests for customers to businesses (the v4 Requests API), as a demand
connection. Today its one command, ``request create`` (``demand.cli``)."""

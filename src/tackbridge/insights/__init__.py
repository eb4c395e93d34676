"""Figures about how the business is doing with its leads (response times, ...)."""

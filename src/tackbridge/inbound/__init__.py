"""The front door: the partner endpoints Thumbtack calls, and what they store."""

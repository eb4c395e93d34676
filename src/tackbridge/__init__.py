"""tackbridge: receives Thumbtack leads durably and puts them to work."""

__version__ = "0.1.0"

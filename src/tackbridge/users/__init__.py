"""The people who sign in to the dashboard: their roles (owner, admin, member), the businesses a
member is assigned, and their Argon2-hashed passwords. ``service`` reads and changes them,
``passwords`` hashes, ``cli`` is ``tackbridge users``."""

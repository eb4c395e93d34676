"""Leads as an operator sees them: the read API, its queries and its views."""

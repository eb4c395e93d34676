"""Conversations: a lead's thread, and the replies operators send to the customer."""

"""Downstream work: the outbox that every outbound effect goes through."""

"""Serve: atomic publication of an audited candidate, kept versions and rollback."""

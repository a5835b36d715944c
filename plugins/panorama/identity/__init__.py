"""Identifiers: USCC, organisation code and registration-number check digits (``codes``), and
the personal data rules (``pii``) that keep ID-card and phone numbers internal.
"""

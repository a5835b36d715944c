"""Ingest: the feed registry, connectors, normalisation, the raw zone and quarantine.

A delivery becomes normalised Parquet in the raw zone (``extract.extract_feed``); every row
it cannot keep goes to quarantine with its reason.
"""

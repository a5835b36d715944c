"""The credit code (信用码) service: the consumer's page of a shop, reached by its QR code.

``panorama serve`` runs :func:`app.create_app` under uvicorn. It reads the public dataset
only (``serving/public.duckdb`` through ``serving/current``, read-only), so a publication
switches it at once, and writes nothing but 12315-format deliveries into the landing zone.
"""

"""credit-panorama: the market-entity credit panorama pipeline (feeds, raw zone, dbt, audit, publish)."""

__version__ = "0.1.0"

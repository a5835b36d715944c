"""credit-panorama: the market-entity credit panorama pipeline.

Feeds, raw zone, dbt build, audit, publish.
"""

__version__ = "0.1.0"

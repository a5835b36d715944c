"""The data assets of the pipeline, with real file URIs computed from the settings.

Raw feeds: ``file://<raw dir>/<feed>`` (one per feed, emitted by its extract through the
``panorama-raw-feeds`` alias); serving files: the published ``panorama.duckdb`` (regulators)
and ``public.duckdb`` (公示), emitted by publish. Downstream DAGs schedule on these by name.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from panorama.settings import Settings, get_settings

RAW_FEEDS_ALIAS = "panorama-raw-feeds"
SERVING_NAME = "panorama-serving"
PUBLIC_NAME = "panorama-public"


def raw_feeds_alias() -> AssetAlias:
    return AssetAlias(RAW_FEEDS_ALIAS)


def raw_feed(feed: str, settings: Settings | None = None) -> Asset:
    settings = settings or get_settings()
    return Asset(name=f"panorama-raw-{feed}", uri=(settings.raw_dir / feed).as_uri())


def serving(settings: Settings | None = None) -> Asset:
    settings = settings or get_settings()
    return Asset(name=SERVING_NAME, uri=settings.serving_path.as_uri())


def public(settings: Settings | None = None) -> Asset:
    settings = settings or get_settings()
    return Asset(name=PUBLIC_NAME, uri=settings.public_path.as_uri())

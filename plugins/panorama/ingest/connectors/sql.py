"""A database table or query, through SQLAlchemy, streamed in ``fetch_size`` batches.

The URL comes from the Airflow connection ``conn_id`` when it is defined, else from the YAML
``url`` (``{landing}`` is replaced by the landing dir). A SQLite file is opened read-only: a
missing one is an error naming it, never an empty database created in its place. Rows come in a
stable order: ``rowid`` for SQLite tables, the primary key (or every column) otherwise; a query
is wrapped and ordered by all its columns.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from collections.abc import Iterator

import pyarrow as pa
import sqlalchemy as sa

from panorama.ingest.connectors import Source, SourceBatch, TransportError, to_text
from panorama.ingest.feeds import FeedSpec, SqlTransport
from panorama.settings import Settings

_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


def connection_url(conn_id: str) -> str | None:
    """SQLAlchemy URL of an Airflow connection, or None when it is not defined."""
    if os.environ.get("AIRFLOW_CTX_DAG_ID"):
        from airflow.sdk import BaseHook

        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception:  # AirflowNotFoundException: fall back to the YAML url
            return None
        uri = conn.get_uri()
    else:
        uri = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        if not uri:
            return None
    scheme, sep, rest = uri.partition("://")
    scheme = scheme.replace("-", "_")
    if scheme == "sqlite":
        return _sqlite_url(rest)
    return _DRIVERS.get(scheme, scheme) + sep + rest


def _sqlite_url(rest: str) -> str:
    """Airflow writes a SQLite file's path percent-encoded, as the host (``sqlite://%2Fdb``) or
    the schema (``sqlite:///%2Fdb``); SQLAlchemy wants it plain after ``sqlite:///``."""
    return "sqlite:///" + urllib.parse.unquote(rest[1:] if rest.startswith("/") else rest)


def _redacted(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return urllib.parse.urlsplit(url)._replace(netloc="***").geturl()


class SqlSource(Source):
    def __init__(self, feed: FeedSpec, url: str) -> None:
        t = feed.transport
        assert isinstance(t, SqlTransport)
        super().__init__(name=t.table or "query")
        self.t = t
        self.url = url

    def _statement(self, conn: sa.Connection) -> sa.Executable:
        if self.t.query is not None:
            sub = sa.text(self.t.query).columns().subquery("q")
            probe = conn.execute(sa.select(sa.text("*")).select_from(sub).limit(0))
            names = list(probe.keys())
            query = f"SELECT * FROM ({self.t.query}) AS q"
            order = ", ".join(str(i) for i in range(1, len(names) + 1))
            return sa.text(f"{query} ORDER BY {order}" if names else query)
        schema, _, name = self.t.table.rpartition(".")
        try:
            table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=conn)
        except sa.exc.NoSuchTableError as exc:
            raise TransportError(f"table {self.t.table!r} not found") from exc
        stmt = sa.select(table)
        if conn.dialect.name == "sqlite":
            return stmt.order_by(sa.literal_column("rowid"))
        keys = list(table.primary_key.columns) or list(table.columns)
        return stmt.order_by(*keys)

    def batches(self) -> Iterator[SourceBatch]:
        digest = hashlib.sha256()
        try:
            engine = sa.create_engine(self.url)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise TransportError(f"bad database URL {_redacted(self.url)}: {exc}") from exc
        row = 1
        try:
            with engine.connect() as conn:
                stmt = self._statement(conn)
                result = conn.execution_options(
                    stream_results=True, yield_per=self.t.fetch_size
                ).execute(stmt)
                self.columns = list(result.keys())
                for part in result.partitions():
                    cols = list(zip(*part, strict=True)) if part else []
                    texts = [[to_text(v) for v in c] for c in cols]
                    table = pa.table(
                        {
                            n: pa.array(c, pa.string())
                            for n, c in zip(self.columns, texts, strict=True)
                        }
                    )
                    for r in zip(*texts, strict=True):
                        digest.update(json.dumps(r, ensure_ascii=False).encode())
                    yield SourceBatch(table, row, "json")
                    row += len(part)
        except sa.exc.SQLAlchemyError as exc:
            msg = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
            raise TransportError(f"database {_redacted(self.url)}: {msg}") from exc
        finally:
            engine.dispose()
        self.sha256 = digest.hexdigest()


def read_only_sqlite(url: str, origin: str) -> str:
    """A SQLite URL opened read-only (``mode=ro``): a missing database file is an error naming
    it, never an empty file created in its place. Other URLs are returned as they are."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return url
    if parsed.query.get("uri") == "true":  # already a file: URI; keep it, read-only
        path = database.removeprefix("file:").split("?")[0]
    else:
        path = database
    if not os.path.isfile(path):
        raise TransportError(f"{origin}: SQLite database file {path} does not exist")
    if parsed.query.get("uri") == "true":
        return parsed.update_query_dict({"mode": "ro"}).render_as_string(hide_password=False)
    uri = "file:" + urllib.parse.quote(os.path.abspath(path))
    return (
        parsed.set(database=uri)
        .update_query_dict({"mode": "ro", "uri": "true"})
        .render_as_string(hide_password=False)
    )


def sql_sources(feed: FeedSpec, settings: Settings) -> Iterator[Source]:
    t = feed.transport
    assert isinstance(t, SqlTransport)
    url = connection_url(t.conn_id) if t.conn_id else None
    origin = f"connection {t.conn_id!r}"
    if url is None:
        if t.url is None:
            raise TransportError(f"connection {t.conn_id!r} is not defined and no url is given")
        url = t.url.replace("{landing}", settings.landing_dir.as_posix())
        origin = f"url {t.url!r}"
    yield SqlSource(feed, read_only_sqlite(url, origin))

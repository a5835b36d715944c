"""Airflow connections, looked up and parsed by Airflow itself.

``airflow.sdk.BaseHook.get_connection`` serves both places a connector runs. Inside an Airflow
task it asks the task runner (``AIRFLOW_CONN_*`` in the worker's environment, the configured
secrets backend, then the metadata database through the execution API). Outside one
(``panorama extract``, tests) it reads ``AIRFLOW_CONN_<CONN_ID>`` in URI or JSON form and any
configured secrets backend, with the same parser (``Connection.from_uri`` / ``from_json``); the
metadata database is not consulted there.

This module turns the parsed connection into what a connector opens: the base URL of an HTTP API
or a SQLAlchemy URL. Neither function puts a password in an error message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from panorama.ingest.connectors import TransportError

if TYPE_CHECKING:
    from airflow.sdk import Connection

_HTTP_SCHEMES = ("http", "https")
# Airflow names the connection type; SQLAlchemy wants a dialect and driver.
_SQL_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


def find_connection(conn_id: str) -> Connection | None:
    """The Airflow connection ``conn_id``, or None when no backend defines it."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def get_connection(conn_id: str) -> Connection:
    """The Airflow connection ``conn_id``; a :class:`TransportError` when it is not defined."""
    conn = find_connection(conn_id)
    if conn is None:
        raise TransportError(
            f"connection {conn_id!r} is not defined (set AIRFLOW_CONN_{conn_id.upper()} "
            "or define it in Airflow)"
        )
    return conn


def http_base_url(conn: Connection) -> str:
    """``scheme://host[:port]`` of an HTTP connection, as Airflow's HTTP hook builds it: a host
    given with its protocol (``https://api.example``) is kept; otherwise the scheme is the
    connection's schema when that is http/https, else its type when that is, else http."""
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise TransportError(f"connection {conn.conn_id!r} has no host")
    if "://" in host:
        base = host
        netloc = host.split("://", 1)[1]
        has_port = ":" in netloc.split("/", 1)[0]
    else:
        if conn.schema in _HTTP_SCHEMES:
            scheme = conn.schema
        elif conn.conn_type in _HTTP_SCHEMES:
            scheme = conn.conn_type
        else:
            scheme = "http"
        base = f"{scheme}://{host}"
        has_port = False
    if conn.port and not has_port:
        base += f":{conn.port}"
    return base


def _query(conn: Connection) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in conn.extra_dejson.items():
        if isinstance(value, bool):
            query[key] = str(value).lower()
        elif isinstance(value, str | int | float):
            query[key] = str(value)
        elif value is not None:
            raise TransportError(
                f"connection {conn.conn_id!r}: extra {key!r} is not a plain value "
                "(a database URL takes strings and numbers only)"
            )
    return query


def sqlalchemy_url(conn: Connection) -> str:
    """SQLAlchemy URL of a database connection: the type names the dialect (``postgres`` is
    opened with psycopg 3), the schema is the database (a file path for SQLite), the extras are
    the query (``sqlite:///file:x.db?mode=ro&uri=true`` keeps both)."""
    if not conn.conn_type:
        raise TransportError(f"connection {conn.conn_id!r} has no type")
    driver = _SQL_DRIVERS.get(conn.conn_type, conn.conn_type)
    if driver == "sqlite":
        # Airflow keeps a SQLite file's path, percent-encoded in the URI, as the host
        # (``sqlite://%2Fdata%2Fx.db``) or the schema (``sqlite:///%2Fdata%2Fx.db``)
        return sa.URL.create(
            "sqlite", database=conn.host or conn.schema or None, query=_query(conn)
        ).render_as_string()
    try:
        url = sa.URL.create(
            driver,
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
            query=_query(conn),
        )
    except (sa.exc.ArgumentError, TypeError, ValueError) as exc:
        raise TransportError(
            f"connection {conn.conn_id!r} is not a database URL ({type(exc).__name__})"
        ) from exc
    return url.render_as_string(hide_password=False)

"""Airflow connections as the HTTP and SQL connectors see them: looked up and parsed by Airflow
(``AIRFLOW_CONN_*`` in URI or JSON form here, outside a task), turned into a base URL or a
SQLAlchemy URL by one helper. The cases are where the two former hand-written parsers differed."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from airflow.sdk import Connection
from panorama.ingest.connectors import TransportError
from panorama.ingest.connectors.connection import (
    find_connection,
    get_connection,
    sqlalchemy_url,
)
from panorama.ingest.connectors.http import connection_endpoint
from panorama.ingest.connectors.sql import connection_url
from panorama.ingest.extract import extract_feed
from panorama.ingest.feeds import FeedSpec

SECRET = "p@ss/w:rd"  # characters a URI must percent-encode
QUOTED = "p%40ss%2Fw%3Ard"


@pytest.fixture
def no_task(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("value", "base"),
    [
        (f"http://etl:{QUOTED}@127.0.0.1:8123", "http://127.0.0.1:8123"),
        # the schema (URI path) names the protocol, as Airflow's HTTP hook reads it
        (f"http://etl:{QUOTED}@api.example:8443/https", "https://api.example:8443"),
        (f"https://etl:{QUOTED}@api.example", "https://api.example"),
        # Airflow's form for a host that carries its own protocol
        (f"http://etl:{QUOTED}@https%3A%2F%2Fapi.example:8443", "https://api.example:8443"),
        (
            json.dumps(
                {
                    "conn_type": "http",
                    "host": "api.example",
                    "port": "8080",
                    "login": "etl",
                    "password": SECRET,
                }
            ),
            "http://api.example:8080",
        ),
    ],
)
def test_http_endpoint_from_uri_or_json(no_task, value: str, base: str) -> None:
    no_task.setenv("AIRFLOW_CONN_EXCHANGE_API", value)
    endpoint = connection_endpoint("exchange_api")
    assert (endpoint.base_url, endpoint.login, endpoint.token) == (base, "etl", SECRET)
    assert SECRET not in repr(endpoint)


def test_two_schemes_in_host_form_is_parsed_by_airflow(no_task) -> None:
    """Airflow spells a host with its own protocol ``http://https://host``; the former
    environment parser took ``https`` for the host name."""
    no_task.setenv("AIRFLOW_CONN_EXCHANGE_API", "http://https://api.example:9443")
    assert connection_endpoint("exchange_api").base_url == "https://api.example:9443"


def test_undefined_http_connection_names_the_variable(no_task) -> None:
    no_task.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    assert find_connection("nowhere") is None
    with pytest.raises(TransportError, match="AIRFLOW_CONN_NOWHERE"):
        get_connection("nowhere")


def test_http_connection_without_host_is_an_error(no_task) -> None:
    no_task.setenv("AIRFLOW_CONN_EXCHANGE_API", json.dumps({"conn_type": "http"}))
    with pytest.raises(TransportError, match="has no host"):
        connection_endpoint("exchange_api")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_url_with_quoted_password_and_extras(no_task, scheme: str) -> None:
    no_task.setenv(
        "AIRFLOW_CONN_COURT_DB", f"{scheme}://reader:{QUOTED}@db.example:5433/court?sslmode=require"
    )
    url = sa.make_url(connection_url("court_db"))
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port) == (
        "reader",
        SECRET,
        "db.example",
        5433,
    )
    assert (url.database, dict(url.query)) == ("court", {"sslmode": "require"})


def test_sql_connection_in_json_form(no_task) -> None:
    """The former SQL parser passed a JSON connection on as if it were a URL."""
    no_task.setenv(
        "AIRFLOW_CONN_COURT_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.example",
                "login": "reader",
                "password": SECRET,
                "schema": "court",
                "port": 5432,
            }
        ),
    )
    url = sa.make_url(connection_url("court_db"))
    assert (url.drivername, url.password, url.database) == ("postgresql+psycopg", SECRET, "court")


def test_sqlite_path_survives_a_connection_object() -> None:
    """In a task the former parser rebuilt a URI with ``get_uri()``, which percent-encodes the
    SQLite path (``sqlite:///%2Fdata%2Fcourt.sqlite``, a relative file of that name); the
    connection's fields are used as they are now."""
    stored = Connection(conn_id="court_db", conn_type="sqlite", schema="/data/court.sqlite")
    assert sqlalchemy_url(stored) == "sqlite:////data/court.sqlite"
    assert sqlalchemy_url(Connection.from_uri(stored.get_uri(), "court_db")) == (
        "sqlite:////data/court.sqlite"
    )


def test_sqlite_uri_query_is_kept(no_task) -> None:
    no_task.setenv("AIRFLOW_CONN_COURT_DB", "sqlite:///file:/data/court.sqlite?mode=ro&uri=true")
    url = sa.make_url(connection_url("court_db"))
    assert (url.database, dict(url.query)) == (
        "file:/data/court.sqlite",
        {"mode": "ro", "uri": "true"},
    )


def test_undefined_sql_connection_is_none(no_task) -> None:
    no_task.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    assert connection_url("nowhere") is None


def test_nested_extra_is_an_error_without_the_password(no_task) -> None:
    no_task.setenv(
        "AIRFLOW_CONN_COURT_DB",
        json.dumps(
            {"conn_type": "postgres", "host": "db", "password": SECRET, "extra": {"a": {"b": 1}}}
        ),
    )
    with pytest.raises(TransportError, match="extra 'a'") as err:
        connection_url("court_db")
    assert SECRET not in str(err.value)


def test_sqlite_connection_in_json_form_extracts(feed_settings, no_task) -> None:
    """Through the extract: a JSON connection to a SQLite file lands its rows."""
    db = feed_settings.landing_dir / "court.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as con:
        con.execute(sa.text("create table t (qymc text, tyshxydm text, lryy text, lrrq text)"))
        con.execute(
            sa.text(
                "insert into t values "
                "('德州某某有限公司', '91371402MA1K3BTP2B', '未按规定报送年度报告', '2024-03-01')"
            )
        )
    engine.dispose()
    no_task.setenv("AIRFLOW_CONN_COURT_DB", json.dumps({"conn_type": "sqlite", "schema": str(db)}))
    spec = FeedSpec.model_validate(
        {
            "name": "abnormal_list__amr",
            "kind": "abnormal_list",
            "department": "德州市市场监督管理局",
            "transport": {"type": "sql", "conn_id": "court_db", "table": "t"},
            "format": {"type": "table"},
            "columns": {
                "name": {"source": "qymc"},
                "uscc": {"source": "tyshxydm"},
                "list_reason": {"source": "lryy"},
                "list_date": {"source": "lrrq"},
            },
        }
    )
    manifest = extract_feed(spec, "2024-03-06", feed_settings)
    assert (manifest.totals["rows_read"], manifest.totals["rows_kept"]) == (1, 1)

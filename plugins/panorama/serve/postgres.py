"""PostgreSQL as a publication target, for BI servers that reach data through accounts and roles.

Each publication is loaded into fresh schemas of its own (``v0003__entity``, ``v0003__risk``, …,
owned by the pipeline's account, readable by no reader role). Readers query stable names
(``entity.dim_entity``): views that put together the kept versions' tables, each branch
filtered by the version in place (``panorama_meta.serving``). Switching a publication or
rolling back is one ``update`` of that row, committed in one transaction: a reader's
statement, or a whole ``repeatable read`` transaction, sees one version, never a mix.

A view is (re)defined, one view per transaction, before the switch that needs it; while
the version in place does not change, its rows do not either, so readers see no difference.

Roles (``ROLES``) follow the audiences of :mod:`panorama.warehouse`: ``panorama_regulator``
reads every served table, ``panorama_public`` the public record, ``panorama_finance`` the
finance partners' table. They are group roles without login: grant them to the BI tools'
accounts. ``panorama_meta.current_version`` (version, logical date, publication time) is
readable by all three.

The target is the Airflow connection named by ``PANORAMA_POSTGRES_CONN_ID`` (unset: no
PostgreSQL publication); its account owns what the pipeline creates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from panorama import warehouse

log = logging.getLogger(__name__)

META = "panorama_meta"
ROLES = {
    "regulator": "panorama_regulator",
    "public": "panorama_public",
    "finance": "panorama_finance",
}
# The served file loaded into PostgreSQL: the regulators' share holds every other one's.
SOURCE_AUDIENCE = "regulator"

_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIME": "time",
    "UUID": "uuid",
    "BLOB": "bytea",
}


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL type of a DuckDB column (nested types travel as their text form)."""
    t = duckdb_type.upper()
    if t in _TYPES:
        return _TYPES[t]
    if re.fullmatch(r"DECIMAL\(\d+,\d+\)", t):
        return "numeric" + t.removeprefix("DECIMAL")
    return "text"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def version_schema(version: str, schema: str) -> str:
    """``v0003__entity``: where version ``v0003_<ds>`` keeps the tables of ``schema``."""
    return f"{version.split('_', 1)[0]}__{schema}"


@contextlib.contextmanager
def connect(url: str, autocommit: bool = True) -> Iterator[Any]:
    import psycopg

    conn = psycopg.connect(_libpq_url(url), autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as libpq takes it."""
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url)


def url_from_connection(conn_id: str) -> str:
    """The database URL of the Airflow connection ``conn_id``."""
    from panorama.ingest.connectors.connection import get_connection, sqlalchemy_url

    return sqlalchemy_url(get_connection(conn_id))


# ----------------------------------------------------------------------------- set-up


def ensure_setup(conn: Any) -> None:
    """The meta schema, the reader roles and what they may always read (idempotent)."""
    for role in ROLES.values():
        conn.execute(
            "do $$ begin if not exists (select from pg_roles where rolname = "
            f"{_lit(role)}) then create role {_q(role)} nologin; end if; end $$"
        )
    conn.execute(f"create schema if not exists {META}")
    conn.execute(
        f"create table if not exists {META}.publication (version text primary key, "
        "logical_date text, published_at text, manifest jsonb, loaded_at timestamptz "
        "default now())"
    )
    conn.execute(
        f"create table if not exists {META}.serving (one boolean primary key default true "
        "check (one), version text)"
    )
    conn.execute(
        f"create or replace view {META}.current_version as select p.version, p.logical_date, "
        f"p.published_at from {META}.serving s join {META}.publication p using (version)"
    )
    roles = ", ".join(_q(r) for r in ROLES.values())
    conn.execute("revoke all on schema public from public")
    conn.execute(f"grant usage on schema {META} to {roles}")
    conn.execute(f"grant select on {META}.current_version to {roles}")


# ----------------------------------------------------------------------------- load


def load_version(url: str, version: str, source: Path, manifest: dict[str, Any]) -> dict:
    """Load the tables of the served file ``source`` into version ``version``'s own schemas
    (one transaction: a version is in ``panorama_meta.publication`` only when whole).
    Returns row counts and seconds."""
    started = time.monotonic()
    schemas = warehouse.audience(SOURCE_AUDIENCE).schemas
    counts: dict[str, int] = {}
    with connect(url) as conn, warehouse.connect(source) as duck:
        ensure_setup(conn)
        _drop_version(conn, version)  # what an interrupted load of this version left
        columns = _duckdb_columns(duck, schemas)
        with tempfile.TemporaryDirectory(prefix="pg-load-") as tmp, conn.transaction():
            for name, cols in columns.items():
                schema, table = name.split(".", 1)
                target = f"{_q(version_schema(version, schema))}.{_q(table)}"
                conn.execute(f"create schema if not exists {_q(version_schema(version, schema))}")
                ddl = ", ".join(f"{_q(c)} {pg_type(t)}" for c, t in cols)
                conn.execute(f"create table {target} ({ddl})")
                counts[name] = _copy_table(conn, duck, name, cols, target, Path(tmp))
            conn.execute(
                f"insert into {META}.publication (version, logical_date, published_at, "
                "manifest) values (%s, %s, %s, %s)",
                [
                    version,
                    manifest.get("logical_date"),
                    manifest.get("published_at"),
                    json.dumps(
                        {k: manifest.get(k) for k in ("version", "run_id", "row_counts")},
                        ensure_ascii=False,
                    ),
                ],
            )
    return {"row_counts": counts, "load_seconds": round(time.monotonic() - started, 2)}


def _duckdb_columns(duck: Any, schemas: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    rows = duck.execute(
        "select table_schema || '.' || table_name, column_name, data_type "
        "from information_schema.columns where table_catalog = current_database() "
        f"and table_schema in ({', '.join('?' for _ in schemas)}) "
        "order by table_schema, table_name, ordinal_position",
        list(schemas),
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for name, col, dtype in rows:
        out.setdefault(name, []).append((col, dtype))
    return out


def _copy_table(
    conn: Any, duck: Any, name: str, columns: list[tuple[str, str]], target: str, tmp: Path
) -> int:
    """One table through a CSV file DuckDB writes and ``COPY ... FROM STDIN`` reads."""
    csv_path = tmp / f"{name}.csv"
    select = ", ".join(
        _q(c) if pg_type(t) != "text" or t.upper() == "VARCHAR" else f"{_q(c)}::varchar"
        for c, t in columns
    )
    schema, table = name.split(".", 1)
    duck.execute(
        f"copy (select {select} from {_q(schema)}.{_q(table)}) to "
        f"{_lit(str(csv_path))} (format csv, header true)"
    )
    with (
        conn.cursor() as cur,
        cur.copy(f"copy {target} from stdin (format csv, header true)") as cp,
    ):
        with csv_path.open("rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
    csv_path.unlink()
    return conn.execute(f"select count(*) from {target}").fetchone()[0]


# ----------------------------------------------------------------------------- views, switch


def _versions(conn: Any) -> list[str]:
    return [r[0] for r in conn.execute(f"select version from {META}.publication order by 1")]


def current_version(conn: Any) -> str | None:
    row = conn.execute(f"select version from {META}.serving").fetchone()
    return row[0] if row else None


def _version_tables(conn: Any, version: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(served schema, table) -> columns (name, type) of version ``version``."""
    prefix = version_schema(version, "")
    rows = conn.execute(
        "select table_schema, table_name, column_name, format_type(a.atttypid, a.atttypmod) "
        "from information_schema.columns c "
        "join pg_attribute a on a.attrelid = (quote_ident(table_schema) || '.' || "
        "quote_ident(table_name))::regclass and a.attname = c.column_name "
        "where table_schema like %s order by table_schema, table_name, ordinal_position",
        [prefix.replace("_", r"\_") + "%"],
    ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, col, dtype in rows:
        out.setdefault((schema.removeprefix(prefix), table), []).append((col, dtype))
    return out


def _view_sql(key: tuple[str, str], cols: list[tuple[str, str]], shapes: dict[str, dict]) -> str:
    """The view of one served table: the target's columns, one branch per kept version that
    has the table, each read only while its version is the one in place."""
    branches = []
    for version, tables in shapes.items():
        if key not in tables:
            continue
        have = dict(tables[key])
        items = [_q(c) if have.get(c) == t else f"null::{t} as {_q(c)}" for c, t in cols]
        branches.append(
            f"select {', '.join(items)} from {_q(version_schema(version, key[0]))}.{_q(key[1])} "
            f"where (select version from {META}.serving) = {_lit(version)}"
        )
    return "\nunion all\n".join(branches)


def refresh_views(conn: Any, target: str, keep: list[str] | None = None) -> None:
    """Define every served view for the tables of version ``target`` over the versions
    ``keep`` (default: every loaded version), one view per transaction, and grant them to
    the roles whose audience reads them."""
    versions = keep if keep is not None else _versions(conn)
    shapes = {v: _version_tables(conn, v) for v in versions}
    grants = _grants(list(shapes[target]))
    for key, cols in sorted(shapes[target].items()):
        schema, table = key
        view = f"{_q(schema)}.{_q(table)}"
        sql = _view_sql(key, cols, shapes)
        with conn.transaction():
            conn.execute(f"create schema if not exists {_q(schema)}")
            existing = conn.execute(
                "select array_agg(attname::text || ':' || format_type(atttypid, atttypmod) "
                "order by attnum) from pg_attribute where attrelid = to_regclass(%s) "
                "and attnum > 0 and not attisdropped",
                [view],
            ).fetchone()[0]
            wanted = [f"{c}:{t}" for c, t in cols]
            if existing is not None and existing != wanted:
                conn.execute(f"drop view {view}")  # another shape: in this same transaction
            conn.execute(f"create or replace view {view} as {sql}")
            for role in ROLES.values():
                conn.execute(f"revoke all on {view} from {_q(role)}")
            for role in grants.get(key, ()):
                conn.execute(f"grant usage on schema {_q(schema)} to {_q(role)}")
                conn.execute(f"grant select on {view} to {_q(role)}")


def _grants(keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """(schema, table) -> the roles whose audience reads it."""
    out: dict[tuple[str, str], list[str]] = {}
    for name, role in ROLES.items():
        for schema, table, _served in warehouse.audience(name).selection(keys):
            out.setdefault((schema, table), []).append(role)
    return out


def switch(conn: Any, version: str) -> None:
    """Put ``version`` in place for every reader: one row, one committed transaction."""
    with conn.transaction():
        conn.execute(f"delete from {META}.serving")
        conn.execute(f"insert into {META}.serving (version) values (%s)", [version])


def _drop_version(conn: Any, version: str) -> None:
    prefix = version_schema(version, "")
    schemas = [
        r[0]
        for r in conn.execute(
            "select nspname from pg_namespace where nspname like %s",
            [prefix.replace("_", r"\_") + "%"],
        )
    ]
    for schema in schemas:
        conn.execute(f"drop schema {_q(schema)} cascade")
    conn.execute(f"delete from {META}.publication where version = %s", [version])


# ----------------------------------------------------------------------------- entry points


def publish_version(url: str, version: str, source: Path, manifest: dict[str, Any]) -> dict:
    """Load a version and define the views over it (readers still see the version in place).
    Call :func:`put_in_place` to switch."""
    out = load_version(url, version, source, manifest)
    with connect(url) as conn:
        refresh_views(conn, version)
    return out


def put_in_place(url: str, version: str, keep_versions: int) -> None:
    """Switch readers to ``version`` (views must cover it), then drop the versions beyond the
    ``keep_versions`` newest (never the one in place): views first, then their schemas."""
    with connect(url) as conn:
        switch(conn, version)
        versions = _versions(conn)
        gone = [v for v in versions[: max(0, len(versions) - keep_versions)] if v != version]
        if gone:
            refresh_views(conn, version, [v for v in versions if v not in gone])
            for v in gone:
                _drop_version(conn, v)


def check_loaded(url: str, version: str) -> None:
    """KeyError when ``version`` is not a kept version of the PostgreSQL target."""
    with connect(url) as conn:
        ensure_setup(conn)
        if version not in _versions(conn):
            raise KeyError(f"no kept version {version!r} in the PostgreSQL target")


def rollback(url: str, version: str) -> None:
    """Serve a kept version again (its views redefined first when its tables differ)."""
    check_loaded(url, version)
    with connect(url) as conn:
        refresh_views(conn, version)
        switch(conn, version)

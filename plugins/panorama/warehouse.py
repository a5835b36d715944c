"""The one seam between Python and DuckDB files.

DuckDB has a single writer: only the build step (dbt) writes, and it writes a candidate file.
Everything else here opens files read-only, or writes a *new* file that nobody reads yet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Schemas a regulator or BI tool reads; staging/intermediate stay internal to the build.
PUBLISHED_SCHEMAS = ("entity", "risk", "supervision", "finance", "public_record")
PUBLIC_SCHEMA = "public_record"


@contextlib.contextmanager
def connect(path: Path, read_only: bool = True) -> Iterator[Any]:
    import duckdb

    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Run one read-only query and return all rows."""
    with connect(path) as con:
        return con.execute(sql, params or []).fetchall()


def list_tables(path: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> list[str]:
    """``schema.table`` names of base tables and views in the given schemas, sorted."""
    with connect(path) as con:
        return _tables(con, schemas)


def table_counts(path: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> dict[str, int]:
    """Row count of every published table."""
    with connect(path) as con:
        out = {}
        for name in _tables(con, schemas):
            out[name] = con.execute(f"select count(*) from {name}").fetchall()[0][0]
        return out


def _tables(con: Any, schemas: tuple[str, ...]) -> list[str]:
    marks = ",".join("?" for _ in schemas)
    rows = con.execute(
        f"select table_schema, table_name from information_schema.tables "
        f"where table_catalog = current_database() and table_schema in ({marks}) order by 1, 2",
        list(schemas),
    ).fetchall()
    return [f"{s}.{t}" for s, t in rows]


def checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file so that it can be moved or copied alone."""
    with connect(path, read_only=False) as con:
        con.execute("checkpoint")


def copy_schemas(source: Path, target: Path, schemas: tuple[str, ...]) -> dict[str, int]:
    """Write a new DuckDB file at ``target`` holding the tables of ``schemas`` from ``source``.

    Views become tables, so the copy stands alone. Returns row counts.
    """
    target.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with connect(target, read_only=False) as con:
        con.execute(f"attach '{_sql_str(source)}' as src (read_only)")
        rows = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'src' and table_schema in ("
            + ",".join("?" for _ in schemas)
            + ") order by 1, 2",
            list(schemas),
        ).fetchall()
        for schema, table in rows:
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(
                f'create table "{schema}"."{table}" as select * from src."{schema}"."{table}"'
            )
            counts[f"{schema}.{table}"] = con.execute(
                f'select count(*) from "{schema}"."{table}"'
            ).fetchall()[0][0]
        con.execute("detach src")
        con.execute("checkpoint")
    return counts


def export_parquet(source: Path, out_dir: Path, schemas: tuple[str, ...]) -> dict[str, Path]:
    """One Parquet file per table, ``<schema>.<table>.parquet`` (zstd), for BI tools."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with connect(source) as con:
        for name in _tables(con, schemas):
            dest = out_dir / f"{name}.parquet"
            con.execute(
                f"copy (select * from {name}) to '{_sql_str(dest)}' "
                "(format parquet, compression zstd)"
            )
            written[name] = dest
    return written


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")

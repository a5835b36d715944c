"""The one seam between Python and DuckDB files.

DuckDB has a single writer: only the build step (dbt) writes, and it writes a candidate file.
Everything else here opens files read-only, or writes a *new* file that nobody reads yet.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Schemas of the built marts; staging, intermediate and dbt test failures stay in the build.
PUBLISHED_SCHEMAS = ("entity", "risk", "supervision", "finance", "public_record")
PUBLIC_SCHEMA = "public_record"


@dataclass(frozen=True)
class Share:
    """Tables ``<schema>.<pattern>`` of the build, served in ``served_schema``."""

    schema: str
    pattern: str = "*"
    served_schema: str | None = None
    exclude: tuple[str, ...] = ()

    def picks(self, schema: str, table: str) -> str | None:
        """The served schema of ``schema.table`` when this share takes it, else None."""
        if schema != self.schema or not fnmatch.fnmatchcase(table, self.pattern):
            return None
        if table in self.exclude:
            return None
        return self.served_schema or schema


@dataclass(frozen=True)
class Audience:
    """Who reads a served file, and the share of the build it holds."""

    name: str
    file: str  # the served DuckDB file, under serving/
    shares: tuple[Share, ...]
    description: str

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.served_schema or s.schema for s in self.shares))

    def selection(self, tables: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """``(schema, table, served_schema)`` of the build's tables this audience reads. Where
        two tables would be served under one name, the earlier share wins (a share renaming a
        schema is listed first, so that its fresh table wins over the copy a candidate carried
        over from the last publication)."""
        picked: dict[tuple[str, str], tuple[str, str, str]] = {}
        for share in self.shares:
            for schema, table in tables:
                served = share.picks(schema, table)
                if (
                    served
                    and (served, table) not in picked
                    and not any((schema, table) == (s, t) for s, t, _ in picked.values())
                ):
                    picked[(served, table)] = (schema, table, served)
        return [picked[key] for key in sorted(picked, key=lambda k: tables.index(picked[k][:2]))]


# The review queue of records no entity could be matched to: operators' work, not a mart.
OPERATIONS_SCHEMA = "operations"
OPERATOR_TABLES = ("rpt_unresolved_records",)

AUDIENCES: tuple[Audience, ...] = (
    Audience(
        "regulator",
        "panorama.duckdb",
        (
            Share("entity", exclude=OPERATOR_TABLES),
            Share("risk"),
            # the spot-check policy data (inspectors, conflicts, ratios) a draw is verified with
            Share("reference", "supervision_*", "supervision"),
            Share("supervision"),
            Share("finance"),
            Share("public_record"),
        ),
        "the bureau's regulators (internal): panorama, grades with reasons and history, "
        "supervision plans, reports; personal identifiers masked",
    ),
    Audience(
        "public",
        "public.duckdb",
        (Share(PUBLIC_SCHEMA),),
        "the public (公示): public-record facts only",
    ),
    Audience(
        "finance",
        "finance_partners.duckdb",
        (Share("finance", "fin_*"),),
        "finance partners: per entity the code, name, suggested loan ceiling and its basis",
    ),
    Audience(
        "operator",
        "operator.duckdb",
        tuple(Share("entity", t, OPERATIONS_SCHEMA) for t in OPERATOR_TABLES),
        "operators (data engineers): review queues and the publication's load accounting",
    ),
)


def audience(name: str) -> Audience:
    for a in AUDIENCES:
        if a.name == name:
            return a
    raise KeyError(f"no audience {name!r}; audiences: {', '.join(a.name for a in AUDIENCES)}")


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


def build_tables(path: Path) -> list[tuple[str, str]]:
    """``(schema, table)`` of every table and view of a build file."""
    with connect(path) as con:
        rows = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
    return [(s, t) for s, t in rows]


@dataclass
class Written:
    """What :func:`write_served` wrote: row counts and columns (name, type) by served table."""

    counts: dict[str, int]
    columns: dict[str, list[tuple[str, str]]]


def write_served(
    source: Path,
    target: Path,
    selection: Iterable[tuple[str, str, str]],
    exports_dir: Path | None = None,
    extra: Callable[[Any], dict[str, int]] | None = None,
) -> Written:
    """Write a fresh DuckDB file at ``target`` with ``(schema, table, served_schema)`` of
    ``source`` as tables (views become tables), then ``extra(con)``'s tables, and export each
    table to ``exports_dir/<schema>.<table>.parquet`` (zstd). A new file is written
    compactly: no free blocks inherited from earlier builds. One connection does it all."""
    target.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with connect(target, read_only=False) as con:
        con.execute(f"attach '{_sql_str(source)}' as src (read_only)")
        for schema, table, served in selection:
            con.execute(f'create schema if not exists "{served}"')
            con.execute(
                f'create table "{served}"."{table}" as select * from src."{schema}"."{table}"'
            )
            counts[f"{served}.{table}"] = con.execute(
                f'select count(*) from "{served}"."{table}"'
            ).fetchall()[0][0]
        con.execute("detach src")
        if extra:
            counts.update(extra(con))
        if exports_dir:
            exports_dir.mkdir(parents=True, exist_ok=True)
            for name in counts:
                schema, table = name.split(".", 1)
                dest = exports_dir / f"{name}.parquet"
                con.execute(
                    f'copy "{schema}"."{table}" to \'{_sql_str(dest)}\' '
                    "(format parquet, compression zstd)"
                )
        columns: dict[str, list[tuple[str, str]]] = {}
        for name, col, dtype in con.execute(
            "select table_schema || '.' || table_name, column_name, data_type "
            "from information_schema.columns where table_catalog = current_database() "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall():
            columns.setdefault(name, []).append((col, dtype))
        con.execute("checkpoint")
    return Written(dict(sorted(counts.items())), columns)


def parquet_folders(root: Path) -> dict[tuple[str, str], Path]:
    """The Parquet marts under ``root`` by ``(schema, table)``, sorted: one folder of Parquet
    files per table, ``<schema>/<table>/*.parquet`` (a Spark build's layout; ``<schema>.db``
    is read as ``<schema>``)."""
    found = {}
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        if any(folder.glob("*.parquet")):
            found[(folder.parent.name.removesuffix(".db"), folder.name)] = folder
    return dict(sorted(found.items()))


def parquet_tables(root: Path) -> list[tuple[str, str]]:
    """``(schema, table)`` of the Parquet marts under ``root`` (see :func:`parquet_folders`),
    sorted like :func:`build_tables`."""
    return list(parquet_folders(root))


def parquet_views(target: Path, tables: dict[tuple[str, str], Path]) -> None:
    """Write a DuckDB file at ``target`` holding one view per ``(schema, table)`` over the
    Parquet files of its folder (absolute paths): what reads a DuckDB build reads Parquet
    marts through it."""
    target.unlink(missing_ok=True)
    with connect(target, read_only=False) as con:
        for (schema, table), folder in tables.items():
            files = _sql_str(folder.resolve() / "*.parquet")
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(
                f'create view "{schema}"."{table}" as select * from read_parquet(\'{files}\')'
            )
        con.execute("checkpoint")


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

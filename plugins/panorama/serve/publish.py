"""Publish an audited candidate: curated files per audience, atomic switch, kept versions.

Each audience reads its own share of the build (``warehouse.AUDIENCES``), written as a fresh,
compact DuckDB file, Parquet exports and a data dictionary; staging, intermediate models and
dbt test failures stay in the run's folder (``build/runs/<run>/built.duckdb``) and are never
served. Layout under ``serving/``::

    versions/<vNNNN_ds>/       every kept publication: panorama.duckdb (regulators),
                               public.duckdb (公示), finance_partners.duckdb, operator.duckdb,
                               manifest.json (written last: a version without it is incomplete),
                               exports/<audience>/*.parquet, docs/<audience>/
    versions/.deleting-<name>/ a pruned version on its way out (renamed first, then deleted)
    current                    -> versions/<the version in place>
    panorama.duckdb, public.duckdb, finance_partners.duckdb, operator.duckdb, manifest.json,
    exports/, docs/            -> the same in current/

On the ``spark`` engine (``PANORAMA_ENGINE``) the audited candidate is a folder of Parquet
marts (``<schema>/<table>/*.parquet``): each audience's share is written as Parquet,
``versions/<v>/parquet/<audience>/<schema>/<table>/``, and its DuckDB file is built from those
Parquet files; versions, the ``current`` switch and rollback are the same. ``serving/parquet``
is served through ``current`` while the version in place has one.

A publication writes the whole new version first, then flips ``current`` with one
``os.replace`` of a symlink: every serving path moves to the new version at once, so a reader
sees the old or the new publication, never a mix or a half-written file, even when the
publishing process is killed at any point.

A version is *whole* when its manifest reads and every file the manifest names is there
(:func:`missing_files`). Only whole versions are listed, kept and rolled
back to. Pruning renames a version out of the listing (one atomic rename) before deleting any
of its files, so a prune killed half-way leaves a ``.deleting-`` folder the next publication
removes, never a listed version without its files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panorama import warehouse
from panorama.settings import Settings

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PARQUET = "parquet"  # the audiences' Parquet marts of a publication built on Spark
_VERSION = re.compile(r"^v(\d{4,})_")
DELETING = ".deleting-"
# The data files of a version the manifest records (with their sizes) besides the DuckDB
# files: what readers and rollback need. docs/ is not checked.
_DATA_DIRS = ("exports", PARQUET)
# The working warehouse a run keeps after its publication (staging, intermediate, test failures).
BUILT = "built.duckdb"


def _seq_of(name: str) -> int:
    m = _VERSION.match(name)
    return int(m.group(1)) if m else -1


class VersionNotWhole(RuntimeError):
    """A kept version's manifest names files that are not there (or not whole)."""


@dataclass(frozen=True)
class Version:
    name: str
    path: Path

    @property
    def seq(self) -> int:
        return _seq_of(self.name)

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))


def missing_files(path: Path) -> list[str]:
    """What keeps the version folder ``path`` from being whole: its manifest when unreadable,
    else each file the manifest names that is not there. Empty when the version is whole
    (servable). Sizes are recorded but not compared: a reader opening a DuckDB file for
    writing may checkpoint it, and that must not make a version disappear."""
    try:
        files = json.loads((path / MANIFEST).read_text(encoding="utf-8"))["files"]
        names = sorted(files)
    except (OSError, ValueError, KeyError, TypeError):
        return [MANIFEST]
    return [rel for rel in names if not (path / rel).is_file()]


def is_whole(path: Path) -> bool:
    return path.is_dir() and not missing_files(path)


def versions_dir(settings: Settings) -> Path:
    return settings.serving_dir / "versions"


def _version_dirs(settings: Settings) -> list[Path]:
    """Every folder named like a version (whole or not), not the ones being deleted."""
    root = versions_dir(settings)
    if not root.exists():
        return []
    return [p for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name)]


def list_versions(settings: Settings) -> list[Version]:
    """Whole versions (see :func:`missing_files`), oldest first."""
    found = [Version(p.name, p) for p in _version_dirs(settings) if is_whole(p)]
    return sorted(found, key=lambda v: v.seq)


def current_manifest(settings: Settings) -> dict[str, Any] | None:
    path = settings.serving_dir / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def baseline_from_manifest(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the audit compares a candidate with: the last publication's counts and grade shares."""
    if not manifest:
        return None
    return {
        "row_counts": manifest.get("row_counts", {}),
        "grade_shares": manifest.get("grade_shares", {}),
    }


CURRENT = "current"
# What readers open, each a fixed symlink through ``current``.
SERVED = (*(a.file for a in warehouse.AUDIENCES), MANIFEST, "exports", "docs")
# Served links of older layouts, removed at the next switch.
_RETIRED = ("public",)
# Served only while the version in place has them.
_OPTIONAL = (PARQUET,)


def _atomic_symlink(target: str, link: Path) -> None:
    """Point ``link`` at ``target`` (relative) with one rename; no moment without a link."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    tmp = link.with_name(f".{link.name}.incoming")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.incoming")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _clean_incomplete(settings: Settings) -> None:
    """Remove what an interrupted publication or prune left: temp files, versions without a
    manifest or otherwise not whole (never the one in place), ``.deleting-`` folders."""
    serving = settings.serving_dir
    for leftover in serving.glob(".*.incoming"):
        leftover.unlink(missing_ok=True)
    root = versions_dir(settings)
    if not root.exists():
        return
    current = _current_version_name(settings)
    for p in _version_dirs(settings):
        if p.name != current and not is_whole(p):
            log.warning("removing version %s: not whole (%s)", p.name, ", ".join(missing_files(p)))
            _delete_version(p)
    for p in root.glob(f"{DELETING}*"):
        shutil.rmtree(p, ignore_errors=True)


def _delete_version(path: Path) -> None:
    """Take a version out of the listing with one rename, then delete its files."""
    gone = path.with_name(f"{DELETING}{path.name}")
    if gone.exists():
        shutil.rmtree(gone, ignore_errors=True)
    os.replace(path, gone)
    shutil.rmtree(gone, ignore_errors=True)


def _current_version_name(settings: Settings) -> str | None:
    """The version ``current`` points at (from the link, so a broken manifest cannot hide it)."""
    link = settings.serving_dir / CURRENT
    if link.is_symlink():
        return Path(os.readlink(link)).name
    return (current_manifest(settings) or {}).get("version")


def _grade_shares(db: Path) -> tuple[dict[str, int], dict[str, float]]:
    try:
        rows = warehouse.query(
            db, "select grade, count(*) from risk.fct_risk_grade group by 1 order by 1"
        )
    except Exception:  # a build without grades yet publishes without a distribution
        return {}, {}
    total = sum(n for _, n in rows) or 1
    return {g: n for g, n in rows}, {g: round(n / total, 6) for g, n in rows}


def publish(
    settings: Settings,
    candidate: Path,
    *,
    run_id: str,
    logical_date: str,
    input_manifests: list[dict[str, Any]],
    audit: dict[str, Any],
    docs_dir: Path | None = None,
) -> dict[str, Any]:
    """Publish an audited candidate. Returns the publication manifest."""
    on_parquet = settings.engine == "spark"
    # opening a missing file would create an empty warehouse and publish that
    if not (candidate.is_dir() if on_parquet else candidate.is_file()):
        kind = "Parquet marts folder" if on_parquet else "candidate"
        raise FileNotFoundError(f"no {kind} to publish at {candidate}")
    started = time.monotonic()
    serving = settings.serving_dir
    serving.mkdir(parents=True, exist_ok=True)
    _clean_incomplete(settings)
    if not on_parquet and candidate.with_name(candidate.name + ".wal").exists():
        warehouse.checkpoint(candidate)

    seq = 1 + max((_seq_of(p.name) for p in _version_dirs(settings)), default=0)
    name = f"v{seq:04d}_{logical_date}"
    vdir = versions_dir(settings) / name
    vdir.mkdir(parents=True)

    # 1. Stage the whole version beside the serving files (nobody reads it yet).
    meta = {"version": name, "run_id": run_id, "logical_date": logical_date}
    write = write_parquet_audiences if on_parquet else write_audiences
    served = write(candidate, vdir, input_manifests, meta)
    regulator_db = vdir / warehouse.audience("regulator").file
    counts = {name: w.counts for name, w in served.items()}
    row_counts = counts["regulator"]
    write_docs(vdir, served, docs_dir)
    grade_counts, grade_shares = _grade_shares(regulator_db)
    manifest = {
        "version": name,
        "run_id": run_id,
        "logical_date": logical_date,
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "engine": settings.engine,
        "inputs": input_manifests,
        "row_counts": row_counts,
        "public_row_counts": counts["public"],
        "audiences": {
            a.name: {"file": a.file, "row_counts": counts[a.name]} for a in warehouse.AUDIENCES
        },
        "grade_counts": grade_counts,
        "grade_shares": grade_shares,
        "checks": {
            "passed": audit.get("passed"),
            "dbt": audit.get("dbt_summary"),
            "gx": (audit.get("gx") or {}).get("statistics"),
            "seconds": audit.get("seconds"),
            "accepted": audit.get("accepted"),
        },
        "exports": sorted(f"{a.name}/{t}" for a in warehouse.AUDIENCES for t in counts[a.name]),
        "files": _file_sizes(vdir),
    }
    pg_url = _postgres_url(settings)
    if pg_url:  # loaded and viewed, not yet in place; a failure leaves no whole version
        from panorama.serve import postgres

        pg = postgres.publish_version(pg_url, name, regulator_db, manifest)
        manifest["postgres"] = {"load_seconds": pg["load_seconds"]}
    manifest["stage_seconds"] = round(time.monotonic() - started, 2)
    _write_json(vdir / MANIFEST, manifest)  # the version is complete from here on

    # 2. Swap what readers see, one atomic rename per file; the manifest last.
    _switch_to(settings, Version(name, vdir))
    if pg_url:
        postgres.put_in_place(pg_url, name, settings.keep_versions)
    # the run keeps its whole build (staging, intermediate, test failures) for debugging
    if not on_parquet:  # a Spark build's marts stay where the build wrote them
        os.replace(candidate, candidate.with_name(BUILT))
    manifest["publish_seconds"] = round(time.monotonic() - started, 2)
    _prune(settings)
    log.info(
        "published %s (%d tables) in %.1fs", name, len(row_counts), manifest["publish_seconds"]
    )
    return manifest


def write_audiences(
    candidate: Path,
    vdir: Path,
    input_manifests: list[dict[str, Any]],
    meta: dict[str, str] | None = None,
) -> dict[str, warehouse.Written]:
    """Each audience's fresh DuckDB file and Parquet exports in ``vdir``. The operators' file
    also gets the load accounting of the publication's inputs. Every file carries
    ``panorama_meta.publication`` (version, run id, logical date): what a reader's connection
    reads is the version it sees (not exported, not counted)."""
    tables = warehouse.build_tables(candidate)
    served: dict[str, warehouse.Written] = {}
    for a in warehouse.AUDIENCES:

        def extra(con: Any, audience: str = a.name) -> dict[str, int]:
            if meta:
                _write_meta(con, meta)
            return _write_feed_loads(con, input_manifests) if audience == "operator" else {}

        served[a.name] = warehouse.write_served(
            candidate, vdir / a.file, a.selection(tables), vdir / "exports" / a.name, extra
        )
    return served


def write_parquet_audiences(
    marts: Path,
    vdir: Path,
    input_manifests: list[dict[str, Any]],
    meta: dict[str, str] | None = None,
) -> dict[str, warehouse.Written]:
    """The Spark engine's publication: each audience's share of the Parquet marts under
    ``marts`` (``<schema>/<table>/*.parquet``) copied to ``vdir/parquet/<audience>/<served
    schema>/<table>/``, then its DuckDB file, exports and meta built from those copies, as
    :func:`write_audiences` builds them from a DuckDB candidate."""
    folders = warehouse.parquet_folders(marts)
    if not folders:
        raise FileNotFoundError(f"no Parquet marts (<schema>/<table>/*.parquet) under {marts}")
    tables = list(folders)
    served: dict[str, warehouse.Written] = {}
    for a in warehouse.AUDIENCES:
        copies: dict[tuple[str, str], Path] = {}
        for schema, table, served_schema in a.selection(tables):
            dest = vdir / PARQUET / a.name / served_schema / table
            dest.mkdir(parents=True)
            for part in sorted(folders[(schema, table)].glob("*.parquet")):
                shutil.copyfile(part, dest / part.name)
            copies[(served_schema, table)] = dest
        views = vdir / f".views_{a.name}.duckdb"
        warehouse.parquet_views(views, copies)

        def extra(con: Any, audience: str = a.name) -> dict[str, int]:
            if meta:
                _write_meta(con, meta)
            return _write_feed_loads(con, input_manifests) if audience == "operator" else {}

        try:
            served[a.name] = warehouse.write_served(
                views,
                vdir / a.file,
                [(s, t, s) for s, t in copies],
                vdir / "exports" / a.name,
                extra,
            )
        finally:
            views.unlink(missing_ok=True)
    return served


META_SCHEMA = "panorama_meta"


def _write_meta(con: Any, meta: dict[str, str]) -> None:
    con.execute(f"create schema {META_SCHEMA}")
    con.execute(
        f"create table {META_SCHEMA}.publication "
        "(version varchar, run_id varchar, logical_date varchar)"
    )
    con.execute(
        f"insert into {META_SCHEMA}.publication values (?, ?, ?)",
        [meta["version"], meta["run_id"], meta["logical_date"]],
    )


_LOAD_COLUMNS = ("files", "files_rejected", "rows_read", "rows_kept", "rows_quarantined")


def _write_feed_loads(con: Any, input_manifests: list[dict[str, Any]]) -> dict[str, int]:
    """``operations.feed_loads``: one row per input load manifest (counts only)."""
    rows = []
    for m in input_manifests:
        totals = m.get("totals") or {}
        rows.append(
            (
                str(m.get("feed") or ""),
                str(m.get("load_date") or ""),
                str(m.get("status") or ""),
                *(int(totals.get(c) or m.get(c) or 0) for c in _LOAD_COLUMNS),
            )
        )
    name = f"{warehouse.OPERATIONS_SCHEMA}.feed_loads"
    con.execute(f"create schema if not exists {warehouse.OPERATIONS_SCHEMA}")
    con.execute(
        f"create table {name} (feed varchar, load_date varchar, status varchar, "
        + ", ".join(f"{c} bigint" for c in _LOAD_COLUMNS)
        + ")"
    )
    if rows:
        con.executemany(f"insert into {name} values ({', '.join('?' * 8)})", rows)
    return {name: len(rows)}


def write_docs(vdir: Path, served: dict[str, warehouse.Written], docs_dir: Path | None) -> None:
    """``docs/<audience>/tables.md``: the tables, columns and types each audience reads, with
    the dbt descriptions when the run's docs hold them. The whole dbt and GX docs (every
    model, staging included) are the operators'."""
    descriptions = _dbt_descriptions(docs_dir)
    for a in warehouse.AUDIENCES:
        out = vdir / "docs" / a.name
        out.mkdir(parents=True, exist_ok=True)
        if a.name == "operator" and docs_dir and docs_dir.exists():
            shutil.copytree(docs_dir, out, dirs_exist_ok=True)
        columns = served[a.name].columns
        lines = [
            f"# {a.name}: {a.description}",
            "",
            f"File `{a.file}`, exports `exports/{a.name}/`.",
        ]
        for table, n in served[a.name].counts.items():
            schema, _, name = table.partition(".")
            model = descriptions.get(name, {})
            lines += ["", f"## {table} ({n:,} rows)", "", model.get("description", "").strip()]
            lines += ["", "| column | type | description |", "|---|---|---|"]
            for col, dtype in columns.get(table, []):
                text = " ".join(str(model.get("columns", {}).get(col, "")).split())
                lines.append(f"| {col} | {dtype} | {text} |")
        (out / "tables.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _dbt_descriptions(docs_dir: Path | None) -> dict[str, dict[str, Any]]:
    """Model name -> description and column descriptions, from dbt's manifest.json."""
    path = docs_dir / "manifest.json" if docs_dir else None
    if not path or not path.exists():
        return {}
    try:
        nodes = json.loads(path.read_text(encoding="utf-8")).get("nodes", {})
    except ValueError:
        return {}
    out = {}
    for node in nodes.values():
        if node.get("resource_type") == "model":
            out[node["name"]] = {
                "description": node.get("description") or "",
                "columns": {c: v.get("description") or "" for c, v in node["columns"].items()},
            }
    return out


def _postgres_url(settings: Settings) -> str | None:
    """The PostgreSQL target's URL when one is configured (an Airflow connection)."""
    if not settings.postgres_conn_id:
        return None
    from panorama.serve import postgres

    return postgres.url_from_connection(settings.postgres_conn_id)


def _file_sizes(vdir: Path) -> dict[str, int]:
    """The data files of a staged version and their sizes (what makes it whole)."""
    files = {a.file: (vdir / a.file).stat().st_size for a in warehouse.AUDIENCES}
    for sub in _DATA_DIRS:
        for f in sorted((vdir / sub).rglob("*")):
            if f.is_file():
                files[f.relative_to(vdir).as_posix()] = f.stat().st_size
    return files


def _switch_to(settings: Settings, version: Version) -> None:
    """Flip ``current`` to ``version`` (the one atomic step), then make sure every served path
    is its fixed link through ``current`` (only a serving folder of an older layout, with real
    files in place, needs that)."""
    serving = settings.serving_dir
    _atomic_symlink(os.path.relpath(version.path, serving), serving / CURRENT)
    for name in SERVED + _OPTIONAL:
        link = serving / name
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        if name in _OPTIONAL and not (version.path / name).exists():
            link.unlink(missing_ok=True)
            continue
        _atomic_symlink(f"{CURRENT}/{name}", link)
    for name in _RETIRED:
        if (serving / name).is_symlink():
            (serving / name).unlink()


def _prune(settings: Settings) -> None:
    """Delete the oldest versions beyond the kept number (never the one in place): each leaves
    the listing with one rename before any of its files is deleted."""
    keep = settings.keep_versions
    current = _current_version_name(settings)
    versions = list_versions(settings)
    for v in versions[: max(0, len(versions) - keep)]:
        if v.name != current:
            _delete_version(v.path)


def rollback(settings: Settings, to: str) -> dict[str, Any]:
    """Put a kept version back in place of what is served. Returns its manifest.

    Refuses (``VersionNotWhole``) a version whose files are not all there, and (``KeyError``)
    a name that is not a kept version; what is served is then left as it was."""
    root = versions_dir(settings)
    target = root / to
    if _VERSION.match(to) and target.is_dir() and (missing := missing_files(target)):
        raise VersionNotWhole(
            f"refusing to roll back to {to}: the version is not whole "
            f"(missing or damaged: {', '.join(missing[:10])}); serving is unchanged"
        )
    if (root / f"{DELETING}{to}").exists() and not target.exists():
        raise VersionNotWhole(
            f"refusing to roll back to {to}: the version is being deleted (pruned); "
            "serving is unchanged"
        )
    _clean_incomplete(settings)
    by_name = {v.name: v for v in list_versions(settings)}
    if to not in by_name:
        raise KeyError(f"no kept version {to!r}; kept: {', '.join(by_name) or 'none'}")
    pg_url = _postgres_url(settings)
    if pg_url:
        from panorama.serve import postgres

        postgres.check_loaded(pg_url, to)  # refuses before anything is switched
    _switch_to(settings, by_name[to])
    if pg_url:
        postgres.rollback(pg_url, to)
    log.info("rolled back to %s", to)
    return by_name[to].manifest()

"""Publish an audited candidate: atomic replace of the serving files, kept versions, rollback.

Layout under ``serving/``::

    versions/<vNNNN_ds>/       every kept publication: panorama.duckdb, public.duckdb,
                               manifest.json (written last: a version without it is incomplete),
                               exports/*.parquet, public/*.parquet, docs/
    current                    -> versions/<the version in place>
    panorama.duckdb            -> current/panorama.duckdb   what regulators and BI tools open
    public.duckdb              -> current/public.duckdb     the public dataset (公示)
    manifest.json, exports/, public/, docs/  -> the same in current/

A publication writes the whole new version first, then flips ``current`` with one
``os.replace`` of a symlink: every serving path moves to the new version at once, so a reader
sees the old or the new publication, never a mix or a half-written file, even when the
publishing process is killed at any point.
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
_VERSION = re.compile(r"^v(\d{4,})_")


def keep_versions() -> int:
    return int(os.environ.get("PANORAMA_KEEP_VERSIONS", "7"))


@dataclass(frozen=True)
class Version:
    name: str
    path: Path

    @property
    def seq(self) -> int:
        m = _VERSION.match(self.name)
        return int(m.group(1)) if m else -1

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))


def versions_dir(settings: Settings) -> Path:
    return settings.serving_dir / "versions"


def list_versions(settings: Settings) -> list[Version]:
    """Complete versions (those with a manifest), oldest first."""
    root = versions_dir(settings)
    if not root.exists():
        return []
    found = [Version(p.name, p) for p in root.iterdir() if p.is_dir() and (p / MANIFEST).exists()]
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
SERVED = ("panorama.duckdb", "public.duckdb", MANIFEST, "exports", "public", "docs")


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
    """Remove what an interrupted publication left: temp files and versions without a manifest."""
    serving = settings.serving_dir
    for leftover in serving.glob(".*.incoming"):
        leftover.unlink(missing_ok=True)
    root = versions_dir(settings)
    if root.exists():
        for p in root.iterdir():
            if p.is_dir() and not (p / MANIFEST).exists():
                shutil.rmtree(p, ignore_errors=True)


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
    if not candidate.is_file():  # opening it would create an empty warehouse and publish that
        raise FileNotFoundError(f"no candidate to publish at {candidate}")
    started = time.monotonic()
    serving = settings.serving_dir
    serving.mkdir(parents=True, exist_ok=True)
    _clean_incomplete(settings)
    warehouse.checkpoint(candidate)

    previous = list_versions(settings)
    seq = (previous[-1].seq + 1) if previous else 1
    name = f"v{seq:04d}_{logical_date}"
    vdir = versions_dir(settings) / name
    vdir.mkdir(parents=True)

    # 1. Stage the whole version beside the serving files (nobody reads it yet).
    staged_db = vdir / "panorama.duckdb"
    shutil.move(str(candidate), staged_db)
    row_counts = warehouse.table_counts(staged_db)
    public_counts = warehouse.copy_schemas(
        staged_db, vdir / "public.duckdb", (warehouse.PUBLIC_SCHEMA,)
    )
    exported = warehouse.export_parquet(staged_db, vdir / "exports", warehouse.PUBLISHED_SCHEMAS)
    warehouse.export_parquet(vdir / "public.duckdb", vdir / "public", (warehouse.PUBLIC_SCHEMA,))
    if docs_dir and docs_dir.exists():
        shutil.copytree(docs_dir, vdir / "docs")
    (vdir / "docs").mkdir(exist_ok=True)
    grade_counts, grade_shares = _grade_shares(staged_db)
    manifest = {
        "version": name,
        "run_id": run_id,
        "logical_date": logical_date,
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "inputs": input_manifests,
        "row_counts": row_counts,
        "public_row_counts": public_counts,
        "grade_counts": grade_counts,
        "grade_shares": grade_shares,
        "checks": {
            "passed": audit.get("passed"),
            "dbt": audit.get("dbt_summary"),
            "gx": (audit.get("gx") or {}).get("statistics"),
            "seconds": audit.get("seconds"),
            "accepted": audit.get("accepted"),
        },
        "exports": sorted(exported),
        "files": {
            "panorama.duckdb": staged_db.stat().st_size,
            "public.duckdb": (vdir / "public.duckdb").stat().st_size,
        },
    }
    _write_json(vdir / MANIFEST, manifest)  # the version is complete from here on

    # 2. Swap what readers see, one atomic rename per file; the manifest last.
    _switch_to(settings, Version(name, vdir))
    manifest["publish_seconds"] = round(time.monotonic() - started, 2)
    _prune(settings)
    log.info(
        "published %s (%d tables) in %.1fs", name, len(row_counts), manifest["publish_seconds"]
    )
    return manifest


def _switch_to(settings: Settings, version: Version) -> None:
    """Flip ``current`` to ``version`` (the one atomic step), then make sure every served path
    is its fixed link through ``current`` (only a serving folder of an older layout, with real
    files in place, needs that)."""
    serving = settings.serving_dir
    _atomic_symlink(os.path.relpath(version.path, serving), serving / CURRENT)
    for name in SERVED:
        link = serving / name
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        _atomic_symlink(f"{CURRENT}/{name}", link)


def _prune(settings: Settings) -> None:
    keep = max(1, keep_versions())
    current = (current_manifest(settings) or {}).get("version")
    versions = list_versions(settings)
    for v in versions[: max(0, len(versions) - keep)]:
        if v.name != current:
            shutil.rmtree(v.path, ignore_errors=True)


def rollback(settings: Settings, to: str) -> dict[str, Any]:
    """Put a kept version back in place of what is served. Returns its manifest."""
    _clean_incomplete(settings)
    by_name = {v.name: v for v in list_versions(settings)}
    if to not in by_name:
        raise KeyError(f"no kept version {to!r}; kept: {', '.join(by_name) or 'none'}")
    _switch_to(settings, by_name[to])
    log.info("rolled back to %s", to)
    return by_name[to].manifest()

"""Serving benchmark: publish time and served sizes on a build scaled up from a real one.

A full generate + pipeline at a million entities takes hours on a small machine; publishing
only needs a built candidate. This bench takes a real build (``built.duckdb`` of a published
run, or a candidate), writes a scaled copy of its served schemas (each table ``--scale`` times,
keys made unique per copy, copies interleaved in row-group order), then publishes it
``--versions`` times into a scratch serving folder (and PostgreSQL when ``--postgres-url`` is
given) and reports each served file's size, the kept versions' total and the times.

The copies repeat the real build's values, so text columns compress better than a real
population of that size would: read the sizes as a lower bound.

    panorama bench serving --build data/build/runs/<run>/built.duckdb --scale 667
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from panorama import warehouse

KEYS = ("entity_id", "uscc", "related_entity_id", "history_id", "penalty_id", "listing_id")


def scale_build(build: Path, target: Path, scale: int) -> dict[str, int]:
    """The served schemas of ``build``, each table ``scale`` times, into a new file."""
    target.unlink(missing_ok=True)
    counts = {}
    with warehouse.connect(target, read_only=False) as con:
        con.execute(f"attach '{build}' as src (read_only)")
        rows = con.execute(
            "select table_schema, table_name from information_schema.tables where "
            "table_catalog = 'src' and table_schema in "
            f"({', '.join(repr(s) for s in warehouse.PUBLISHED_SCHEMAS)}) order by 1, 2"
        ).fetchall()
        for schema, table in rows:
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_catalog = "
                    "'src' and table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
            ]
            select = ", ".join(
                f'case when copy_no = 0 then "{c}" else "{c}" || \'~\' || copy_no end as "{c}"'
                if c in KEYS
                else f'"{c}"'
                for c in cols
            )
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(
                f'create table "{schema}"."{table}" as select {select} from '
                f'src."{schema}"."{table}", range({scale}) r(copy_no) order by copy_no'
            )
            counts[f"{schema}.{table}"] = con.execute(
                f'select count(*) from "{schema}"."{table}"'
            ).fetchone()[0]
        con.execute("detach src")
        con.execute("checkpoint")
    return counts


def run(build: Path, scale: int, versions: int, postgres_url: str | None) -> dict[str, Any]:
    from panorama.serve import publish
    from panorama.settings import get_settings

    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    os.environ["PANORAMA_DATA_DIR"] = str(work / "data")
    os.environ["PANORAMA_KEEP_VERSIONS"] = str(versions)
    os.environ.setdefault("AIRFLOW_HOME", str(work / "airflow"))  # connections from the env
    settings = get_settings()
    out: dict[str, Any] = {"build": str(build), "scale": scale, "versions": versions}
    try:
        t0 = time.monotonic()
        scaled = work / "scaled.duckdb"
        counts = scale_build(build, scaled, scale)
        out["scale_seconds"] = round(time.monotonic() - t0, 1)
        out["entities"] = counts.get("entity.dim_entity")
        out["candidate_bytes"] = scaled.stat().st_size
        times, pg_times = [], []
        for i in range(versions):
            cand = work / f"cand{i}.duckdb"
            shutil.copyfile(scaled, cand)
            if postgres_url:
                os.environ["AIRFLOW_CONN_PANORAMA_BENCH_PG"] = postgres_url
                os.environ["PANORAMA_POSTGRES_CONN_ID"] = "panorama_bench_pg"
                settings = get_settings()
            t = time.monotonic()
            m = publish.publish(
                settings,
                cand,
                run_id=f"bench{i}",
                logical_date=f"2026-11-{10 + i:02d}",
                input_manifests=[],
                audit={"passed": True},
            )
            times.append(round(time.monotonic() - t, 1))
            if "postgres" in m:
                pg_times.append(m["postgres"]["load_seconds"])
            (work / "data" / "build" / "runs").mkdir(parents=True, exist_ok=True)
            (cand.with_name(publish.BUILT)).unlink(missing_ok=True)
        out["publish_seconds"] = times
        out["postgres_load_seconds"] = pg_times
        out["files_bytes"] = {k: v for k, v in m["files"].items() if k.endswith(".duckdb")}
        out["exports_bytes"] = sum(v for k, v in m["files"].items() if k.startswith("exports/"))
        kept = publish.versions_dir(settings)
        out["kept_versions"] = len(publish.list_versions(settings))
        out["kept_bytes"] = sum(f.stat().st_size for f in kept.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="panorama bench serving", description=__doc__)
    p.add_argument("--build", type=Path, required=True, help="a built warehouse file")
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--versions", type=int, default=7)
    p.add_argument("--postgres-url", default=None, help="postgres://owner:pw@host:port/db")
    args = p.parse_args(argv)
    print(json.dumps(run(args.build, args.scale, args.versions, args.postgres_url), indent=2))
    return 0

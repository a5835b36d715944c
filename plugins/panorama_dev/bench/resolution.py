"""Benchmark of the probabilistic matching step at city scale.

Builds a candidate-shaped DuckDB file directly (no extraction, no dbt): a register of
``entities`` generated market entities and ``records`` records without identifiers, about
85 % complaint-like (the name a consumer writes, the address, the division), 13 %
department-like (the registered name only) and 2 % about unlicensed vendors. Then runs
:func:`panorama.build.resolution.match_unresolved` in a child process and reports its seconds, its
peak RSS and its precision and recall on these records.

    PYTHONPATH=plugins .venv/bin/python -m panorama_dev.bench.resolution --entities 1000000

``--engine spark`` runs Splink on its Spark backend (a local session on
``PANORAMA_SPARK_MASTER``); ``peak_tree_mb`` is then the largest resident set of the matcher
and its Spark JVM together.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 11, 24)
CHUNK = 5_000
DEFAULT_DIR = Path("/tmp/panorama-bench-resolution")


def build_candidate(db: Path, entities: int, records: int, seed: int) -> dict[str, int]:
    """Write the three tables the matcher reads into ``db`` (replaced)."""
    import duckdb
    import pyarrow as pa

    from panorama_dev.synth import events, names, vocab
    from panorama_dev.synth.population import make_chunk

    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_resolution__registry (entity_id varchar, uscc varchar, "
        "entity_name varchar, address varchar, division_code varchar, legal_rep varchar)"
    )
    con.execute(
        "create table intermediate.int_resolution__candidates_unmatched (record_id varchar, "
        "record_kind varchar, party_name varchar, name_key varchar, address varchar, "
        "division_code varchar, legal_rep varchar, uscc varchar, unresolved_reason varchar, "
        "true_entity_id varchar)"
    )
    rng = random.Random(seed)
    per_entity = records / entities
    n_records = 0
    for chunk, start in enumerate(range(0, entities, CHUNK)):
        population = make_chunk(seed, chunk, start, min(CHUNK, entities - start), AS_OF)
        reg = {
            k: []
            for k in ("entity_id", "uscc", "entity_name", "address", "division_code", "legal_rep")
        }
        rec: dict[str, list[Any]] = {
            k: []
            for k in (
                "record_id",
                "record_kind",
                "party_name",
                "name_key",
                "address",
                "division_code",
                "legal_rep",
                "uscc",
                "unresolved_reason",
                "true_entity_id",
            )
        }
        for e in population:
            for k, v in (
                ("entity_id", e.uscc),
                ("uscc", e.uscc),
                ("entity_name", e.name),
                ("address", e.address),
                ("division_code", e.division.code),
                ("legal_rep", e.legal_rep.name),
            ):
                reg[k].append(v)
            count = int(per_entity) + (1 if rng.random() < per_entity % 1 else 0)
            for _ in range(count):
                n_records += 1
                x = rng.random()
                if x < 0.02:  # an unlicensed vendor somewhere in the city
                    division = rng.choice(vocab.DIVISIONS)
                    row = (
                        f"{rng.choice(vocab.SHOP_PREFIXES)}小吃摊",
                        "complaint",
                        names.address(rng, division),
                        division.code,
                        None,
                    )
                elif x < 0.15:  # a department record that lost its code
                    row = (e.name, "abnormal_list", None, None, e.uscc)
                else:
                    shop, _ = events.complaint_name(rng, e)
                    address = e.address
                    if rng.random() < 0.4:
                        address = address.removeprefix("山东省").removeprefix("德州市")
                    row = (shop, "complaint", address, e.division.code, e.uscc)
                name, kind, address, division, truth = row
                for k, v in (
                    ("record_id", f"r{n_records:09d}"),
                    ("record_kind", kind),
                    ("party_name", name),
                    ("name_key", name),
                    ("address", address),
                    ("division_code", division),
                    ("legal_rep", None),
                    ("uscc", None),
                    ("unresolved_reason", "no_identifier"),
                    ("true_entity_id", truth),
                ):
                    rec[k].append(v)
        reg_t, rec_t = pa.table(reg), pa.table(rec)  # noqa: F841 - read by DuckDB by name
        con.execute("insert into intermediate.int_resolution__registry select * from reg_t")
        con.execute(
            "insert into intermediate.int_resolution__candidates_unmatched select * from rec_t"
        )
    con.execute(
        "create table intermediate.int_resolution__entity_names as select entity_id, "
        "entity_name as name_key, 'current' as name_source "
        "from intermediate.int_resolution__registry"
    )
    con.close()
    return {"entities": entities, "records": n_records}


_CHILD = """
import json, resource, sys
from pathlib import Path
from panorama.build.resolution import match_unresolved
db, out, model, seed, threads, engine = sys.argv[1:7]
r = match_unresolved(Path(db), Path(out), Path(model), seed=int(seed),
                     threads=int(threads) or None, engine=engine)
r["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
if engine == "spark":  # end the JVM and wait for it: its CPU time is then counted
    from pyspark import SparkContext
    gateway = SparkContext._gateway
    SparkContext._active_spark_context.stop()
    gateway.shutdown()
    gateway.proc.stdin.close()
    gateway.proc.wait()
print(json.dumps(r))
"""


def run_matcher(
    db: Path, work: Path, seed: int, threads: int = 0, engine: str = "duckdb"
) -> dict[str, Any]:
    """match_unresolved in a child process, so its peak RSS is its own."""
    from panorama_dev.bench.pipeline import PeakMemory

    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = before.ru_utime + before.ru_stime
    # the Spark session's warehouse and checkpoints go under the work folder
    env = {**os.environ, "PANORAMA_DATA_DIR": str(work / "data")}
    with PeakMemory() as tree:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(db),
                str(work / "resolution"),
                str(work / "model"),
                str(seed),
                str(threads),
                engine,
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"matcher failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["peak_tree_mb"] = tree.peak_mib
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the matcher and its children (the Spark JVM): what a loaded machine does
    # not inflate, unlike wall time
    result["cpu_seconds"] = round(used.ru_utime + used.ru_stime - cpu_before, 1)
    return result


def accuracy(db: Path, matches: Path, threshold: float = 0.9) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        n, links, correct, truly = con.execute(
            f"""select count(*),
                count(m.entity_id) filter (where m.match_probability >= {threshold}),
                count(*) filter (where m.match_probability >= {threshold}
                                 and m.entity_id = c.true_entity_id),
                count(c.true_entity_id)
            from intermediate.int_resolution__candidates_unmatched as c
            left join read_parquet('{matches}') as m using (record_id)"""
        ).fetchone()
    return {
        "records": n,
        "links": links,
        "precision": round(correct / links, 6) if links else None,
        "recall": round(correct / truly, 6) if truly else None,
    }


def main(
    entities: int = 1_000_000,
    records: int | None = None,
    work_dir: Path = DEFAULT_DIR,
    seed: int = 7,
    threads: int = 0,
    keep: bool = False,
    engine: str = "duckdb",
) -> dict[str, Any]:
    work_dir = Path(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    db = work_dir / "candidate.duckdb"
    started = time.perf_counter()
    sizes = build_candidate(db, entities, records or entities, seed)
    build_seconds = round(time.perf_counter() - started, 1)
    result = run_matcher(db, work_dir, seed, threads, engine)
    report = {
        "engine": engine,
        **sizes,
        "build_seconds": build_seconds,
        "match_seconds": result["seconds"]["total"],
        "match_wall_seconds": result["wall_seconds"],
        "match_steps": result["seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "peak_tree_mb": result["peak_tree_mb"],
        "cpu_seconds": result["cpu_seconds"],
        "candidate_pairs": result["candidate_pairs"],
        "linked": result["above_threshold"],
        "review": result["review"],
        "accuracy": accuracy(db, Path(result["matches_path"])),
        "children_max_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }
    if not keep:
        shutil.rmtree(work_dir, ignore_errors=True)
    return report


def cli(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entities", type=int, default=1_000_000)
    p.add_argument("--records", type=int, default=None)
    p.add_argument("--work-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    a = p.parse_args(argv)
    print(
        json.dumps(
            main(a.entities, a.records, a.work_dir, a.seed, a.threads, a.keep, a.engine),
            indent=1,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    cli()

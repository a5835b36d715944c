"""Benchmark of the whole pipeline on a generated population: each stage timed on its own.

    python -m panorama bench pipeline --entities 1000000 --runs 1 [--engine spark]

generate -> extract (every feed, in this process) -> build (build_identity + resolve (Splink) +
the rest of the dbt build) -> audit (dbt test + GX checkpoint) -> publish. The stages after
extract run ``--runs`` times on the same raw zone (each run copies the previous publication, as
the DAG does); medians are reported with the audit/build ratio (the gate's target: <= 20 %).
Figures go to stdout and to ``<dir>/bench_pipeline.json``.

    python -m panorama bench pipeline --entities 100000 --days 3

A growth benchmark instead: a full first day (every delivery of the generated world landed and
built), then ``--days`` following days, each with one day of deliveries
(:mod:`panorama_dev.synth.daily`: new penalties, licences, complaints and changes, a fresh full
registration list), each day timed whole (extract + build + audit + publish) and by stage. The
last line reads ``days: <s1> <s2> ... <sN+1>`` (seconds per day, the full first day first).

``--engine`` (default ``PANORAMA_ENGINE``) runs the stages after extract on DuckDB or on Spark
(a local session on ``PANORAMA_SPARK_MASTER``); each stage reports its peak memory: the
largest resident set of this process and all its children (dbt, the Spark JVM) while it ran,
sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import threading
import time
from pathlib import Path
from typing import Any


def _rss_mib(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def _timed(fn, *args, **kwargs) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, round(time.monotonic() - started, 2)


class PeakMemory:
    """Largest resident set (MiB) of this process plus its children while in the block."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak_mib = every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            total = 0
            for proc in (me, *me.children(recursive=True)):
                try:
                    total += proc.memory_info().rss
                except psutil.Error:  # a child that just ended
                    pass
            self.peak_mib = max(self.peak_mib, round(total / 2**20, 1))
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(
    entities: int, runs: int, base_dir: Path, seed: int, ds: str, engine: str | None = None
) -> dict[str, Any]:
    from panorama import pipeline, warehouse
    from panorama.settings import get_settings

    from panorama_dev.local_platform import ensure_generated, extract_all, forget_landed

    settings = get_settings()
    engine = engine or settings.engine
    # one raw zone per population, whatever the engine; each engine its own build and serving
    data_dir = (base_dir / f"n{entities}").resolve()
    settings = dataclasses.replace(settings, data_dir=data_dir, engine=engine)
    result: dict[str, Any] = {
        "entities": entities,
        "engine": engine,
        "runs": runs,
        "ds": ds,
        "seed": seed,
    }
    generated, seconds = _timed(ensure_generated, settings.data_dir, entities, seed, ds)
    result["generate_s"] = seconds if generated else "reused"
    forget_landed(settings.data_dir)  # reused deliveries would land as a no-op: time a landing
    manifests, result["extract_s"] = _timed(extract_all, settings, ds, "bench")
    totals = [m["totals"] for m in manifests]
    result["records_read"] = sum(t["rows_read"] for t in totals)
    result["records_kept"] = sum(t["rows_kept"] for t in totals)
    result["extract_rows_per_s"] = round(result["records_read"] / max(result["extract_s"], 1e-9))

    stages: dict[str, list[float]] = {
        "build_identity": [],
        "resolve": [],
        "build_rest": [],
        "build": [],
        "audit": [],
        "publish": [],
    }
    peaks: dict[str, float] = {}

    def stage(name: str, fn, *args) -> float:
        with PeakMemory() as mem:
            _, t = _timed(fn, *args)
        peaks[name] = max(peaks.get(name, 0.0), mem.peak_mib)
        stages[name].append(t)
        return t

    for i in range(runs):
        run_id = f"bench-{engine}-{i}"
        t1 = stage("build_identity", pipeline.build_identity, ds, run_id, settings)
        t2 = stage("resolve", pipeline.resolve, ds, run_id, settings)
        t3 = stage("build_rest", pipeline.build, ds, run_id, settings)
        stages["build"].append(round(t1 + t2 + t3, 2))
        stage("audit", pipeline.audit, ds, run_id, settings)
        stage("publish", pipeline.publish, ds, run_id, manifests, settings)
        print(f"  run {i + 1}/{runs}: " + ", ".join(f"{k} {v[-1]}s" for k, v in stages.items()))
    for name, values in stages.items():
        result[f"{name}_s_median"] = round(statistics.median(values), 2)
        result[f"{name}_s_all"] = values
    result["audit_share_of_build"] = round(result["audit_s_median"] / result["build_s_median"], 3)
    result["serving_mib"] = round(settings.serving_path.stat().st_size / 2**20, 1)
    result["row_counts"] = warehouse.table_counts(settings.serving_path)
    result["peak_mib_by_stage"] = peaks
    result["peak_rss_mib_self"] = _rss_mib(resource.RUSAGE_SELF)
    result["peak_rss_mib_children"] = _rss_mib(resource.RUSAGE_CHILDREN)
    return result


def _day(
    ds: str, run_id: str, settings, *, full_refresh: bool = False
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Land what ``ds`` brings and build, audit and publish it; each stage timed."""
    from panorama import pipeline

    from panorama_dev.local_platform import extract_all

    times: dict[str, float] = {}
    manifests, times["extract"] = _timed(extract_all, settings, ds, run_id)
    refresh = {"full_refresh": True} if full_refresh else {}
    _, times["build_identity"] = _timed(pipeline.build_identity, ds, run_id, settings, **refresh)
    _, times["resolve"] = _timed(pipeline.resolve, ds, run_id, settings)
    _, times["build_rest"] = _timed(pipeline.build, ds, run_id, settings)
    _, times["audit"] = _timed(pipeline.audit, ds, run_id, settings)
    _, times["publish"] = _timed(pipeline.publish, ds, run_id, manifests, settings)
    times["day"] = round(sum(times.values()), 2)
    return manifests, times


def run_days(
    entities: int, days: int, base_dir: Path, seed: int, ds: str, full_refresh: bool = False
) -> dict[str, Any]:
    """A full first day on ``ds``, then ``days`` following days of daily deliveries."""
    import datetime as dt
    import shutil

    from panorama.settings import get_settings

    from panorama_dev.local_platform import ensure_generated, forget_landed
    from panorama_dev.synth import daily

    settings = dataclasses.replace(get_settings(), data_dir=(base_dir / f"n{entities}").resolve())
    result: dict[str, Any] = {"entities": entities, "days": days, "ds": ds, "seed": seed}
    generated, seconds = _timed(ensure_generated, settings.data_dir, entities, seed, ds)
    result["generate_s"] = seconds if generated else "reused"
    daily.forget_days(settings.data_dir)
    forget_landed(settings.data_dir)
    for sub in ("serving", "build"):  # a first day starts from nothing published
        shutil.rmtree(settings.data_dir / sub, ignore_errors=True)
    first = dt.date.fromisoformat(ds)
    per_day = []
    for k in range(days + 1):
        day = first + dt.timedelta(days=k)
        delivered = daily.write_day(settings.data_dir, day, seed) if k else {}
        _, times = _day(day.isoformat(), f"bench-day-{k}", settings, full_refresh=full_refresh)
        per_day.append({"ds": day.isoformat(), "delivered": delivered, **times})
        print(
            f"  day {k + 1}/{days + 1} ({day}): " + ", ".join(f"{n} {t}s" for n, t in times.items())
        )
    result["per_day"] = per_day
    result["day_s"] = [d["day"] for d in per_day]
    if days:
        following = result["day_s"][1:]
        result["following_day_s_median"] = round(statistics.median(following), 2)
        result["following_share_of_first"] = round(
            result["following_day_s_median"] / result["day_s"][0], 3
        )
    result["peak_rss_mib_self"] = _rss_mib(resource.RUSAGE_SELF)
    result["peak_rss_mib_children"] = _rss_mib(resource.RUSAGE_CHILDREN)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m panorama bench pipeline")
    p.add_argument("--entities", type=int, nargs="+", default=[100_000])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=20240101)
    p.add_argument("--date", default="2026-11-25")
    p.add_argument("--dir", type=Path, default=Path("/tmp/panorama-bench"))
    p.add_argument(
        "--days",
        type=int,
        default=None,
        help="growth benchmark: a full first day, then N days of daily deliveries",
    )
    p.add_argument(
        "--full-refresh", action="store_true", help="with --days: rebuild every day from scratch"
    )
    p.add_argument(
        "--engine", choices=["duckdb", "spark"], help="default: PANORAMA_ENGINE (duckdb)"
    )
    args = p.parse_args(argv)
    if args.days is not None:
        return _main_days(args)
    report = []
    for n in args.entities:
        print(f"pipeline benchmark: {n:,} entities, {args.runs} run(s) of build/audit/publish")
        r = run(n, args.runs, args.dir, args.seed, args.date, args.engine)
        report.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "row_counts"}, indent=2))
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "bench_pipeline.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def _main_days(args: argparse.Namespace) -> int:
    report = []
    line = ""
    for n in args.entities:
        print(f"pipeline growth benchmark: {n:,} entities, a full day then {args.days} day(s)")
        r = run_days(n, args.days, args.dir, args.seed, args.date, args.full_refresh)
        report.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "per_day"}, indent=2))
        line = "days: " + " ".join(f"{s:.2f}" for s in r["day_s"])
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "bench_pipeline_days.json").write_text(json.dumps(report, indent=2), "utf-8")
    print(line)
    return 0

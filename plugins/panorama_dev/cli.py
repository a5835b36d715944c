"""Development commands of ``panorama``, registered through the ``panorama.commands`` entry
points (see pyproject.toml): each ``add_*`` function adds one subcommand.

demo        generate the Dezhou demo deliveries and run the credit_panorama DAG through Airflow
generate    write synthetic department deliveries and their ground truth
airflow     start a local Airflow (UI + scheduler) on these DAGs; Ctrl-C stops it all
bench       benchmarks: extract [ROWS] | pipeline [...] | resolution [...]
quality     scores against the generator's ground truth: grading [...]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from panorama.cli import DEFAULT_SEED, default_ds
from panorama.settings import get_settings


def cmd_generate(args: argparse.Namespace) -> int:
    from panorama_dev.synth import generate

    settings = get_settings()
    out = Path(args.out) if args.out else settings.data_dir
    summary = generate(
        out, entities=args.entities, seed=args.seed, as_of=date.fromisoformat(args.date)
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    return 0


def run_dag_once(ds: str, log_path: Path, conf: dict | None = None) -> tuple[int, list]:
    """Run credit_panorama for ``ds`` through Airflow with the demo exchange platform up."""
    from panorama_dev import airflow_env as af
    from panorama_dev.local_platform import exchange_platform

    settings = get_settings()
    with exchange_platform(settings):
        env = af.airflow_env(settings)
        proc = af.dags_test("credit_panorama", ds, env, log_path=log_path, conf=conf)
    return proc.returncode, af.task_durations(env, "credit_panorama", ds)


def cmd_demo(args: argparse.Namespace) -> int:
    from panorama import warehouse

    from panorama_dev.local_platform import ensure_generated

    settings = get_settings()
    ds = args.date
    started = time.monotonic()
    print(f"demo deliveries: {args.entities:,} entities, seed {args.seed}, as of {ds}")
    t0 = time.monotonic()
    if ensure_generated(settings.data_dir, args.entities, args.seed, ds):
        print(f"  generated in {time.monotonic() - t0:.1f}s into {settings.landing_dir}")
    else:
        print(f"  already in {settings.landing_dir}")
    log_path = settings.data_dir / "logs" / f"credit_panorama_{ds}.log"
    print(f"running DAG credit_panorama for {ds} through Airflow (log: {log_path}) ...")
    code, durations = run_dag_once(ds, log_path)
    for task_id, map_index, seconds in durations:
        label = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        print(f"  {label:<28} {seconds:7.1f}s")
    if code != 0:
        print(f"the DAG run failed (exit {code}); see {log_path}", file=sys.stderr)
        _print_tail(log_path)
        return code
    _print_accounting(settings)
    print(f"\nserving file: {settings.serving_path}")
    for table, n in warehouse.table_counts(settings.serving_path).items():
        print(f"  {table:<45} {n:>10,}")
    print(f"public dataset: {settings.public_path}")
    print(f"total wall time {time.monotonic() - started:.1f}s")
    return 0


def _print_accounting(settings) -> None:
    """Rows read = kept + quarantined (+ rows of files rejected whole), per feed, from the
    published load manifests."""
    from panorama.serve import publish

    manifest = publish.current_manifest(settings) or {}
    print(
        f"\n  {'feed':<28} {'read':>10} {'kept':>10} {'quarantined':>12} "
        f"{'files rejected':>15} {'their rows':>10} {'fields nulled':>14}"
    )
    for m in manifest.get("inputs", []):
        t = m["totals"]
        rejected = t.get("rows_rejected", 0)
        balanced = t["rows_read"] == t["rows_kept"] + t["rows_quarantined"] + rejected
        ok = "" if balanced else "  MISMATCH"
        print(
            f"  {m['feed']:<28} {t['rows_read']:>10,} {t['rows_kept']:>10,} "
            f"{t['rows_quarantined']:>12,} {t['files_rejected']:>15} {rejected:>10,} "
            f"{t.get('fields_nulled', 0):>14,}{ok}"
        )
    print(f"  quarantine: {settings.quarantine_dir}")


def _print_tail(path: Path, lines: int = 40) -> None:
    if path.exists():
        print(
            "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]),
            file=sys.stderr,
        )


def cmd_airflow(args: argparse.Namespace) -> int:
    """``airflow standalone`` in its own process group, stopped as a whole on Ctrl-C."""
    from panorama_dev import airflow_env as af

    env = af.airflow_env()
    env["AIRFLOW__API__PORT"] = str(args.port)
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")  # a local tool: not on every interface
    af.ensure_db(env)
    # Ctrl-C or a SIGTERM to this process stops the whole standalone process group.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    proc = subprocess.Popen([af.airflow_bin(), "standalone"], env=env, start_new_session=True)
    home = Path(env["AIRFLOW_HOME"])
    print(f"Airflow starting at http://localhost:{args.port} (AIRFLOW_HOME={home})")
    print(
        f"login: user 'admin', password in {home / 'simple_auth_manager_passwords.json.generated'}"
    )
    print("Ctrl-C stops the API server, scheduler, DAG processor and triggerer together.")
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return _stop_group(proc)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stop_group(proc: subprocess.Popen, grace: float = 15.0) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return 0
        try:
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmarks live in their own modules, each with its own options."""
    if args.what == "extract":
        from panorama_dev.bench.extract import main as bench_extract

        bench_extract(rows=int(args.rest[0]) if args.rest else 1_000_000)
        return 0
    if args.what == "resolution":
        from panorama_dev.bench.resolution import cli as bench_resolution

        bench_resolution(args.rest)
        return 0
    from panorama_dev.bench.pipeline import main as bench_pipeline

    return bench_pipeline(args.rest)


def cmd_quality(args: argparse.Namespace) -> int:
    from panorama_dev.quality.grading import main as grading_quality

    return grading_quality(args.rest)


def add_generate(sub) -> None:
    g = sub.add_parser("generate", help="write synthetic department deliveries")
    g.add_argument("--entities", type=int, default=20_000)
    g.add_argument("--seed", type=int, default=DEFAULT_SEED)
    g.add_argument("--date", default=default_ds(), help="as-of date of the deliveries (YYYY-MM-DD)")
    g.add_argument("--out", help="data dir to write into (default: PANORAMA_DATA_DIR or data/)")
    g.set_defaults(func=cmd_generate)


def add_demo(sub) -> None:
    d = sub.add_parser("demo", help="generate demo deliveries and run the DAG through Airflow")
    d.add_argument("--entities", type=int, default=20_000)
    d.add_argument("--seed", type=int, default=DEFAULT_SEED)
    d.add_argument("--date", default=default_ds(), help="logical date (default: yesterday)")
    d.set_defaults(func=cmd_demo)


def add_airflow(sub) -> None:
    a = sub.add_parser("airflow", help="start a local Airflow on these DAGs")
    a.add_argument("--port", type=int, default=8080)
    a.set_defaults(func=cmd_airflow)


def add_bench(sub) -> None:
    b = sub.add_parser(
        "bench", help="benchmarks: extract [ROWS] | pipeline [--entities N ...] | resolution [...]"
    )
    b.add_argument("what", choices=["extract", "pipeline", "resolution"])
    b.add_argument("rest", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_bench)


def add_quality(sub) -> None:
    q = sub.add_parser("quality", help="grading quality against the ground truth [--help]")
    q.add_argument("rest", nargs=argparse.REMAINDER)
    q.set_defaults(func=cmd_quality)

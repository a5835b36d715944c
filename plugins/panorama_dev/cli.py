"""Development commands of ``panorama``, registered through the ``panorama.commands`` entry
points (see pyproject.toml): each ``add_*`` function adds one subcommand.

demo        generate the Dezhou demo deliveries and run the credit_panorama DAG through Airflow
generate    write synthetic department deliveries and their ground truth
airflow     start a supervised local Airflow on these DAGs; Ctrl-C stops it all
bench       benchmarks: extract [ROWS] | pipeline [...] | resolution [...] | serve [...] |
            serving [...]
quality     scores against the generator's ground truth: grading [...]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
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
    print("served per audience (data/serving/; staging and intermediate stay in the run folder):")
    for audience in warehouse.AUDIENCES:
        path = settings.serving_dir / audience.file
        tables = warehouse.list_tables(path, audience.schemas)
        print(
            f"  {audience.name:<10} {path.name:<24} {path.stat().st_size / 2**20:8.1f} MiB"
            f"  {len(tables)} tables"
        )
    print("\n".join(public_record_summary(settings)))
    counts = warehouse.table_counts(settings.public_path)
    print(
        f"credit codes: {counts.get('public_record.pub_credit_code', 0):,} entities, "
        f"{counts.get('public_record.pub_model_shop', 0):,} model shops; "
        "serve them with `.venv/bin/panorama serve` (http://127.0.0.1:8300/)"
    )
    _print_spot_checks(settings)
    _print_grading(settings)
    _print_engine(settings)
    print(f"total wall time {time.monotonic() - started:.1f}s")
    return 0


def _print_engine(settings) -> None:
    """The engine that built the publication (PANORAMA_ENGINE) and, on Spark, its Parquet marts
    per audience."""
    from panorama.serve import publish

    manifest = publish.current_manifest(settings) or {}
    print(f"engine: {manifest.get('engine', 'duckdb')} (PANORAMA_ENGINE)")
    marts = settings.serving_dir / publish.PARQUET
    for folder in sorted(p for p in marts.glob("*") if p.is_dir()):
        files = list(folder.rglob("*.parquet"))
        size = sum(f.stat().st_size for f in files) / 2**20
        tables = len({f.parent for f in files})
        print(f"  Parquet marts {folder.name:<10} {tables:3d} tables {size:8.1f} MiB")


def public_record_summary(settings) -> list[str]:
    """The public tables' row counts and the public-record facts not shown on the as-of date
    (out of term, ended by credit repair, never published), from the served files."""
    from panorama import warehouse

    counts = warehouse.table_counts(settings.public_path, (warehouse.PUBLIC_SCHEMA,))
    lines = [f"  {table:<45} {n:>10,}" for table, n in sorted(counts.items())]
    states = warehouse.query(
        settings.serving_path,
        "select publicity_state, sum(records) from entity.rpt_public_record_terms "
        "group by publicity_state order by publicity_state",
    )
    by_state = {state: int(n) for state, n in states}
    for label, state in (
        ("out of term", "out_of_term"),
        ("ended early by credit repair", "ended_by_repair"),
        ("never published (warning only)", "not_published"),
    ):
        lines.append(f"  {label:<45} {by_state.get(state, 0):>10,}")
    return lines


def _print_spot_checks(settings) -> None:
    """The spot-check plan, its completion report and the listing proposals (aggregates)."""
    from panorama.supervision.report import summary_lines

    print()
    print("\n".join(summary_lines(settings.serving_path)))


def _print_grading(settings) -> None:
    """The grades judged by the spot checks of the last four quarters (internal figures)."""
    from panorama.grading import GradingEvaluationError, evaluate
    from panorama.pipeline import served_build

    try:
        final = evaluate(served_build(settings) or settings.serving_path)["models"]["final"]
    except GradingEvaluationError as exc:
        print(f"grading evaluate: {exc}")
        return
    rates = " / ".join(
        "-" if final["by_grade"][g]["rate"] is None else f"{final['by_grade'][g]['rate']:.1%}"
        for g in "ABCD"
    )
    print(
        f"grades vs spot checks (panorama grading evaluate): {final['checks']} checks, "
        f"AUC {final['auc']}, problem rate A/B/C/D {rates}"
    )


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
    """A local Airflow on these DAGs with everything the embedded defaults need, supervised.

    Brings up the stand-in exchange platform and the connections ``exchange_platform`` and
    ``court_db`` (as ``AIRFLOW_CONN_*`` variables of the components), generates deliveries when
    the landing zone is empty, creates the writer pool, then starts the API server, scheduler,
    DAG processor and triggerer (LocalExecutor), each logging to ``$AIRFLOW_HOME/logs/stack/``.
    A component that exits is reported (which, how, its last lines) and the rest are stopped;
    Ctrl-C or SIGTERM stops them all (SIGKILL after ``--grace`` seconds). Returns 0 after a
    requested stop, 1 when a component died.
    """
    from panorama_dev import airflow_env as af
    from panorama_dev.airflow_api import AirflowApi
    from panorama_dev.local_platform import (
        COURT_CONN_ENV,
        EXCHANGE_CONN_ENV,
        court_db_uri,
        ensure_generated,
        exchange_platform,
    )
    from panorama_dev.supervisor import Component, Supervisor

    settings = get_settings()
    if not any(settings.landing_dir.glob("*")):
        ds = default_ds()
        print(f"{settings.landing_dir} is empty: generating {args.entities:,} entities as of {ds}")
        ensure_generated(settings.data_dir, args.entities, args.seed, ds)
    env = af.stack_env(af.airflow_env(settings), args.port, args.host, not args.no_schedule)
    home = Path(env["AIRFLOW_HOME"])
    print(f"preparing the metadata DB and the pool {af.WRITER_POOL!r} in {home} ...", flush=True)
    af.ensure_db(env)
    af.ensure_pool(env)

    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        if stop.is_set():
            print(f"already stopping (SIGKILL after {args.grace:.0f}s)", file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    faults = {int(k): v for k, v in json.loads(args.exchange_faults).items()}
    with exchange_platform(settings, faults=faults) as exchange_uri:
        env[EXCHANGE_CONN_ENV] = exchange_uri
        env[COURT_CONN_ENV] = court_db_uri(settings)
        sup = Supervisor(
            [Component(name, af.component_argv(name, env)) for name in af.COMPONENTS],
            env,
            home / "logs" / "stack",
            grace=args.grace,
            echo=sys.stdout if args.verbose else None,
        )
        sup.start()
        print(f"started {', '.join(af.COMPONENTS)}; their output: {sup.log_dir}", flush=True)
        exited = _watch(sup, AirflowApi(f"http://{args.host}:{args.port}"), stop, home)
        if exited is not None:
            sup.report(exited)
        print("stopping every component ...", flush=True)
        killed = sup.stop()
        if killed:
            print(f"killed after {args.grace:.0f}s: {', '.join(killed)}", flush=True)
    print("stopped: no component left", flush=True)
    return 1 if exited is not None else 0


def _watch(sup, api, stop: threading.Event, home: Path):
    """Wait for a stop request or a component's exit (returned); say when the UI is up."""
    ready = False
    while not stop.is_set():
        if (exited := sup.poll()) is not None:
            return exited
        if not ready and api.healthy():
            ready = True
            passwords = home / "simple_auth_manager_passwords.json.generated"
            print(f"Airflow is up at {api.base_url}", flush=True)
            print(f"login: user 'admin', password in {passwords}", flush=True)
            print("Ctrl-C stops the API server, scheduler, DAG processor and triggerer.")
        stop.wait(0.5)
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmarks live in their own modules, each with its own options."""
    if args.what == "extract":
        from panorama_dev.bench.extract import main as bench_extract

        bench_extract(rows=int(args.rest[0]) if args.rest else 1_000_000)
        return 0
    if args.what == "serve":
        from panorama_dev.bench.serve import main as bench_serve

        return bench_serve(args.rest)
    if args.what == "resolution":
        from panorama_dev.bench.resolution import cli as bench_resolution

        bench_resolution(args.rest)
        return 0
    if args.what == "serving":
        from panorama_dev.bench.serving import cli as bench_serving

        return bench_serving(args.rest)
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
    a.add_argument("--host", default="127.0.0.1", help="interface of the UI and API")
    a.add_argument("--grace", type=float, default=20.0, help="seconds before SIGKILL on stop")
    a.add_argument("--verbose", action="store_true", help="copy the components' output here")
    a.add_argument(
        "--no-schedule", action="store_true", help="run triggered runs only (no cron runs)"
    )
    a.add_argument("--entities", type=int, default=20_000, help="if landing/ is empty")
    a.add_argument("--seed", type=int, default=DEFAULT_SEED, help="if landing/ is empty")
    a.add_argument(
        "--exchange-faults",
        default="{}",
        help="errors the stand-in exchange platform answers per page, e.g. '{\"1\": [500, 500]}'",
    )
    a.set_defaults(func=cmd_airflow)


def add_bench(sub) -> None:
    b = sub.add_parser(
        "bench",
        help="benchmarks: extract [ROWS] | pipeline [--entities N ...] | resolution [...] | "
        "serve [--clients N --seconds S] | serving [--build FILE --scale N]",
    )
    b.add_argument("what", choices=["extract", "pipeline", "resolution", "serve", "serving"])
    b.add_argument("rest", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_bench)


def add_quality(sub) -> None:
    q = sub.add_parser("quality", help="grading quality against the ground truth [--help]")
    q.add_argument("rest", nargs=argparse.REMAINDER)
    q.set_defaults(func=cmd_quality)

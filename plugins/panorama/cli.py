"""The ``panorama`` command (also ``python -m panorama``); the Makefile wraps the common ones.

Operations on a deployment:

extract     land one feed for a logical date (what the DAG's extract task does)
status      what is published: version, each audience's file, tables and row counts
versions    kept publications
rollback    serve a kept version again
serve       the credit code (信用码) service on the public dataset
spot-check  verify a spot-check plan's draw from its stored snapshot and seed;
            report a plan's completion, workload, problem rate and listing proposals
grading     evaluate the risk models against spot-check outcomes; propose thresholds

Development commands (demo, generate, airflow, bench, quality) come from the
``panorama.commands`` entry points that the development package registers; a deployment
without it lists only the commands above.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path

from panorama.settings import Settings, get_settings

DEFAULT_SEED = 20240101
COMMAND_GROUP = "panorama.commands"


def default_ds() -> str:
    """The logical date a command uses when none is given: PANORAMA_DS, else yesterday."""
    return get_settings().logical_date


def cmd_extract(args: argparse.Namespace) -> int:
    from panorama.ingest.extract import extract_feed

    manifest = extract_feed(args.feed, args.date)
    print(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2, default=str))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from panorama import warehouse
    from panorama.serve import publish

    settings = get_settings()
    manifest = publish.current_manifest(settings)
    if not manifest or not settings.serving_path.exists():
        print("nothing published yet")
        return 1
    print(
        f"version {manifest['version']} (logical date {manifest['logical_date']}, "
        f"run {manifest['run_id']})"
    )
    for audience in warehouse.AUDIENCES:
        path = settings.serving_dir / audience.file
        if not path.exists():  # a version published before this audience had a file
            continue
        print(f"{audience.name}: {path.name} ({path.stat().st_size / 2**20:,.1f} MiB)")
        for table, n in warehouse.table_counts(path, audience.schemas).items():
            print(f"  {table:<45} {n:>10,}")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from panorama.serve import publish

    settings = get_settings()
    current = (publish.current_manifest(settings) or {}).get("version")
    for v in publish.list_versions(settings):
        m = v.manifest()
        mark = "*" if v.name == current else " "
        print(f"{mark} {v.name}  logical date {m['logical_date']}  published {m['published_at']}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from panorama.serve import publish

    try:
        manifest = publish.rollback(get_settings(), args.to)
    except (KeyError, publish.VersionNotWhole) as exc:
        print(f"rollback refused: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"serving {manifest['version']} (logical date {manifest['logical_date']}) again")
    return 0


KEEP_ALIVE_S = 75  # a phone reading a page keeps its connection (uvicorn's default is 5 s)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from panorama.serve.credit_code.app import create_app

    app = create_app(get_settings(), public_url=args.public_url)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=args.access_log,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


def cmd_spot_check_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from panorama.supervision.verify import PlanNotFound, verify_plan

    db = Path(args.db) if args.db else get_settings().serving_path
    if not db.exists():
        print(f"no warehouse file at {db}", file=sys.stderr)
        return 2
    try:
        result = verify_plan(db, args.plan)
    except PlanNotFound as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


def cmd_spot_check_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from panorama.supervision.report import summary_lines

    db = Path(args.db) if args.db else get_settings().serving_path
    if not db.exists():
        print(f"no warehouse file at {db}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(db, args.plan)))
    return 0


def cmd_grading(args: argparse.Namespace) -> int:
    import datetime as dt

    from panorama.grading import GradingEvaluationError, evaluate, propose
    from panorama.grading.evaluate import format_evaluation

    settings = get_settings()
    db = Path(args.db) if args.db else _served_build(settings)
    as_of = dt.date.fromisoformat(args.date) if args.date else None
    truth = Path(args.truth) if args.truth else None
    try:
        if args.action == "evaluate":
            result = evaluate(db, as_of, truth)
        else:
            out = Path(args.out) if args.out else settings.data_dir / "proposals" / "grading"
            result = propose(db, out, as_of, truth)
            print(f"proposal written to {out} (nothing changed)", file=sys.stderr)
            result = result["after"] | {"fit": result["fit"], "files": result["files"]}
    except GradingEvaluationError as exc:
        print(f"grading {args.action}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True, default=str))
    else:
        print(format_evaluation(result))
    return 0


def _served_build(settings: Settings) -> Path:
    """The whole build behind the served publication (``pipeline.served_build``)."""
    from panorama.pipeline import served_build

    return served_build(settings) or settings.build_dir / "runs" / "none" / "candidate.duckdb"


def _add_grading(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "grading", help="evaluate the risk models against spot-check outcomes; propose thresholds"
    )
    g.add_argument("action", choices=("evaluate", "propose"))
    g.add_argument(
        "--db", help="build warehouse file (default: the served publication's candidate)"
    )
    g.add_argument("--date", help="as-of date (default: the grades' as_of_date)")
    g.add_argument("--truth", help="a generator's ground_truth dir: also judge by latent risk")
    g.add_argument("--out", help="propose: folder for the proposed seed and evaluations")
    g.add_argument("--json", action="store_true", help="print JSON")
    g.set_defaults(func=cmd_grading)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="panorama",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    e = sub.add_parser("extract", help="land one feed for a logical date")
    e.add_argument("feed")
    e.add_argument("--date", default=default_ds())
    e.set_defaults(func=cmd_extract)

    sub.add_parser("status", help="what is published").set_defaults(func=cmd_status)
    sub.add_parser("versions", help="kept publications").set_defaults(func=cmd_versions)
    r = sub.add_parser("rollback", help="serve a kept version again")
    r.add_argument("--to", required=True, help="version name, see `versions`")
    r.set_defaults(func=cmd_rollback)
    s = sub.add_parser("serve", help="the credit code (信用码) service on the public dataset")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8300)
    s.add_argument("--public-url", help="address the QR codes point at (default: the request's)")
    s.add_argument("--access-log", action="store_true", help="log every request")
    s.set_defaults(func=cmd_serve)
    sc = sub.add_parser("spot-check", help="spot-check plans (双随机)")
    sc_sub = sc.add_subparsers(dest="spot_check_command", required=True, metavar="ACTION")
    v = sc_sub.add_parser("verify", help="recompute a plan's draw from its snapshot and seed")
    v.add_argument("plan", help="plan id, e.g. 2026Q4")
    v.add_argument("--db", help="warehouse file (default: the published panorama.duckdb)")
    v.set_defaults(func=cmd_spot_check_verify)
    rep = sc_sub.add_parser("report", help="plan, completion, workload, problem rate, proposals")
    rep.add_argument("plan", nargs="?", help="plan id (default: the latest)")
    rep.add_argument("--db", help="warehouse file (default: the published panorama.duckdb)")
    rep.set_defaults(func=cmd_spot_check_report)
    _add_grading(sub)

    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda ep: ep.name):
        ep.load()(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    return args.func(args)

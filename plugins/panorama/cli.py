"""The ``panorama`` command (also ``python -m panorama``); the Makefile wraps the common ones.

Operations on a deployment:

extract     land one feed for a logical date (what the DAG's extract task does)
status      what is published: version, tables and row counts
versions    kept publications
rollback    serve a kept version again
serve       the credit code (信用码) service on the public dataset

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

from panorama.settings import get_settings

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
    for table, n in warehouse.table_counts(settings.serving_path).items():
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
    return 0


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

    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda ep: ep.name):
        ep.load()(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    return args.func(args)

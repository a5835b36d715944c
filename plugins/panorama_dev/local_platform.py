"""Stand-ins for the department systems the demo, tests and benchmarks run against.

The exchange-platform HTTP API is served from the generated JSON lines by
:mod:`panorama_dev.exchange_server` on a free localhost port, and the Airflow connection
``exchange_platform`` is pointed at it through ``AIRFLOW_CONN_EXCHANGE_PLATFORM`` (the way
Airflow takes connections from the environment), with a fresh token each time. The court's
database is a SQLite file in the landing zone, the connection ``court_db``
(``AIRFLOW_CONN_COURT_DB``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from panorama.settings import Settings

EXCHANGE_CONN_ENV = "AIRFLOW_CONN_EXCHANGE_PLATFORM"
COURT_CONN_ENV = "AIRFLOW_CONN_COURT_DB"


def court_db_uri(settings: Settings) -> str:
    """The court database's connection in Airflow's URI form (a SQLite file: its path,
    percent-encoded, is the host)."""
    path = settings.landing_dir / "court_dishonest__court" / "court.sqlite"
    return "sqlite://" + urllib.parse.quote(str(path.resolve()), safe="")


def exchange_uri(url: str, token: str) -> str:
    """The ``exchange_platform`` connection URI of a server at ``url`` (login = user,
    password = the Bearer token)."""
    return f"http://exchange:{token}@{url.split('://', 1)[1]}"


@contextlib.contextmanager
def exchange_platform(settings: Settings, faults: dict | None = None) -> Iterator[str]:
    """Serve the generated exchange-platform deliveries; yields the connection URI.

    ``faults`` is passed to :func:`panorama_dev.exchange_server.serve` (injected errors)."""
    from panorama_dev.exchange_server import serve
    from panorama_dev.synth import EXCHANGE_JSONL

    token = secrets.token_hex(16)
    previous = os.environ.get(EXCHANGE_CONN_ENV)
    with serve(settings.landing_dir / EXCHANGE_JSONL, token=token, faults=faults) as server:
        uri = exchange_uri(server.url, token)
        os.environ[EXCHANGE_CONN_ENV] = uri
        try:
            yield uri
        finally:
            if previous is None:
                os.environ.pop(EXCHANGE_CONN_ENV, None)
            else:
                os.environ[EXCHANGE_CONN_ENV] = previous


def extract_all(settings: Settings, ds: str, run_id: str) -> list[dict[str, Any]]:
    """Land every registered feed for ``ds`` in this process (what the DAG's mapped task does)."""
    from panorama.ingest.extract import extract_feed
    from panorama.ingest.feeds import load_registry

    with exchange_platform(settings):
        return [
            extract_feed(spec, ds, settings, run_id=run_id).to_dict()
            for spec in load_registry(settings.feeds_dir).values()
        ]


def forget_landed(data_dir: Path) -> None:
    """Remove the raw zone, quarantine and load manifests: what landed from deliveries that are
    being replaced by a new synthetic world (the landing bookkeeping lives in the raw zone, so
    the new deliveries land afresh)."""
    for sub in ("raw", "quarantine", "manifests"):
        shutil.rmtree(data_dir / sub, ignore_errors=True)


def ensure_generated(data_dir: Path, entities: int, seed: int, ds: str) -> bool:
    """Generate the synthetic deliveries unless the same ones are already in the landing zone;
    generating forgets what the previous deliveries landed (:func:`forget_landed`).

    Returns True when it generated. The stamp ``landing/_generated.json`` records what is there.
    """
    from panorama_dev.synth import generate

    stamp = data_dir / "landing" / "_generated.json"
    wanted = {"entities": entities, "seed": seed, "as_of": ds}
    if stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")) == wanted:
        return False
    stamp.unlink(missing_ok=True)
    forget_landed(data_dir)
    generate(data_dir, entities=entities, seed=seed, as_of=dt.date.fromisoformat(ds))
    stamp.write_text(json.dumps(wanted), encoding="utf-8")
    return True

"""Stand-ins for the department systems the demo, tests and benchmarks run against.

The exchange-platform HTTP API is served from the generated JSON lines by
:mod:`panorama.exchange_server` on a free localhost port, and the Airflow connection
``exchange_platform`` is pointed at it through ``AIRFLOW_CONN_EXCHANGE_PLATFORM`` (the way
Airflow takes connections from the environment), with a fresh token each time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from panorama.settings import Settings

EXCHANGE_CONN_ENV = "AIRFLOW_CONN_EXCHANGE_PLATFORM"


@contextlib.contextmanager
def exchange_platform(settings: Settings) -> Iterator[str]:
    """Serve the generated exchange-platform deliveries; yields the connection URI."""
    from panorama.exchange_server import serve
    from panorama.synth import EXCHANGE_JSONL

    token = secrets.token_hex(16)
    previous = os.environ.get(EXCHANGE_CONN_ENV)
    with serve(settings.landing_dir / EXCHANGE_JSONL, token=token) as server:
        uri = f"http://exchange:{token}@{server.url.split('://', 1)[1]}"
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
    from panorama.extract import extract_feed
    from panorama.feeds import load_registry

    with exchange_platform(settings):
        return [
            extract_feed(spec, ds, settings, run_id=run_id).to_dict()
            for spec in load_registry(settings.feeds_dir).values()
        ]


def ensure_generated(data_dir: Path, entities: int, seed: int, ds: str) -> bool:
    """Generate the synthetic deliveries unless the same ones are already in the landing zone.

    Returns True when it generated. The stamp ``landing/_generated.json`` records what is there.
    """
    from panorama.synth import generate

    stamp = data_dir / "landing" / "_generated.json"
    wanted = {"entities": entities, "seed": seed, "as_of": ds}
    if stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")) == wanted:
        return False
    stamp.unlink(missing_ok=True)
    generate(data_dir, entities=entities, seed=seed, as_of=dt.date.fromisoformat(ds))
    stamp.write_text(json.dumps(wanted), encoding="utf-8")
    return True

"""Per-department timing: which feeds are due on a date, and whether their delivery arrived.

A feed's ``schedule`` (``feeds/<feed>.yaml``) says on which days a delivery is expected. A run
reads only the feeds due on its logical date; the others are skipped, and what they landed
before stays valid (dbt reads every partition). A due feed with an ``arrival`` block is waited
for: the run starts extracting once a new delivery is in its landing folder, and raises
:class:`LateDelivery` when the feed's ``arrival.wait_minutes`` have passed without one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from panorama.ingest.feeds import FeedSpec, load_registry
from panorama.settings import Settings, get_settings

log = logging.getLogger(__name__)


class LateDelivery(RuntimeError):
    """Due feeds whose delivery did not arrive in time; nothing is built on stale data.

    ``late`` lists each feed with the date it was expected for and where it was looked for.
    """

    def __init__(self, late: list[dict[str, Any]]):
        self.late = late
        text = "; ".join(
            f"feed {d['feed']}: no delivery for {d['expected']} in {d['where']} "
            f"after waiting {d['waited_minutes']} of {d['wait_minutes']} minute(s)"
            for d in late
        )
        super().__init__(f"late delivery: {text}")


@dataclass(frozen=True)
class DueFeeds:
    due: list[str]
    skipped: list[dict[str, str]]  # feed and schedule of the feeds not due on the date


def due_feeds(ds: str, settings: Settings | None = None) -> DueFeeds:
    """The registered feeds due on ``ds`` (sorted), and those skipped with their schedule."""
    settings = settings or get_settings()
    registry = load_registry(settings.feeds_dir)
    due, skipped = [], []
    for name in sorted(registry):
        spec = registry[name]
        if spec.is_due(ds):
            due.append(name)
        else:
            skipped.append({"feed": name, "schedule": str(spec.schedule)})
            log.info("feed %s not due on %s (schedule %s): skipped", name, ds, spec.schedule)
    return DueFeeds(due, skipped)


def waited_minutes(context: Any) -> float:
    """Minutes since a sensor's first poke (its task instance's first reschedule), from the
    Airflow task context."""
    ti = context["ti"]
    first = ti.get_first_reschedule_date(context) or ti.start_date
    return (datetime.now(first.tzinfo) - first).total_seconds() / 60


def new_deliveries(spec: FeedSpec, ds: str, settings: Settings) -> list[str]:
    """Files in the feed's landing folder that a load of ``ds`` takes or holds already: content
    not landed under any date, or a file the date's partition holds (a re-run)."""
    from panorama.ingest.connectors.files import file_sha256
    from panorama.ingest.rawzone import LandingIndex

    landing = settings.landing_dir
    index = LandingIndex(settings.raw_dir, spec.name)
    held = index.files(ds)
    found = []
    for path in sorted(p for p in landing.glob(spec.transport.path) if p.is_file()):
        name = path.relative_to(landing).as_posix()
        if name in held or index.landed_under(file_sha256(path)[0]) is None:
            found.append(name)
    return found


def check_arrivals(
    feeds: list[str], ds: str, waited_minutes: float, settings: Settings | None = None
) -> list[str]:
    """The feeds among ``feeds`` still waited for (an ``arrival`` block and no new delivery).

    Raises :class:`LateDelivery` for those whose wait is over after ``waited_minutes``.
    """
    settings = settings or get_settings()
    registry = load_registry(settings.feeds_dir)
    waiting, late = [], []
    for name in feeds:
        spec = registry[name]
        if spec.arrival is None or new_deliveries(spec, ds, settings):
            continue
        if waited_minutes >= spec.arrival.wait_minutes:
            late.append(
                {
                    "feed": name,
                    "expected": ds,
                    "schedule": str(spec.schedule),
                    "where": str(settings.landing_dir / spec.transport.path),
                    "waited_minutes": round(waited_minutes, 1),
                    "wait_minutes": spec.arrival.wait_minutes,
                }
            )
        else:
            waiting.append(name)
    if late:
        raise LateDelivery(late)
    return waiting

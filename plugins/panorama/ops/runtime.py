"""Time limits and failure handling every task of the panorama DAGs gets.

Each task has an ``execution_timeout`` sized for its stage (override per task id with
``PANORAMA_TASK_TIMEOUTS="build=240,audit=120"``, minutes) and the failure notifier as its
``on_failure_callback``. A run has a deadline alert (Airflow's ``DeadlineAlert``: a run still
going ``run_deadline_minutes`` after it was queued is notified) and a ``dagrun_timeout``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from panorama.ops.notify import RUN_DEADLINE_MISSED, PanoramaNotifier
from panorama.settings import Settings, get_settings

#: The one-slot Airflow pool of the tasks that write the candidate or the serving files
#: (created at bring-up: ``airflow pools set panorama_warehouse 1 ...``). DuckDB has a single
#: writer, so they never run at the same time, whichever run or DAG they belong to.
WRITER_POOL = "panorama_warehouse"

#: Minutes each task may run (one try; a sensor's poke in reschedule mode).
STAGE_TIMEOUT_MINUTES = {
    "list_feeds": 10,
    "wait_for_deliveries": 10,
    "extract": 120,
    "build_identity": 120,
    "resolve": 120,
    "build": 180,
    "audit": 90,
    "publish": 60,
    "rollback": 30,
    "regulator_report": 30,
}
DEFAULT_TIMEOUT_MINUTES = 60


def task_timeout(task_id: str, settings: Settings | None = None) -> timedelta:
    settings = settings or get_settings()
    overrides = dict(settings.ops.task_timeout_minutes)
    minutes = overrides.get(task_id, STAGE_TIMEOUT_MINUTES.get(task_id, DEFAULT_TIMEOUT_MINUTES))
    return timedelta(minutes=minutes)


def default_args(settings: Settings | None = None) -> dict[str, Any]:
    """What every task gets unless it says otherwise: no retries, the stage's default time
    limit, and one notification when it fails for good."""
    return {
        "retries": 0,
        "execution_timeout": timedelta(minutes=DEFAULT_TIMEOUT_MINUTES),
        "on_failure_callback": [PanoramaNotifier()],
    }


def run_deadline(settings: Settings | None = None) -> DeadlineAlert | None:
    """A notification when a run is still going ``run_deadline_minutes`` after it was queued
    (the triggerer awaits the notifier); None when set to 0.

    ``airflow dags test`` cannot run a DAG with a deadline alert to success (Airflow 3.3.2:
    the run's final state update looks the alert up by its serialised form and fails), so the
    development tools that use it set ``PANORAMA_RUN_DEADLINE_MINUTES=0``; the scheduler is
    not affected."""
    settings = settings or get_settings()
    if settings.ops.run_deadline_minutes <= 0:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=settings.ops.run_deadline_minutes),
        callback=AsyncCallback(PanoramaNotifier, kwargs={"event": RUN_DEADLINE_MISSED}),
        name="panorama-run-deadline",
    )


def run_timeout(settings: Settings | None = None) -> timedelta:
    settings = settings or get_settings()
    return timedelta(minutes=settings.ops.run_timeout_minutes)


def run_date(context: Any) -> str:
    """The date (YYYY-MM-DD) a run works on: its logical date's ``ds``, or, for a run triggered
    without a logical date (``"logical_date": null`` through the REST API), the UTC date of its
    ``run_after``, the moment it was triggered for."""
    ds = context.get("ds")
    if ds:
        return ds
    return context["dag_run"].run_after.date().isoformat()


def feeds_due(context: Any, settings: Settings | None = None) -> list[str]:
    """The feeds due on the run's date (``list_feeds``); a date before the current
    publication's fails the task for good first (no retry, nothing lands): see
    ``panorama.pipeline.check_logical_date``."""
    from airflow.sdk.exceptions import AirflowFailException

    from panorama.ops.arrival import due_feeds
    from panorama.pipeline import BackfillRefused, check_logical_date

    ds = run_date(context)
    try:
        check_logical_date(ds, settings or get_settings())
    except BackfillRefused as exc:
        raise AirflowFailException(str(exc)) from exc
    return due_feeds(ds).due


def build_identity_of_run(context: Any) -> dict:
    """``build_identity`` of the run, with its ``full_refresh`` param, after the raw zone's
    retention and compaction (``pipeline.retain_and_build_identity``)."""
    from panorama.pipeline import retain_and_build_identity

    full_refresh = bool((context.get("params") or {}).get("full_refresh"))
    return retain_and_build_identity(
        run_date(context), context["run_id"], full_refresh=full_refresh
    )

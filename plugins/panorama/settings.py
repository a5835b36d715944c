"""Every path and knob of the pipeline, in one place.

Defaults are project-local (``data/`` beside the code); each can be overridden by an
environment variable so that a real deployment points them elsewhere without code changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).resolve() if value else default


NOTIFY_CHANNELS = ("file", "webhook", "email", "none")


@dataclass(frozen=True)
class OpsSettings:
    """How the DAGs are operated: where notifications go, task time limits, delivery waits."""

    notify_channel: str = "file"  # file (JSON lines, development) | webhook | email | none
    notify_file: Path | None = None  # file channel; default <data>/notifications.jsonl
    notify_webhook_url: str | None = None  # webhook channel: HTTP POST of the JSON message
    notify_smtp_conn_id: str = "smtp_default"  # email channel: Airflow SMTP connection
    notify_email_to: tuple[str, ...] = ()  # email channel: recipients
    task_timeout_minutes: tuple[tuple[str, int], ...] = ()  # overrides per task id
    retry_delay_seconds: int = 20  # first retry of an extract; doubles per retry
    delivery_poke_seconds: int = 300  # how often a due feed's landing folder is looked at
    run_deadline_minutes: int = 360  # a run still going this long after it was queued: alert
    run_timeout_minutes: int = 1200  # a run going this long is failed (dagrun_timeout)


def _ops_from_env() -> OpsSettings:
    env = os.environ.get
    channel = env("PANORAMA_NOTIFY_CHANNEL", "file").strip().lower()
    if channel not in NOTIFY_CHANNELS:
        raise ValueError(
            f"PANORAMA_NOTIFY_CHANNEL={channel!r}: use one of {', '.join(NOTIFY_CHANNELS)}"
        )
    timeouts = []
    for item in filter(None, (p.strip() for p in env("PANORAMA_TASK_TIMEOUTS", "").split(","))):
        task_id, _, minutes = item.partition("=")
        if not minutes.strip().isdigit() or int(minutes) <= 0:
            raise ValueError(
                f"PANORAMA_TASK_TIMEOUTS: {item!r} is not <task_id>=<minutes>, e.g. build=240"
            )
        timeouts.append((task_id.strip(), int(minutes)))
    file = env("PANORAMA_NOTIFY_FILE")
    return OpsSettings(
        notify_channel=channel,
        notify_file=Path(file).resolve() if file else None,
        notify_webhook_url=env("PANORAMA_NOTIFY_WEBHOOK_URL") or None,
        notify_smtp_conn_id=env("PANORAMA_NOTIFY_SMTP_CONN_ID", "smtp_default"),
        notify_email_to=tuple(
            a.strip() for a in env("PANORAMA_NOTIFY_EMAIL_TO", "").split(",") if a.strip()
        ),
        task_timeout_minutes=tuple(timeouts),
        retry_delay_seconds=int(env("PANORAMA_RETRY_DELAY_SECONDS", "20")),
        delivery_poke_seconds=int(env("PANORAMA_DELIVERY_POKE_SECONDS", "300")),
        run_deadline_minutes=int(env("PANORAMA_RUN_DEADLINE_MINUTES", "360")),
        run_timeout_minutes=int(env("PANORAMA_RUN_TIMEOUT_MINUTES", "1200")),
    )


@dataclass(frozen=True)
class Settings:
    """Resolved locations. Build one with :func:`get_settings` (reads the environment each call)."""

    project_root: Path
    data_dir: Path
    feeds_dir: Path
    dbt_project_dir: Path
    expectations_dir: Path
    ops: OpsSettings = field(default_factory=OpsSettings)

    @property
    def landing_dir(self) -> Path:
        """Where department deliveries arrive (file drops; the demo generator writes here)."""
        return self.data_dir / "landing"

    @property
    def raw_dir(self) -> Path:
        """Immutable raw zone: ``raw/<feed>/load_date=<ds>/*.parquet``."""
        return self.data_dir / "raw"

    @property
    def quarantine_dir(self) -> Path:
        """Rejected rows and files, with their reasons: ``quarantine/<feed>/load_date=<ds>/``."""
        return self.data_dir / "quarantine"

    @property
    def manifests_dir(self) -> Path:
        """Load manifests: ``manifests/<feed>/load_date=<ds>.json``."""
        return self.data_dir / "manifests"

    @property
    def build_dir(self) -> Path:
        """Candidate warehouse files written by dbt; never opened by readers."""
        return self.data_dir / "build"

    @property
    def candidate_path(self) -> Path:
        return self.build_dir / "candidate.duckdb"

    @property
    def serving_dir(self) -> Path:
        """What regulators and BI tools read."""
        return self.data_dir / "serving"

    @property
    def serving_path(self) -> Path:
        return self.serving_dir / "panorama.duckdb"

    @property
    def public_path(self) -> Path:
        return self.serving_dir / "public.duckdb"

    @property
    def notifications_path(self) -> Path:
        """The file channel's JSON lines (one notification a line)."""
        return self.ops.notify_file or self.data_dir / "notifications.jsonl"

    @property
    def reports_dir(self) -> Path:
        """Reports made from the published files by downstream DAGs."""
        return self.data_dir / "reports"

    @property
    def ground_truth_dir(self) -> Path:
        """The generator's answer key. The pipeline never reads it; tests and benchmarks do."""
        return self.data_dir / "ground_truth"


def get_settings() -> Settings:
    data_dir = _path("PANORAMA_DATA_DIR", PROJECT_ROOT / "data")
    return Settings(
        project_root=PROJECT_ROOT,
        data_dir=data_dir,
        feeds_dir=_path("PANORAMA_FEEDS_DIR", PROJECT_ROOT / "feeds"),
        dbt_project_dir=PROJECT_ROOT / "dbt_project",
        expectations_dir=PROJECT_ROOT / "expectations",
        ops=_ops_from_env(),
    )

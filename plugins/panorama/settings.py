"""Every path and knob of the pipeline, in one place.

Defaults are project-local (``data/`` beside the code); each can be overridden by an
environment variable so that a real deployment points them elsewhere without code changes.
This module is the only one that reads them:

- ``PANORAMA_DATA_DIR`` (default ``data/``) and ``PANORAMA_FEEDS_DIR`` (default ``feeds/``);
- ``PANORAMA_KEEP_VERSIONS``: publications kept under ``serving/versions/`` (default 7);
- ``PANORAMA_DUCKDB_MEMORY_LIMIT``: DuckDB's memory limit for dbt and the matcher (default 12GB);
- ``PANORAMA_PERSON_HASH_KEY``: the key of the ID-number hash in the warehouse (dbt falls back to
  a development key when it is not set);
- ``PANORAMA_CREDIT_CODE_KEY``: the key of the public credit codes (信用码, read by dbt in
  ``pub_credit_code``; a development key when it is not set);
- ``PANORAMA_MATCHER_RETRAIN_DAYS`` (default 30) and ``PANORAMA_MATCHER_MAX_RATE_DRIFT`` (default
  0.05): the probabilistic matcher's kept model is trained again when it is that many days old
  or the share of records it links moved that much;
- ``PANORAMA_DS``: the logical date a command uses when none is given (default yesterday);
- ``PANORAMA_POSTGRES_CONN_ID``: the Airflow connection of the PostgreSQL publication target
  (unset: publications go to the DuckDB files only);
- ``PANORAMA_ENGINE``: the engine that builds, matches and audits (``duckdb``, the default, on
  one machine; ``spark`` for the province and national tiers); recorded in each publication;
- ``PANORAMA_SPARK_MASTER``: the Spark master of the ``spark`` engine (default ``local[2]``);
- ``PANORAMA_DBT_PARSE_DIR``: where dbt's parse states are kept between calls (default
  ``<data dir>/build/dbt_parse``); data dirs built from one project can share one;
- ``PANORAMA_SPARK_DRIVER_MEMORY``: the Spark driver's heap (default ``6g``; on ``local[N]`` the
  driver runs the executors too: the matcher's training and dbt's builds run in it).

Airflow connections (``AIRFLOW_CONN_*``) are Airflow's: ``ingest/connectors/connection.py``
reads them through Airflow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KEEP_VERSIONS = 7
DEFAULT_DUCKDB_MEMORY_LIMIT = "12GB"
ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"
DEFAULT_SPARK_MASTER = "local[2]"
DEFAULT_SPARK_DRIVER_MEMORY = "6g"


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).resolve() if value else default


def _positive_int(var: str, default: int) -> int:
    value = os.environ.get(var)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{var} must be a positive integer, got {value!r}")
    return number


def _engine() -> str:
    value = (os.environ.get("PANORAMA_ENGINE") or DEFAULT_ENGINE).strip().lower()
    if value not in ENGINES:
        raise ValueError(f"PANORAMA_ENGINE={value!r}: use one of {', '.join(ENGINES)}")
    return value


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
    """Resolved locations and knobs. Build one with :func:`get_settings` (reads the environment
    each call) at the start of a stage and pass it down."""

    project_root: Path
    data_dir: Path
    feeds_dir: Path
    dbt_project_dir: Path
    expectations_dir: Path
    keep_versions: int = DEFAULT_KEEP_VERSIONS
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    person_hash_key: str | None = field(default=None, repr=False)
    default_ds: str | None = None
    postgres_conn_id: str | None = None
    engine: str = DEFAULT_ENGINE  # duckdb | spark
    spark_master: str = DEFAULT_SPARK_MASTER
    spark_driver_memory: str = DEFAULT_SPARK_DRIVER_MEMORY
    dbt_parse_dir: Path | None = None  # None: build_dir / "dbt_parse"
    ops: OpsSettings = field(default_factory=OpsSettings)
    matcher_retrain_days: int = 30
    matcher_max_rate_drift: float = 0.05

    @property
    def logical_date(self) -> str:
        """The date a command uses when none is given: ``PANORAMA_DS``, else yesterday."""
        return self.default_ds or (date.today() - timedelta(days=1)).isoformat()

    @property
    def landing_dir(self) -> Path:
        """Where department deliveries arrive (file drops; the demo generator writes here)."""
        return self.data_dir / "landing"

    @property
    def matcher_model_dir(self) -> Path:
        """The probabilistic matcher's kept model (reused by the runs until a retrain is due)."""
        return self.data_dir / "resolution_model"

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
    def finance_path(self) -> Path:
        return self.serving_dir / "finance_partners.duckdb"

    @property
    def operator_path(self) -> Path:
        return self.serving_dir / "operator.duckdb"

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
        keep_versions=_positive_int("PANORAMA_KEEP_VERSIONS", DEFAULT_KEEP_VERSIONS),
        duckdb_memory_limit=os.environ.get("PANORAMA_DUCKDB_MEMORY_LIMIT")
        or DEFAULT_DUCKDB_MEMORY_LIMIT,
        person_hash_key=os.environ.get("PANORAMA_PERSON_HASH_KEY") or None,
        default_ds=os.environ.get("PANORAMA_DS") or None,
        postgres_conn_id=os.environ.get("PANORAMA_POSTGRES_CONN_ID") or None,
        engine=_engine(),
        spark_master=os.environ.get("PANORAMA_SPARK_MASTER") or DEFAULT_SPARK_MASTER,
        spark_driver_memory=os.environ.get("PANORAMA_SPARK_DRIVER_MEMORY")
        or DEFAULT_SPARK_DRIVER_MEMORY,
        dbt_parse_dir=(
            Path(os.environ["PANORAMA_DBT_PARSE_DIR"]).resolve()
            if os.environ.get("PANORAMA_DBT_PARSE_DIR")
            else None
        ),
        ops=_ops_from_env(),
        matcher_retrain_days=_positive_int("PANORAMA_MATCHER_RETRAIN_DAYS", 30),
        matcher_max_rate_drift=float(os.environ.get("PANORAMA_MATCHER_MAX_RATE_DRIFT") or 0.05),
    )

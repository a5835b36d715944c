"""Every path and knob of the pipeline, in one place.

Defaults are project-local (``data/`` beside the code); each can be overridden by an
environment variable so that a real deployment points them elsewhere without code changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Resolved locations. Build one with :func:`get_settings` (reads the environment each call)."""

    project_root: Path
    data_dir: Path
    feeds_dir: Path
    dbt_project_dir: Path
    expectations_dir: Path

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
    )

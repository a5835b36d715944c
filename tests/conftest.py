"""Shared test setup: a throwaway Airflow home and data dir, so tests never touch the user's."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration at import time: point it at a scratch home before any test
# module imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="panorama-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
# dbt's parse states shared by every test's data dir (one project): parsed once per session
os.environ.setdefault("PANORAMA_DBT_PARSE_DIR", tempfile.mkdtemp(prefix="panorama-dbt-parse-"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PANORAMA_DATA_DIR for one test."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("PANORAMA_DATA_DIR", str(d))
    return d


@pytest.fixture
def feed_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings on a fresh data dir (with an empty landing zone) and an empty feeds dir."""
    from panorama.settings import get_settings

    data, feeds = tmp_path / "data", tmp_path / "feeds"
    (data / "landing").mkdir(parents=True)
    feeds.mkdir()
    monkeypatch.setenv("PANORAMA_DATA_DIR", str(data))
    monkeypatch.setenv("PANORAMA_FEEDS_DIR", str(feeds))
    return get_settings()

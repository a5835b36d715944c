"""Every DAG file imports cleanly, has no cycle, and keeps the task ids operators rely on."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"
HEAVY = {"duckdb", "great_expectations", "pandas", "pyarrow", "splink", "dbt"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "credit_panorama",
        "credit_panorama_rollback",
        "credit_panorama_reports",
    }


def test_pipeline_task_ids_and_order(dagbag):
    dag = dagbag.dags["credit_panorama"]
    assert set(dag.task_ids) == {
        "list_feeds",
        "wait_for_deliveries",
        "extract",
        "build_identity",
        "resolve",
        "build",
        "audit",
        "publish",
    }
    assert dag.get_task("wait_for_deliveries").upstream_task_ids == {"list_feeds"}
    assert dag.get_task("extract").upstream_task_ids == {"wait_for_deliveries"}
    assert dag.get_task("build_identity").upstream_task_ids == {"extract"}
    assert dag.get_task("resolve").upstream_task_ids == {"build_identity"}
    assert dag.get_task("build").upstream_task_ids == {"resolve"}
    assert dag.get_task("audit").upstream_task_ids == {"build"}
    assert dag.get_task("publish").upstream_task_ids == {"audit", "extract"}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    # topological sort raises on a cycle
    assert [t.task_id for t in dag.topological_sort()][0] == "list_feeds"


def test_rollback_dag_is_manual(dagbag):
    dag = dagbag.dags["credit_panorama_rollback"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: manual only
    assert "version" in dag.params


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_are_thin(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_imports = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_imports |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top_imports.add(node.module.split(".")[0])
    assert not (top_imports & HEAVY), f"{path.name} imports {top_imports & HEAVY} at module top"
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 150


def test_pipeline_doc_is_the_markdown_beside_the_dag(dagbag):
    """The UI shows the text of dags/credit_panorama.md, not its path."""
    doc = dagbag.dags["credit_panorama"].doc_md
    assert doc == (DAGS / "credit_panorama.md").read_text(encoding="utf-8")
    assert "### 市场主体信用全景画像" in doc


def test_every_task_has_a_time_limit_and_the_failure_notifier(dagbag):
    from panorama.ops.notify import PanoramaNotifier
    from panorama.ops.runtime import STAGE_TIMEOUT_MINUTES

    for dag in dagbag.dags.values():
        for t in dag.tasks:
            where = f"{dag.dag_id}.{t.task_id}"
            assert t.execution_timeout is not None, f"{where} has no execution_timeout"
            minutes = STAGE_TIMEOUT_MINUTES[t.task_id]  # every task has its stage's limit
            assert t.execution_timeout.total_seconds() == minutes * 60, where
            callbacks = t.on_failure_callback
            assert [type(c) for c in callbacks] == [PanoramaNotifier], where


def test_task_time_limits_are_configurable(monkeypatch):
    from panorama.ops.runtime import task_timeout

    monkeypatch.setenv("PANORAMA_TASK_TIMEOUTS", "build=240, audit=5")
    assert task_timeout("build").total_seconds() == 240 * 60
    assert task_timeout("audit").total_seconds() == 5 * 60
    assert task_timeout("publish").total_seconds() == 60 * 60
    monkeypatch.setenv("PANORAMA_TASK_TIMEOUTS", "build=soon")
    with pytest.raises(ValueError, match="build=soon"):
        task_timeout("build")


def test_runs_have_a_deadline_alert_and_a_timeout(dagbag):
    from panorama.ops.notify import PanoramaNotifier

    dag = dagbag.dags["credit_panorama"]
    (alert,) = dag.deadline
    assert type(alert.reference).__name__ == "DagRunQueuedAtDeadline"
    assert alert.interval.total_seconds() == 360 * 60
    assert alert.callback.path == f"{PanoramaNotifier.__module__}.PanoramaNotifier"
    assert dag.dagrun_timeout.total_seconds() > alert.interval.total_seconds()
    # the serialised DAG (what the scheduler reads) keeps the alert
    from airflow.serialization.serialized_objects import DagSerialization

    assert "deadline" in json.dumps(DagSerialization.serialize_dag(dag))


def test_run_deadline_can_be_switched_off(monkeypatch):
    from panorama.ops.runtime import run_deadline

    monkeypatch.setenv("PANORAMA_RUN_DEADLINE_MINUTES", "0")
    assert run_deadline() is None


def test_assets_have_real_file_uris_and_the_reports_dag_consumes_the_serving_one(dagbag):
    from panorama.ops import assets
    from panorama.settings import get_settings

    settings = get_settings()
    publish = dagbag.dags["credit_panorama"].get_task("publish")
    by_name = {a.name: a for a in publish.outlets}
    assert by_name["panorama-serving"].uri == settings.serving_path.as_uri()
    assert by_name["panorama-public"].uri == settings.public_path.as_uri()
    reports = dagbag.dags["credit_panorama_reports"]
    assert list(reports.timetable.asset_condition.objects) == [by_name["panorama-serving"]]
    raw = assets.raw_feed("penalty__amr", settings)
    assert raw.uri == (settings.raw_dir / "penalty__amr").as_uri()
    assert raw.uri.startswith("file:///") and Path(raw.uri[len("file://") :]).is_absolute()
    extract = dagbag.dags["credit_panorama"].get_task("extract")
    assert [a.name for a in extract.outlets] == [assets.RAW_FEEDS_ALIAS]

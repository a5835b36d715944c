"""Every DAG file imports cleanly, has no cycle, and keeps the task ids operators rely on."""

from __future__ import annotations

import ast
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
    assert set(dagbag.dag_ids) == {"credit_panorama", "credit_panorama_rollback"}


def test_pipeline_task_ids_and_order(dagbag):
    dag = dagbag.dags["credit_panorama"]
    assert set(dag.task_ids) == {
        "list_feeds",
        "extract",
        "build_identity",
        "resolve",
        "build",
        "audit",
        "publish",
    }
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

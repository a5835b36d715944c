"""End to end through Airflow: generated deliveries -> credit_panorama DAG -> serving file.

Runs the real DAG with ``airflow dags test`` (one process, real tasks, real dbt, real GX) on a
small generated population, then a second logical date whose deliveries carry a defect the gate
must catch: that run fails and the published file stays byte-for-byte as it was.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from panorama import publish, warehouse
from panorama.settings import get_settings

pytestmark = pytest.mark.slow

DS1 = "2026-11-24"
DS2 = "2026-11-25"
EXPECTED_TABLES = {
    "entity.dim_entity",
    "entity.fct_entity_event",
    "entity.rpt_unresolved_records",
    "risk.fct_risk_grade",
    "risk.fct_risk_grade_history",
    "public_record.pub_entity",
    "public_record.pub_penalty",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pipeline_env(tmp_path_factory):
    """A generated population in a scratch data dir and a scratch Airflow home."""
    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("e2e") / "data"
    mp.setenv("PANORAMA_DATA_DIR", str(data))
    mp.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    from panorama.synth import generate

    generate(data, entities=1500, seed=7, as_of=date.fromisoformat(DS1), progress=False)
    yield get_settings()
    mp.undo()


@pytest.fixture(scope="module")
def first_run(pipeline_env):
    from panorama.cli import run_dag_once

    log = pipeline_env.data_dir / "logs" / "run1.log"
    code, durations = run_dag_once(DS1, log)
    assert code == 0, log.read_text(encoding="utf-8", errors="replace")[-6000:]
    return durations


def test_first_run_publishes_every_table(pipeline_env, first_run):
    settings = pipeline_env
    counts = warehouse.table_counts(settings.serving_path)
    missing = EXPECTED_TABLES - set(counts)
    assert not missing, f"missing tables {missing}; have {sorted(counts)}"
    for table in EXPECTED_TABLES:
        assert counts[table] > 0, f"{table} is empty"
    assert counts["entity.dim_entity"] == counts["risk.fct_risk_grade"]
    manifest = publish.current_manifest(settings)
    assert manifest["logical_date"] == DS1
    assert manifest["checks"]["passed"] is True
    assert sum(manifest["grade_counts"].values()) == counts["entity.dim_entity"]
    feeds = {m["feed"] for m in manifest["inputs"]}
    assert len(feeds) >= 11
    tasks = {t for t, _, _ in first_run}
    assert {"extract", "build_identity", "resolve", "build", "audit", "publish"} <= tasks
    # the public dataset carries no grade and no personal data columns
    pub_cols = warehouse.query(
        settings.public_path,
        "select lower(column_name) from information_schema.columns",
    )
    names = {c for (c,) in pub_cols}
    assert not {n for n in names if "grade" in n or "score" in n or "phone" in n or "id_no" in n}


def test_every_extracted_row_is_accounted_for(pipeline_env, first_run):
    manifest = publish.current_manifest(pipeline_env)
    for m in manifest["inputs"]:
        t = m["totals"]
        assert t["rows_read"] == t["rows_kept"] + t["rows_quarantined"], m["feed"]
        assert t["rows_kept"] > 0, m["feed"]
    # the generator plants unparseable values: they are quarantined, not dropped
    assert sum(m["totals"]["rows_quarantined"] for m in manifest["inputs"]) > 0


def _plant_future_penalty(settings, ds: str) -> None:
    """A department delivers a penalty decision dated 30 days after the logical date."""
    folder = settings.landing_dir / "penalty__amr"
    source = sorted(folder.glob("*.csv"))[0]
    with source.open(encoding="gbk", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        row = next(reader)
    date_cols = [i for i, h in enumerate(header) if "决定日期" in h]
    wsh = [i for i, h in enumerate(header) if "文号" in h]
    future = (date.fromisoformat(ds) + timedelta(days=30)).isoformat()
    for i in date_cols:
        row[i] = future
    for i in wsh:
        row[i] = "德市监罚〔2099〕0001号"
    with (folder / f"补报_{ds}.csv").open("w", encoding="gbk", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerow(row)


def test_failing_audit_leaves_serving_file_unchanged(pipeline_env, first_run):
    from panorama.cli import run_dag_once

    settings = pipeline_env
    before = {p: sha256(p) for p in (settings.serving_path, settings.public_path)}
    manifest_before = publish.current_manifest(settings)
    _plant_future_penalty(settings, DS2)

    log = settings.data_dir / "logs" / "run2.log"
    code, durations = run_dag_once(DS2, log)
    assert code != 0, "a run whose audit fails must fail"
    states = {t for t, _, _ in durations}
    assert "audit" in states
    assert {p: sha256(p) for p in before} == before
    assert publish.current_manifest(settings) == manifest_before
    audits = sorted(
        (settings.build_dir / "runs").glob("*/audit.json"), key=lambda p: p.stat().st_mtime
    )
    report = json.loads(audits[-1].read_text(encoding="utf-8"))
    assert report["passed"] is False
    text = json.dumps(report, ensure_ascii=False)
    assert "event_date" in text or "future" in text.lower()

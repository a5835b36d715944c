"""End to end through Airflow: generated deliveries -> credit_panorama DAG -> serving file.

Runs the real DAG with ``airflow dags test`` (one process, real tasks, real dbt, Splink, GX) on
a small generated population over three logical dates:
1. the first publication;
2. a department delivers one new penalty against an entity graded A: its grade moves as the
   rules say and its grade history keeps both periods;
3. a delivery carries a defect the gate must catch: the run fails and the published files stay
   byte-for-byte as they were.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from panorama import warehouse
from panorama.serve import publish
from panorama.settings import get_settings

pytestmark = pytest.mark.slow

DS1 = "2026-11-23"
DS2 = "2026-11-24"
DS3 = "2026-11-25"
ACCEPT_REASON = "补报处罚一条，行数变化在预期之内"
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
    from panorama_dev.synth import generate

    generate(data, entities=1500, seed=7, as_of=date.fromisoformat(DS1), progress=False)
    yield get_settings()
    mp.undo()


@pytest.fixture(scope="module")
def first_run(pipeline_env):
    from panorama_dev.cli import run_dag_once

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


def _append_penalty(settings, ds: str, fields: dict[str, str]) -> None:
    """A department delivers one more penalty (a new GBK file in the 双公示 format).

    ``fields`` are canonical names; the feed's YAML maps them onto the department's columns and
    the other columns are copied from a row of the existing delivery.
    """
    from panorama.ingest.feeds import load_registry

    spec = load_registry(settings.feeds_dir)["penalty__amr"]
    source_of = {c.field: c.source for c in spec.resolved_columns()}
    folder = settings.landing_dir / "penalty__amr"
    template = sorted(folder.glob("*.csv"))[0]
    with template.open(encoding="gbk", newline="") as f:
        reader = csv.DictReader(f)
        row = next(reader)
        header = reader.fieldnames
    row.update({source_of[k]: v for k, v in fields.items()})
    with (folder / f"补报_{ds}.csv").open("w", encoding="gbk", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerow(row)


@pytest.fixture(scope="module")
def second_run(pipeline_env, first_run):
    """DS2: one new penalty for an entity graded A with no penalty so far."""
    from panorama_dev.cli import run_dag_once

    settings = pipeline_env
    entity_id, name = warehouse.query(
        settings.serving_path,
        "select g.entity_id, d.entity_name from risk.fct_risk_grade g "
        "join entity.dim_entity d using (entity_id) "
        "where g.grade = 'A' and d.penalty_count = 0 and d.entity_type = 'enterprise' "
        "order by g.score, g.entity_id limit 1",
    )[0]
    decided = (date.fromisoformat(DS2) - timedelta(days=3)).isoformat()
    _append_penalty(
        settings,
        DS2,
        {
            "cf_xdr_mc": name,
            "cf_xdr_shxym": entity_id,
            "cf_wsh": "德市监罚〔2026〕E2E号",
            "cf_cflb": "罚款",
            "cf_nr_fk": "2",
            "cf_jdrq": decided,
        },
    )
    log = settings.data_dir / "logs" / "run2.log"
    # The run's conf reaches the audit through the DAG's params (nothing needs waiving here).
    conf = {"accept_baseline_change": ["row_count"], "accept_reason": ACCEPT_REASON}
    code, _ = run_dag_once(DS2, log, conf=conf)
    assert code == 0, log.read_text(encoding="utf-8", errors="replace")[-6000:]
    return entity_id


def test_new_penalty_moves_an_a_entity_and_history_keeps_both(pipeline_env, second_run):
    settings, entity_id = pipeline_env, second_run
    manifest = publish.current_manifest(settings)
    assert manifest["logical_date"] == DS2
    accepted = manifest["checks"]["accepted"]
    assert accepted == {"checks": ["row_count"], "reason": ACCEPT_REASON, "waived": []}
    grade, reasons = warehouse.query(
        settings.serving_path,
        "select grade, reasons from risk.fct_risk_grade where entity_id = ?",
        [entity_id],
    )[0]
    assert grade in ("B", "C", "D"), grade  # a penalty in the window: at least B (risk_overrides)
    assert "德市监罚〔2026〕E2E号" in reasons  # the reason cites the decision behind it
    history = warehouse.query(
        settings.serving_path,
        "select grade, valid_from, valid_to, is_current from risk.fct_risk_grade_history "
        "where entity_id = ? order by valid_from",
        [entity_id],
    )
    assert [(h[0], str(h[1]), h[2] and str(h[2]), h[3]) for h in history] == [
        ("A", DS1, DS2, False),
        (grade, DS2, None, True),
    ]
    # grade as of a date: one query
    as_of_ds1 = warehouse.query(
        settings.serving_path,
        "select grade from risk.fct_risk_grade_history where entity_id = ? "
        "and valid_from <= ? and (valid_to is null or valid_to > ?)",
        [entity_id, DS1, DS1],
    )
    assert as_of_ds1 == [("A",)]
    changes = warehouse.query(
        settings.serving_path,
        "select previous_grade, grade from risk.rpt_grade_changes where entity_id = ?",
        [entity_id],
    )
    assert changes == [("A", grade)]


def test_failing_audit_leaves_serving_file_unchanged(pipeline_env, second_run):
    from panorama_dev.cli import run_dag_once

    settings = pipeline_env
    before = {p: sha256(p) for p in (settings.serving_path, settings.public_path)}
    manifest_before = publish.current_manifest(settings)
    # a department delivers a decision dated 30 days after the logical date
    future = (date.fromisoformat(DS3) + timedelta(days=30)).isoformat()
    _append_penalty(settings, DS3, {"cf_wsh": "德市监罚〔2099〕0001号", "cf_jdrq": future})

    log = settings.data_dir / "logs" / "run3.log"
    code, durations = run_dag_once(DS3, log)
    assert code != 0, "a run whose audit fails must fail"
    assert "audit" in {t for t, _, _ in durations}
    assert {p: sha256(p) for p in before} == before
    assert publish.current_manifest(settings) == manifest_before
    audits = sorted(
        (settings.build_dir / "runs").glob("*/audit.json"), key=lambda p: p.stat().st_mtime
    )
    report = json.loads(audits[-1].read_text(encoding="utf-8"))
    assert report["passed"] is False
    text = json.dumps(report, ensure_ascii=False)
    assert "event_date" in text


def test_rollback_dag_serves_a_kept_version(pipeline_env, second_run):
    """credit_panorama_rollback, run through Airflow, puts the first publication back."""
    from panorama_dev import airflow_env as af

    settings = pipeline_env
    first = publish.list_versions(settings)[0]
    assert first.manifest()["logical_date"] == DS1
    env = af.airflow_env(settings)
    proc = af.dags_test("credit_panorama_rollback", DS3, env, conf={"version": first.name})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert publish.current_manifest(settings)["version"] == first.name
    assert warehouse.table_counts(settings.serving_path) == first.manifest()["row_counts"]

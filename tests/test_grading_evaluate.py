"""`panorama grading evaluate | propose` on a tiny hand-made warehouse: the AUC and the
problem-found rate by grade over the last four quarters, the outcome's own points left out of
the score, checks not carried out left out of the rates, thresholds fitted so the rate rises,
and a proposal that writes files and changes no seed."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from panorama import cli
from panorama.grading import evaluate, propose
from panorama.grading.evaluate import auc, quarter_window

AS_OF = dt.date(2026, 6, 30)
THRESHOLDS = [
    ("A", 0, 1, "信用风险低"),
    ("B", 200, 2, "一般"),
    ("C", 500, 3, "较高"),
    ("D", 750, 4, "高"),
]


def _entities() -> list[tuple[str, int, bool]]:
    """(entity, score in the general model, problem found at its check): the problem rate
    rises with the score; every fifth entity also scores 300 points from its own problems."""
    rows = []
    for i in range(80):
        score = i * 12
        problem = (i * 7919) % 100 < 5 + i  # 5 % at score 0 .. 84 % at the top
        rows.append((f"E{i:03d}", score, problem))
    return rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("grading_eval") / "candidate.duckdb"
    con = duckdb.connect(str(db))
    for schema in ("risk", "intermediate", "entity", "staging", "reference"):
        con.execute(f"create schema {schema}")
    con.execute(
        "create table reference.risk_grade_thresholds (grade varchar, min_score double, "
        "grade_rank integer, grade_label varchar)"
    )
    con.executemany("insert into reference.risk_grade_thresholds values (?, ?, ?, ?)", THRESHOLDS)
    con.execute(
        "create table reference.risk_overrides as select * from (values "
        "('court_debtor_now', 'court_debtor_now', 1.0, 'D')) "
        "t(override_code, indicator, min_value, min_grade)"
    )
    con.execute(
        "create table intermediate.int_risk__entity_models "
        "(entity_id varchar, model_name varchar, model_role varchar)"
    )
    con.execute(
        "create table intermediate.int_risk__indicator_points (entity_id varchar, "
        "model_name varchar, model_role varchar, indicator varchar, value double, points double)"
    )
    con.execute(
        "create table risk.fct_risk_grade (entity_id varchar, model_name varchar, "
        "overrides_fired varchar, grade varchar, as_of_date date)"
    )
    con.execute(
        "create table entity.fct_entity_event (event_id varchar, entity_id varchar, "
        "event_type varchar, record_id varchar)"
    )
    con.execute(
        "create table staging.stg_raw__spot_check (record_id varchar, check_date date, "
        "check_result varchar, problem_found boolean, not_reachable boolean)"
    )
    for i, (entity, score, problem) in enumerate(_entities()):
        con.execute(
            "insert into intermediate.int_risk__entity_models values (?, 'general', 'base')",
            [entity],
        )
        con.execute(
            "insert into intermediate.int_risk__indicator_points values "
            "(?, 'general', 'base', 'penalties_3y', 1, ?)",
            [entity, score],
        )
        if i % 5 == 0:  # points that come from check outcomes: left out of the evaluation
            con.execute(
                "insert into intermediate.int_risk__indicator_points values "
                "(?, 'general', 'base', 'spot_check_problems_3y', 3, 300)",
                [entity],
            )
        fired = "court_debtor_now" if entity == "E000" else None
        con.execute(
            "insert into risk.fct_risk_grade values (?, 'general', ?, 'A', ?)",
            [entity, fired, AS_OF],
        )
        record = f"r{i}"
        con.execute(
            "insert into entity.fct_entity_event values (?, ?, 'spot_check', ?)",
            [f"ev{i}", entity, record],
        )
        result = "发现问题已责令改正" if problem else "未发现问题"
        con.execute(
            "insert into staging.stg_raw__spot_check values (?, ?, ?, ?, false)",
            [record, AS_OF - dt.timedelta(days=30 + i), result, problem],
        )
    # outside the window (older than four quarters) and not carried out: never in the rates
    con.execute("insert into entity.fct_entity_event values ('old', 'E079', 'spot_check', 'old')")
    con.execute(
        "insert into staging.stg_raw__spot_check values "
        "('old', '2025-03-31', '未发现问题', false, false)"
    )
    con.execute("insert into entity.fct_entity_event values ('gone', 'E079', 'spot_check', 'gone')")
    con.execute(
        "insert into staging.stg_raw__spot_check values "
        "('gone', '2026-05-01', '通过登记的住所（经营场所）无法联系', false, true)"
    )
    con.close()
    return db


def test_quarter_window_and_auc() -> None:
    assert quarter_window(AS_OF) == (dt.date(2025, 7, 1), AS_OF)
    assert quarter_window(dt.date(2026, 2, 10)) == (dt.date(2025, 4, 1), dt.date(2026, 2, 10))
    outcome = pd.Series([False, False, True, True])
    assert auc(pd.Series([1, 2, 3, 4]), outcome) == 1.0
    assert auc(pd.Series([4, 3, 2, 1]), outcome) == 0.0
    assert auc(pd.Series([1, 1, 1, 1]), outcome) == 0.5
    assert auc(pd.Series([1, 2]), pd.Series([True, True])) is None


def test_evaluate_leaves_outcome_points_and_undone_checks_out(warehouse: Path) -> None:
    result = evaluate(warehouse)
    assert result["window"] == ["2025-07-01", "2026-06-30"]
    assert result["checks_in_window"] == 81 and result["checks_not_carried_out"] == 1
    general = result["models"]["general"]
    expected = _entities()
    assert general["checks"] == 80
    assert general["problems"] == sum(p for _, _, p in expected)
    # the AUC is that of the score without the spot-check points
    frame = pd.DataFrame(expected, columns=["entity", "score", "problem"])
    assert general["auc"] == auc(frame.score, frame.problem)
    by_grade = general["by_grade"]
    counts = {g: by_grade[g]["checks"] for g in "ABCD"}
    # E000 (score 0) is D by its override; scores 0..948 by 12: A <200, B <500, C <750
    assert counts == {"A": 16, "B": 25, "C": 21, "D": 18}
    assert [row["checks"] for row in general["calibration"]] == [16] * 5
    assert result["models"]["final"]["by_grade"] == by_grade


def test_propose_fits_rising_rates_and_writes_files_only(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "proposal"
    result = propose(warehouse, out)
    assert result["fit"]["fitted"]
    t = result["thresholds"]
    assert 0 == t["A"] < t["B"] < t["C"] < t["D"]
    after = result["after"]["models"]["final"]
    assert after["rate_rises_a_to_d"]
    with (out / "risk_grade_thresholds.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["grade"] for r in rows] == ["A", "B", "C", "D"]
    assert [float(r["min_score"]) for r in rows] == [t[g] for g in "ABCD"]
    before = json.loads((out / "evaluation_before.json").read_text(encoding="utf-8"))
    assert before["thresholds"] == {"A": 0.0, "B": 200.0, "C": 500.0, "D": 750.0}
    assert "accept_baseline_change" in (out / "PROPOSAL.md").read_text(encoding="utf-8")
    # the warehouse's policy is untouched
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select min_score from reference.risk_grade_thresholds order by grade_rank"
        ).fetchall() == [(0,), (200,), (500,), (750,)]


def test_cli_grading_evaluate_json(warehouse: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["grading", "evaluate", "--db", str(warehouse), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["models"]["general"]["checks"] == 80
    assert cli.main(["grading", "evaluate", "--db", str(warehouse.parent / "none.duckdb")]) == 1
    assert "does not exist" in capsys.readouterr().err

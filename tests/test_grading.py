"""Risk grading with real dbt builds: the policy lives in seeds (a weight change moves grades
with no SQL edit), a new penalty moves an A entity as the overrides say and history keeps both
periods, the change report explains it, reasons cite the records, and the score ranks a
generated population (the session's first publication) like its latent risk (Spearman >= 0.8).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import math
import shutil
from pathlib import Path

import duckdb
import pytest
from panorama import pipeline
from panorama.grading import evaluate as evaluate_outcomes
from panorama.settings import get_settings
from panorama_dev.quality.grading import build_warehouse, citations, evaluate, format_report
from pipeline_fixtures import ENTITIES, published_copy
from raw_fixtures import FIXTURE_DB, first_build_copy, write_extra_penalty

pytestmark = pytest.mark.slow


def _thresholds() -> dict[str, float]:
    seed = get_settings().dbt_project_dir / "seeds" / "risk_grade_thresholds.csv"
    with seed.open(encoding="utf-8") as fh:
        return {r["grade"]: float(r["min_score"]) for r in csv.DictReader(fh)}


THRESHOLDS = _thresholds()


def _grade(score: float) -> str:
    return max((g for g, low in THRESHOLDS.items() if score >= low), key=THRESHOLDS.get)


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _settings(data_dir: Path, project_dir: Path | None = None):
    base = get_settings()
    return dataclasses.replace(
        base, data_dir=data_dir, dbt_project_dir=project_dir or base.dbt_project_dir
    )


def _copy_project(dest: Path) -> Path:
    src = get_settings().dbt_project_dir
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return dest


@pytest.fixture(scope="module")
def fixture_builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The hand-made raw zone built twice on one file: at ds (the session's build of it), then
    a week later with one new penalty for E15 (a co-operative graded A with no records at all)."""
    fx, data = first_build_copy(tmp_path_factory, "grading_fixture")
    settings = _settings(data)
    db = settings.build_dir / FIXTURE_DB
    first = data / "after_first.duckdb"
    shutil.copyfile(db, first)
    ds2 = (dt.date.fromisoformat(fx["ds"]) + dt.timedelta(days=7)).isoformat()
    write_extra_penalty(
        data / "raw", ds2, fx["uscc"]["E15"], fx["names"]["E15"], "德市监罚〔2026〕77号"
    )
    build_warehouse(settings, ds2, FIXTURE_DB)
    return {**fx, "data": data, "db1": first, "db2": db, "ds2": ds2}


def test_reasons_cite_overrides_indicators_and_records(fixture_builds: dict) -> None:
    db, u = fixture_builds["db1"], fixture_builds["uscc"]
    reasons, event_ids = _rows(
        db,
        "select reasons, reason_event_ids from risk.fct_risk_grade where entity_id = ?",
        [u["E08"]],
    )[0]
    assert reasons.startswith("直接判级：列入严重违法失信名单（现列入）（不低于D类）")
    assert "现列入严重违法失信名单（+" in reasons and "2025-08-01" in reasons
    events = _rows(
        db,
        "select event_type from entity.fct_entity_event where event_id in "
        "(select unnest(string_split(?, ',')))",
        [event_ids],
    )
    assert events and {e for (e,) in events} <= {"serious_dishonest_listed"}
    # a penalty reason names the decision number and date, with the window in the label
    (reasons,) = _rows(
        db, "select reasons from risk.fct_risk_grade where entity_id = ?", [u["E17"]]
    )[0]
    assert "行政处罚次数（近3年）=1次" in reasons and "德市监罚〔2026〕17号" in reasons
    assert "2026-03-10" in reasons


def _sorted_everywhere(value: object) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(_sorted_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(_sorted_everywhere(v) for v in value)
    return True


def test_abnormal_state_marks_are_their_own_event_kind(fixture_builds: dict) -> None:
    """The shop E12 is marked (not listed): its marks are abnormal_state events, its own
    indicators fire and cite the mark in force; the enterprise list does not hold it."""
    db, e12 = fixture_builds["db1"], fixture_builds["uscc"]["E12"]
    events = _rows(
        db,
        "select event_type, cast(event_date as varchar), event_id from entity.fct_entity_event "
        "where entity_id = ? and event_type like 'abnormal%' order by event_date, event_type",
        [e12],
    )
    assert [(t, d) for t, d, _ in events] == [
        ("abnormal_state_marked", "2024-03-01"),
        ("abnormal_state_restored", "2024-05-10"),
        ("abnormal_state_marked", "2025-08-15"),
    ]
    indicators = _rows(
        db,
        "select abnormal_state_now, abnormal_state_marks_5y, abnormal_list_now "
        "from intermediate.int_risk__indicators where entity_id = ?",
        [e12],
    )
    assert indicators == [(1, 2, 0)]
    cited = _rows(
        db,
        "select event_id from intermediate.int_risk__indicator_evidence "
        "where entity_id = ? and indicator = 'abnormal_state_now'",
        [e12],
    )
    assert cited == [(events[-1][2],)]
    assert _rows(
        db, "select count(*) from public_record.pub_abnormal_list where uscc = ?", [e12]
    ) == [(0,)]


def test_every_indicator_and_override_cites_records_or_is_an_attribute(
    fixture_builds: dict,
) -> None:
    db = fixture_builds["db1"]
    assert citations(db)["bcd_citing_records"] == 1.0
    rows = _rows(
        db,
        "select entity_id, grade, score, reasons, indicator_points, override_evidence, "
        "reason_event_ids from risk.fct_risk_grade",
    )
    basis = dict(_rows(db, "select indicator, basis from reference.risk_indicators"))
    for entity, grade, score, reasons, points_text, overrides_text, event_ids in rows:
        points = json.loads(points_text or "{}")
        # byte-stable: keys sorted at every level, the text is the compact sorted dump
        assert _sorted_everywhere(points), entity
        assert points_text is None or points_text == json.dumps(
            points, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        cited = set((event_ids or "").split(",")) - {""}
        for indicator, item in points.items():
            assert item["basis"] == basis[indicator]
            if item["points"] > 0 and item["basis"] == "records":
                assert item["event_ids"] and set(item["event_ids"]) <= cited, (entity, indicator)
            if item["basis"] == "attribute":
                assert item["event_ids"] is None
        for code, item in json.loads(overrides_text or "{}").items():
            assert item["basis"] == "attribute" or item["event_ids"], (entity, code)
        if grade == "A":
            assert reasons.startswith(f"评为A类：分值{score}低于B类下限"), reasons
    # an override decided by a record names it: E08's serious-dishonest listing
    e08 = fixture_builds["uscc"]["E08"]
    (overrides_text,) = _rows(
        db, "select override_evidence from risk.fct_risk_grade where entity_id = ?", [e08]
    )[0]
    listed = _rows(
        db,
        "select event_id from entity.fct_entity_event where entity_id = ? "
        "and event_type = 'serious_dishonest_listed'",
        [e08],
    )
    assert json.loads(overrides_text)["serious_dishonest_now"]["event_ids"] == [listed[0][0]]


def test_indicators_cover_five_dimensions_each_defined_once(fixture_builds: dict) -> None:
    db = fixture_builds["db1"]
    defined = _rows(db, "select indicator, dimension from reference.risk_indicators")
    dims = {d for _, d in defined}
    assert dims == {"基本属性", "动态信息", "监管信息", "关联关系", "社会评价"}
    assert len(defined) >= 20 and len({i for i, _ in defined}) == len(defined)
    columns = {
        c
        for (c,) in _rows(
            db,
            "select column_name from information_schema.columns "
            "where table_schema = 'intermediate' and table_name = 'int_risk__indicators'",
        )
    }
    assert {i for i, _ in defined} <= columns
    models = {m for (m,) in _rows(db, "select model_name from reference.risk_models")}
    assert {"general", "individual", "food", "special_equipment"} <= models


def test_new_penalty_moves_a_entity_and_history_keeps_both(fixture_builds: dict) -> None:
    u, ds, ds2 = fixture_builds["uscc"], fixture_builds["ds"], fixture_builds["ds2"]
    e15 = u["E15"]
    before = _rows(
        fixture_builds["db1"],
        "select grade, overrides_fired from risk.fct_risk_grade where entity_id = ?",
        [e15],
    )
    assert before == [("A", None)]
    # a co-operative is graded by the co-operative model, its level an attribute of its type
    model, points = _rows(
        fixture_builds["db1"],
        "select base_model, indicator_points from risk.fct_risk_grade where entity_id = ?",
        [e15],
    )[0]
    assert model == "cooperative"
    assert json.loads(points)["cooperative"]["basis"] == "attribute"
    db = fixture_builds["db2"]
    grade, fired, score = _rows(
        db,
        "select grade, overrides_fired, score from risk.fct_risk_grade where entity_id = ?",
        [e15],
    )[0]
    # the rule: any penalty inside the penalties window -> at least B (seed risk_overrides)
    assert (grade, fired) == ("B", "penalty_recent")
    history = _rows(
        db,
        "select grade, valid_from, valid_to, is_current from risk.fct_risk_grade_history "
        "where entity_id = ? order by valid_from",
        [e15],
    )
    assert [(g, str(f), None if t is None else str(t), c) for g, f, t, c in history] == [
        ("A", ds, ds2, False),
        ("B", ds2, None, True),
    ]
    # grade as of a date: one query
    as_of = (
        "select grade from risk.fct_risk_grade_history where entity_id = ? "
        "and valid_from <= ?::date and (valid_to is null or valid_to > ?::date)"
    )
    assert _rows(db, as_of, [e15, ds, ds]) == [("A",)]
    assert _rows(db, as_of, [e15, ds2, ds2]) == [("B",)]
    # the change report says what changed and why
    change = _rows(
        db,
        "select previous_grade, grade, direction, overrides_started, indicator_changes "
        "from risk.rpt_grade_changes where entity_id = ?",
        [e15],
    )
    assert len(change) == 1
    prev, new, direction, started, indicators = change[0]
    assert (prev, new, direction) == ("A", "B", "风险上升")
    assert "受到行政处罚" in started
    assert "行政处罚次数 0→1" in indicators
    # entities whose grade did not change are not reported
    changed = {e for (e,) in _rows(db, "select entity_id from risk.rpt_grade_changes")}
    assert u["E08"] not in changed and u["E01"] not in changed
    # every change has a cause; E15's is the new penalty, by its event id
    assert _rows(db, "select count(*) from risk.rpt_grade_changes where cause is null") == [(0,)]
    (penalty_event,) = _rows(
        db,
        "select event_id from entity.fct_entity_event where entity_id = ? "
        "and event_type = 'penalty'",
        [e15],
    )[0]
    added, cause = _rows(
        db, "select records_added, cause from risk.rpt_grade_changes where entity_id = ?", [e15]
    )[0]
    assert added == penalty_event
    assert cause.startswith("新增记录：行政处罚") and "德市监罚〔2026〕77号" in cause


def test_loan_ceiling_follows_rule_table(fixture_builds: dict) -> None:
    db = fixture_builds["db1"]
    rows = _rows(
        db,
        "select c.grade, c.entity_type, c.registered_capital, c.suggested_ceiling_wan, "
        "r.capital_multiple, r.min_ceiling_wan, r.max_ceiling_wan "
        "from finance.rpt_credit_loan_ceiling c "
        "join reference.finance_credit_loan_rules r using (entity_type, grade)",
    )
    assert len(rows) == 20
    for grade, _, capital, ceiling, multiple, low, high in rows:
        scaled = float(capital) * multiple if capital is not None else low
        expected = min(high, max(low, scaled))
        assert float(ceiling) == pytest.approx(round(expected, 1)), (grade, capital)
        if grade == "D":
            assert ceiling == 0


def test_weight_change_in_seed_moves_grades_without_sql(
    fixture_builds: dict, tmp_path: Path
) -> None:
    """Raise the general model's points for a first penalty in a copy of the project: E02 (one
    penalty, general model) gains exactly the difference and is graded by its new score."""
    u = fixture_builds["uscc"]
    old_db = fixture_builds["db1"]
    e02 = u["E02"]
    raw_points = _rows(
        old_db,
        "select sum(points) from intermediate.int_risk__indicator_points "
        "where entity_id = ? and model_name = 'general'",
        [e02],
    )[0][0]
    project = _copy_project(tmp_path / "dbt_project")
    weights = project / "seeds" / "risk_indicator_weights.csv"
    with weights.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    (row,) = [
        r
        for r in rows
        if (r["model_name"], r["indicator"], r["method"], float(r["threshold"]))
        == ("general", "penalties_3y", "at_least", 1.0)
    ]
    old_points, new_points = float(row["points"]), 900.0
    row["points"], row["max_points"] = "900", "3600"
    with weights.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    data = tmp_path / "data"
    shutil.copytree(fixture_builds["data"] / "raw", data / "raw")
    shutil.rmtree(data / "raw" / "penalty__amr" / f"load_date={fixture_builds['ds2']}")
    new_db = build_warehouse(_settings(data, project), fixture_builds["ds"], "reweighted.duckdb")
    expected_score = math.floor(max(0.0, min(1000.0, raw_points + new_points - old_points)) + 0.5)
    score, grade, model = _rows(
        new_db,
        "select score, grade, model_name from risk.fct_risk_grade where entity_id = ?",
        [e02],
    )[0]
    assert (score, model) == (expected_score, "general")
    assert grade == max(_grade(expected_score), "B")
    old_grade = _rows(old_db, "select grade from risk.fct_risk_grade where entity_id = ?", [e02])
    assert old_grade == [("B",)] and grade > "B"
    # entities without a penalty keep their grade
    unchanged = u["E15"]
    assert _rows(
        new_db, "select grade from risk.fct_risk_grade where entity_id = ?", [unchanged]
    ) == [("A",)]


def test_score_tracks_latent_risk_on_generated_population(tmp_path_factory) -> None:
    """On the session's generated population, built and published by every stage."""
    mp = pytest.MonkeyPatch()
    try:
        settings = published_copy(tmp_path_factory, mp, "grading_population").settings
    finally:
        mp.undo()
    # the whole build behind the publication: the scorer reads staging and the risk policy
    build = pipeline.served_build(settings)
    assert build is not None and build.name == "built.duckdb"
    result = evaluate(build, settings.ground_truth_dir)
    print(format_report(result))
    assert result["entities"] >= ENTITIES - 50
    assert result["spearman"] >= 0.8
    confusion = result["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == result["entities"]
    # the diagonal dominates its corners: few latent-D entities graded A and vice versa
    assert confusion["A"]["D"] < confusion["A"]["A"] / 10
    assert confusion["D"]["D"] > confusion["D"]["A"]
    assert sum(result["distribution"].values()) == pytest.approx(1.0, abs=1e-3)
    # individual businesses grade like 德城区 (a small population: within 8 points a grade)
    individual = result["distribution_by_type"]["individual"]
    assert individual["D"] > individual["A"] and individual["D"] > 0.2
    assert result["individual_max_deviation"] < 0.08
    assert result["citations"]["bcd_citing_records"] == 1.0
    # each entity type by its own base model
    with duckdb.connect(str(build), read_only=True) as con:
        routed = con.execute(
            "select distinct a.entity_type, g.base_model from risk.fct_risk_grade as g "
            "join intermediate.int_entity__attributes as a using (entity_id) order by 1"
        ).fetchall()
    assert routed == [
        ("cooperative", "cooperative"),
        ("enterprise", "general"),
        ("individual", "individual"),
    ]
    # judged by what the inspectors found: the final grade ranks the checks' outcomes
    outcomes = evaluate_outcomes(build, ground_truth_dir=settings.ground_truth_dir)
    final = outcomes["models"]["final"]
    assert final["checks"] > 50 and final["auc"] > 0.6
    assert final["by_grade"]["D"]["rate"] > final["by_grade"]["A"]["rate"]
    assert outcomes["latent"]["final"]["spearman"] >= 0.8

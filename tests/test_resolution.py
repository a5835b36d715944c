"""Probabilistic entity resolution end to end on a generated population: extract every feed
(the exchange-platform feed over real HTTP), dbt up to the matcher's hand-off, the Splink
matcher, the rest of the dbt build, then resolution quality against the ground truth.

Those are the build stages of the session's first publication (tests/pipeline_fixtures.py):
this module reads a copy of it, the published file being the candidate those stages built."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from panorama.settings import get_settings
from pipeline_fixtures import FIRST_RUN, published_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """The pipeline's own build steps (identity build, matcher, the rest of the build) as the
    first publication ran them; the built candidate put back in that run's folder."""
    from panorama import pipeline
    from panorama_dev.quality.resolution import score

    mp = pytest.MonkeyPatch()
    published = published_copy(tmp_path_factory, mp, "resolution")
    settings = published.settings
    run = pipeline.run_dir(settings, FIRST_RUN)
    db = pipeline.candidate_path(settings, FIRST_RUN)
    shutil.copyfile(pipeline.built_path(settings, FIRST_RUN), db)
    quality = score(db, settings.ground_truth_dir)
    yield {
        "settings": settings,
        "db": db,
        "run": run,
        "match": published.first_build["resolve"],
        "quality": quality,
    }
    mp.undo()


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_precision_and_recall_meet_the_target(resolved):
    q = resolved["quality"]
    print(json.dumps({k: q[k] for k in ("overall", "per_step", "review")}, indent=1))
    assert q["overall"]["precision"] >= 0.995
    assert q["overall"]["recall"] >= 0.97
    assert q["per_step"]["probabilistic"]["precision"] >= 0.99
    assert q["natural_persons"]["linked"] == 0, "a natural person is not the business he runs"
    assert q["outside_register"]["linked"] == 0


def test_complaints_are_linked_mostly_by_the_probabilistic_step(resolved):
    by_method = resolved["quality"]["complaint_links_by_method"]
    assert by_method.get("probabilistic", 0) > 0.6 * sum(by_method.values()), by_method
    assert resolved["quality"]["per_feed"]["complaint__12315"]["recall"] >= 0.95


def test_matches_reach_dbt_with_the_model_version(resolved):
    out, db = resolved["match"], resolved["db"]
    assert Path(out["model_path"]).exists()
    model = json.loads(Path(out["model_path"]).read_text(encoding="utf-8"))
    assert model["link_type"] == "link_only" and len(model["comparisons"]) == 5
    matches = pq.read_table(out["matches_path"]).to_pylist()
    assert matches and {m["model_version"] for m in matches} == {out["model_version"]}
    linked = _rows(
        db,
        "select count(*), min(match_probability), count(distinct match_model_version)"
        " from intermediate.int_resolution__records"
        " where resolution_method = 'probabilistic'",
    )[0]
    assert linked[0] == out["above_threshold"] > 0
    assert linked[1] >= 0.9 and linked[2] == 1


def test_grey_zone_reaches_the_review_report(resolved):
    out, db = resolved["match"], resolved["db"]
    review = pq.read_table(out["review_path"]).to_pylist()
    assert out["review"] > 0 and review
    assert all(r["candidate_rank"] <= 3 for r in review)
    top = {
        r["record_id"]: (r["entity_id"], r["match_probability"])
        for r in review
        if r["candidate_rank"] == 1
    }
    assert all(0.3 <= p < 0.9 for _, p in top.values())
    reported = dict(
        _rows(
            db,
            "select record_id, review_candidate_entity_id"
            " from entity.rpt_unresolved_records"
            " where review_candidate_entity_id is not null",
        )
    )
    assert reported == {rid: e for rid, (e, _) in top.items()}


def test_unmatched_records_are_reported_not_dropped(resolved):
    db = resolved["db"]
    handed_off, linked, unresolved = _rows(
        db,
        """
        select count(*),
            count(*) filter (where r.resolution_method = 'probabilistic'),
            count(*) filter (where u.record_id is not null)
        from intermediate.int_resolution__candidates_unmatched as c
        left join intermediate.int_resolution__records as r using (record_id)
        left join entity.rpt_unresolved_records as u using (record_id)""",
    )[0]
    assert handed_off == linked + unresolved
    vendors = _rows(
        db,
        "select count(*) from entity.rpt_unresolved_records"
        " where feed = 'complaint__12315' and unresolved_reason = 'no_identifier'"
        " and review_candidate_entity_id is null",
    )[0][0]
    assert vendors > 0  # unlicensed street vendors stay unresolved, with their provenance


RESOLUTION_MODELS = (
    "int_resolution__records",
    "rpt_unresolved_records",
    "stg_resolution__probabilistic_matches",
    "int_resolution__candidates_unmatched",
)


def test_dbt_tests_of_resolution_models_pass(resolved):
    """The data tests of the resolution models, as the first run's audit ran them (every data
    test of the project, ``dbt test`` with the matcher's output as a source): each model has
    some, and all passed."""
    run = resolved["run"]
    manifest = json.loads((run / "dbt_target" / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((run / "run_results_test.json").read_text(encoding="utf-8"))
    status = {r["unique_id"]: r["status"] for r in results["results"]}
    for model in RESOLUTION_MODELS:
        tests = [
            uid
            for uid, node in manifest["nodes"].items()
            if node["resource_type"] == "test"
            and f"model.credit_panorama.{model}" in node["depends_on"]["nodes"]
        ]
        assert tests, f"no data test on {model}"
        assert {uid: status.get(uid) for uid in tests} == dict.fromkeys(tests, "pass"), model


def test_names_are_compared_without_place_prefix_and_legal_form(tmp_path):
    from panorama.build.resolution import _prepare_sql, load_divisions

    db = tmp_path / "c.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema intermediate")
        con.execute("""create table intermediate.int_resolution__candidates_unmatched as
            select * from (values
              ('r1', 'complaint', 'ＡＢＣ老张饭店', '德州市德城区新华路１２号',
               null, null, null, null),
              ('r2', 'penalty', '山东鲁祥（德州）商贸有限公司 ', null, null, '王五', null, null),
              ('r3', 'abnormal_list', '平原县平安水果店', null, null, null, 'X',
               'uscc_not_registered')
            ) as t(record_id, record_kind, party_name, address, division_code, legal_rep, uscc,
                   unresolved_reason)""")
        con.execute(
            "alter table intermediate.int_resolution__candidates_unmatched "
            "add column name_key varchar"
        )
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{db}' as cand (read_only)")
    con.execute(
        "create temp view candidates as "
        "select * from cand.intermediate.int_resolution__candidates_unmatched"
    )
    records_sql, _ = _prepare_sql(
        load_divisions(get_settings().dbt_project_dir / "seeds" / "ref_divisions.csv")
    )
    con.execute(records_sql)
    got = {
        r[0]: r[1:]
        for r in con.execute(
            "select unique_id, name_origin, name_full, name_core, address_norm, division "
            "from resolution_records"
        ).fetchall()
    }
    assert got["r1"] == ("consumer", "ABC老张饭店", "ABC老张饭店", "新华路12号", None)
    assert got["r2"] == ("department", "山东鲁祥德州商贸有限公司", "鲁祥德州商贸", None, None)
    assert got["r3"][2:] == ("平安水果店", None, "371426")

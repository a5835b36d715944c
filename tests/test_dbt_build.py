"""Real ``dbt build`` of dbt_project/ on the hand-made raw zone of tests/raw_fixtures.py.

Two builds on one persistent DuckDB file (as the pipeline does): the first at the fixture's
load date (made once per session by tests/raw_fixtures.py, models, seeds and every test), the
second here, a week later, with one more penalty for entity E01 and the registration feed
re-delivered through the real extract, with E09's establishment date unparseable. Assertions
read the DuckDB file the builds wrote.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from panorama import warehouse
from panorama.build.dbt_runner import run_dbt
from panorama.identity import pii
from panorama.ingest.extract import extract_feed
from panorama.ingest.feeds import FeedSpec
from panorama.ingest.kinds import KINDS
from panorama.settings import PROJECT_ROOT, Settings
from raw_fixtures import (
    FIXTURE_DB,
    FIXTURE_RUN_DIR,
    KIND_FIELDS,
    LEGAL_REP_ID,
    SHOP_OPERATOR,
    SHOP_OPERATOR_ID,
    first_build_copy,
    write_extra_penalty,
)

pytestmark = pytest.mark.slow

DBT_PROJECT = PROJECT_ROOT / "dbt_project"
GRADE_RANK = {"A": 1, "B": 2, "C": 3, "D": 4}


def _settings(data: Path) -> Settings:
    return Settings(PROJECT_ROOT, data, data / "feeds", DBT_PROJECT, PROJECT_ROOT / "expectations")


def _redeliver_registration(tmp: Path, ds: str, ds2: str, uscc_bad_date: str) -> dict:
    """The fixture's registration rows as a department CSV for ``ds2``, one establishment date
    unparseable, landed by the real extract into ``tmp/raw`` (the build's raw zone)."""
    fields = KIND_FIELDS["registration"]
    part = tmp / "raw" / "registration__amr" / f"load_date={ds}" / "part-0.parquet"
    rows = pq.read_table(part).to_pylist()
    lines = [",".join(fields)]
    for r in rows:
        if r["uscc"] == uscc_bad_date:
            r = {**r, "established_date": "待定"}
        lines.append(",".join(r[f] or "" for f in fields))
    landing = tmp / "landing" / "registration__amr"
    landing.mkdir(parents=True)
    (landing / "registration.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = FeedSpec.model_validate(
        {
            "name": "registration__amr",
            "kind": "registration",
            "department": "德州市市场监督管理局",
            "transport": {"type": "file", "path": "registration__amr/*.csv"},
            "format": {"type": "csv"},
            "columns": {f: {"source": f} for f in fields},
        }
    )
    return extract_feed(spec, ds2, _settings(tmp)).totals


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    fx, tmp = first_build_copy(tmp_path_factory, "dbt_build")
    raw = tmp / "raw"
    db = tmp / "build" / FIXTURE_DB
    first = tmp / "after_first.duckdb"
    first.write_bytes(db.read_bytes())

    ds2 = (date.fromisoformat(fx["ds"]) + timedelta(days=7)).isoformat()
    write_extra_penalty(raw, ds2, fx["uscc"]["E01"], fx["names"]["E01"], "德市监罚〔2026〕99号")
    totals = _redeliver_registration(tmp, fx["ds"], ds2, fx["uscc"]["E09"])
    # through the pipeline's dbt runner, in a run folder laid out as the first build's: it
    # reuses that build's parse
    run_dir = tmp / "build" / FIXTURE_RUN_DIR
    result = run_dbt(
        ["build"], settings=_settings(tmp), db_path=db, run_dir=run_dir, as_of=ds2, run_id="run2"
    )
    assert result.success, result.log_tail
    manifest = json.loads((run_dir / "dbt_target" / "manifest.json").read_text(encoding="utf-8"))
    dbt_log = (run_dir / "dbt_logs" / "dbt.log").read_text(encoding="utf-8")
    return {
        **fx,
        "db1": first,
        "db2": db,
        "ds2": ds2,
        "redelivery": totals,
        "manifest": manifest,
        "dbt_log": dbt_log,
    }


def test_every_layer_is_built(built: dict) -> None:
    tables = {
        f"{s}.{t}"
        for s, t in _rows(
            built["db1"], "select table_schema, table_name from information_schema.tables"
        )
    }
    for name in (
        "staging.stg_raw__penalty",
        "intermediate.int_resolution__records",
        "intermediate.int_resolution__candidates_unmatched",
        "entity.dim_entity",
        "entity.fct_entity_event",
        "entity.rpt_unresolved_records",
        "entity.fct_entity_relationship",
        "risk.fct_risk_grade",
        "risk.fct_risk_grade_history",
        "risk.rpt_grade_distribution",
        "public_record.pub_entity",
        "public_record.pub_penalty",
        "public_record.pub_abnormal_list",
        "public_record.pub_serious_dishonest",
        "public_record.pub_licence",
        "public_record.pub_spot_check_result",
    ):
        assert name in tables
    (n_entities,) = _rows(built["db1"], "select count(*) from entity.dim_entity")[0]
    assert n_entities == 20


def test_resolution_methods(built: dict) -> None:
    for (kind, label), method in built["expected_methods"].items():
        rows = _rows(
            built["db1"],
            "select distinct resolution_method from entity.fct_entity_event "
            "where event_type = ? and entity_id = ?",
            [kind, built["uscc"][label]],
        )
        assert rows == [(method,)], (kind, label, rows)


def test_unresolved_records_with_reasons_and_nothing_dropped(built: dict) -> None:
    db = built["db1"]
    reasons = dict(
        _rows(
            db, "select unresolved_reason, count(*) from entity.rpt_unresolved_records group by 1"
        )
    )
    assert reasons == built["expected_unresolved"]
    staged = _rows(
        db,
        """
        select sum(n) from (
            select count(*) as n from staging.stg_raw__registration union all
            select count(*) from staging.stg_raw__registration_change union all
            select count(*) from staging.stg_raw__penalty union all
            select count(*) from staging.stg_raw__licence union all
            select count(*) from staging.stg_raw__spot_check union all
            select count(*) from staging.stg_raw__abnormal_list union all
            select count(*) from staging.stg_raw__abnormal_state union all
            select count(*) from staging.stg_raw__serious_dishonest union all
            select count(*) from staging.stg_raw__court_dishonest union all
            select count(*) from staging.stg_raw__complaint union all
            select count(*) from staging.stg_raw__annual_report)""",
    )[0][0]
    # a person's court record on the timeline of the business it runs stays unresolved
    linked = _rows(
        db,
        "select count(distinct record_id) from entity.fct_entity_event "
        "where event_type <> 'legal_rep_court_dishonest'",
    )[0][0]
    unresolved = _rows(db, "select count(*) from entity.rpt_unresolved_records")[0][0]
    assert linked + unresolved == staged
    # the natural person's ID-card number is masked, never stored whole
    masked = _rows(
        db,
        "select id_code_masked from entity.rpt_unresolved_records "
        "where unresolved_reason = 'natural_person'",
    )
    assert masked and built["person_id"] not in masked[0][0] and "*" in masked[0][0]
    # the matcher hand-off lists the unresolved records that may be entities
    candidates = {
        r[0]
        for r in _rows(
            db, "select unresolved_reason from intermediate.int_resolution__candidates_unmatched"
        )
    }
    assert candidates == {"no_identifier", "uscc_invalid_name_mismatch", "uscc_not_registered"}


def test_duplicates_collapse_and_full_feeds_use_latest_load(built: dict) -> None:
    db, u = built["db1"], built["uscc"]
    penalties = _rows(
        db,
        "select amount, feed from entity.fct_entity_event "
        "where event_type = 'penalty' and entity_id = ?",
        [u["E01"]],
    )
    assert len(penalties) == 1 and float(penalties[0][0]) == 2.0
    abnormal = dict(
        _rows(
            db,
            "select entity_id, abnormal_list_now from entity.dim_entity "
            "where entity_id in (?, ?, ?)",
            [u["E10"], u["E11"], u["E20"]],
        )
    )
    assert abnormal == {u["E10"]: True, u["E11"]: False, u["E20"]: False}
    licences = _rows(
        db,
        "select expired_licence_count, valid_licence_count from entity.dim_entity "
        "where entity_id = ?",
        [u["E14"]],
    )
    assert licences == [(1, 0)]
    missed = _rows(
        db,
        "select annual_report_years_missed from entity.dim_entity where entity_id = ?",
        [u["E16"]],
    )
    assert missed == [(2,)]


def test_overrides_and_grades(built: dict) -> None:
    db, u = built["db1"], built["uscc"]
    grades = {
        r[0]: r[1:]
        for r in _rows(
            db, "select entity_id, grade, overrides_fired, reasons from risk.fct_risk_grade"
        )
    }
    assert len(grades) == 20
    for label, grade in built["expected_grade"].items():
        assert grades[u[label]][0] == grade, label
    assert grades[u["E08"]][1] == "serious_dishonest_now"
    assert grades[u["E04"]][1] == "court_debtor_now"
    for label, minimum in built["expected_min_grade"].items():
        assert GRADE_RANK[grades[u[label]][0]] >= GRADE_RANK[minimum], label
    assert grades[u["E10"]][1] == "abnormal_list_now"
    assert grades[u["E13"]][1] == "highly_sensitive_industry"
    # a listing that ended fires no override
    assert grades[u["E09"]][1] is None
    assert "现列入严重违法失信名单" in grades[u["E08"]][2]
    # E19 shares E08's legal representative: related to a dishonest entity
    related = _rows(
        db,
        "select related_bad_entities from intermediate.int_risk__indicators where entity_id = ?",
        [u["E19"]],
    )
    assert related == [(1,)]
    shares = _rows(
        db, "select sum(entity_share) from risk.rpt_grade_distribution where breakdown = 'total'"
    )
    assert abs(shares[0][0] - 1.0) < 1e-6


def test_public_record_has_no_grade_score_or_personal_data(built: dict) -> None:
    db = built["db1"]
    columns = _rows(
        db,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'public_record'",
    )
    assert {t for t, _, _ in columns} == {
        "pub_entity",
        "pub_penalty",
        "pub_abnormal_list",
        "pub_serious_dishonest",
        "pub_licence",
        "pub_spot_check_result",
        "pub_credit_code",
        "pub_model_shop",
    }
    for table, column, _ in columns:
        for word in ("grade", "score", "risk", "id_no", "phone", "legal_rep", "override"):
            assert word not in column.lower(), (table, column)
    phones = {r[0] for r in _rows(db, "select phone from intermediate.int_resolution__registry")}
    secrets = phones | {LEGAL_REP_ID, built["person_id"]}
    for table, column, dtype in columns:
        if dtype != "VARCHAR":
            continue
        values = {r[0] for r in _rows(db, f'select distinct "{column}" from public_record.{table}')}
        assert not values & secrets, (table, column)


def test_second_build_keeps_grade_history(built: dict) -> None:
    u, ds, ds2 = built["uscc"], built["ds"], built["ds2"]
    db = built["db2"]
    history = _rows(
        db,
        "select score, valid_from, valid_to, is_current from risk.fct_risk_grade_history "
        "where entity_id = ? order by valid_from",
        [u["E01"]],
    )
    assert len(history) == 2
    (old_score, from1, to1, cur1), (new_score, from2, to2, cur2) = history
    assert (str(from1), str(to1), cur1) == (ds, ds2, False)
    assert (str(from2), to2, cur2) == (ds2, None, True)
    assert new_score > old_score
    # grade as of a date: one query
    as_of_first = _rows(
        db,
        "select score from risk.fct_risk_grade_history where entity_id = ? "
        "and valid_from <= ?::date and (valid_to is null or valid_to > ?::date)",
        [u["E01"], ds, ds],
    )
    assert as_of_first == [(old_score,)]
    # entities whose facts did not change keep one open period
    unchanged = _rows(
        db, "select count(*) from risk.fct_risk_grade_history where entity_id = ?", [u["E15"]]
    )
    assert unchanged == [(1,)]
    events = _rows(
        db,
        "select count(*) from entity.fct_entity_event "
        "where event_type = 'penalty' and entity_id = ?",
        [u["E01"]],
    )
    assert events == [(2,)]


def test_second_build_on_a_new_date_reuses_the_parse(built: dict) -> None:
    """The second build is another logical date (and another run): dbt did not parse the
    project from scratch, since the date and the run id are no dbt vars; they still reached the
    models (the history above opens its periods on each build's date)."""
    log = built["dbt_log"]
    assert log.count("running dbt with arguments") == 1
    assert "Unable to do partial parsing" not in log
    assert "Starting full parse" not in log
    runs = _rows(built["db2"], "select distinct run_id, as_of_date from risk.fct_risk_grade")
    assert [(r, str(d)) for r, d in runs] == [("run2", built["ds2"])]


def test_spot_check_plan_is_drawn_by_the_ratios_and_kept(built: dict) -> None:
    """The quarter's plan: every active graded entity in one stratum, ceil(ratio × population)
    drawn per stratum by the seeded md5 order (recomputed here from the grades), two different
    inspectors each; the second build of the same quarter keeps the plan as drawn."""
    import hashlib
    import math
    from decimal import Decimal

    cols = "plan_id, entity_id, stratum, grade_at_draw, inspector_1, inspector_2, draw_seed"
    plan1 = _rows(built["db1"], f"select {cols} from supervision.fct_spot_check_plan order by 2")
    plan2 = _rows(built["db2"], f"select {cols} from supervision.fct_spot_check_plan order by 2")
    assert plan1 and plan1 == plan2  # 2026-11-25 and 2026-12-02: one quarter, one plan
    assert len({p[2] for p in plan1}) >= 3  # several strata drawn from
    assert {p[0] for p in plan1} == {"2026Q4"}
    seed = plan1[0][6]

    population = _rows(
        built["db1"],
        "select e.entity_id, g.grade, e.annual_report_years_missed, g.score "
        "from entity.dim_entity e "
        "join risk.fct_risk_grade g using (entity_id) where e.status in ('存续', '在业')",
    )
    ratios = {
        s: Decimal(str(r))
        for s, r in _rows(
            built["db1"], "select stratum, ratio from reference.supervision_spot_check_ratios"
        )
    }
    active = dict(
        _rows(built["db1"], "select stratum, active from reference.supervision_spot_check_ratios")
    )
    strata: dict[str, list[str]] = {}
    for entity_id, grade, missed, score in population:
        met = [f"grade_{grade}"] + ["no_annual_report_2y"] * (missed >= 2)
        met += ["highest_risk"] * (score >= 1000 and active["highest_risk"])
        stratum = max(met, key=lambda s: ratios[s])  # the highest ratio that applies
        strata.setdefault(stratum, []).append(entity_id)

    def key(*parts: str) -> str:
        return hashlib.md5("|".join([seed, "2026Q4", *parts]).encode()).hexdigest()

    expected = set()
    for stratum, members in strata.items():
        take = math.ceil(ratios[stratum] * len(members))
        ranked = sorted(members, key=lambda e, s=stratum: (key(s, e), e))
        expected |= {(e, stratum) for e in ranked[:take]}
    assert {(p[1], p[2]) for p in plan1} == expected
    assert all(p[4] and p[5] and p[4] != p[5] for p in plan1)
    summary = _rows(
        built["db1"], "select drawn, ratio, population from supervision.rpt_spot_check_plan"
    )
    assert all(d == math.ceil(Decimal(str(r)) * n) for d, r, n in summary)
    drawn_by = _rows(
        built["db2"], "select distinct drawn_by_run from supervision.fct_spot_check_plan"
    )
    assert drawn_by == [("run1",)]  # kept from the first build, not drawn again


def test_distinct_records_whose_old_keys_collided_stay_apart(built: dict) -> None:
    """Two checks of one entity in one task (other date, other inspectors) are two records; two
    homonym shops' reports of one year known by name only are two records; an exact
    re-delivery still collapses."""
    db, u = built["db1"], built["uscc"]
    checks = _rows(
        db,
        "select task_id, check_date, inspectors, n_deliveries from staging.stg_raw__spot_check "
        "where uscc = ? order by check_date",
        [u["E17"]],
    )
    assert len(checks) == built["distinct_pairs"][("spot_check", "E17")]
    assert len({(task, u["E17"]) for task, *_ in checks}) == 1  # the old key: task + code
    assert [c[3] for c in checks] == [2, 1]  # the first one was delivered twice
    events = _rows(
        db,
        "select count(*) from entity.fct_entity_event "
        "where event_type = 'spot_check' and entity_id = ?",
        [u["E17"]],
    )
    assert events == [(2,)]
    name, year, expected = built["homonym_reports"]
    reports = _rows(
        db,
        "select is_filed from staging.stg_raw__annual_report "
        "where party_name = ? and report_year = ? order by is_filed",
        [name, year],
    )
    assert reports == [(False,), (True,)] and len(reports) == expected


def test_resident_id_number_passing_the_uscc_check_is_a_masked_person(
    built: dict, tmp_path: Path
) -> None:
    """The shop operator's ID number passes GB 32100 too: still a natural person, masked,
    and no full ID number in any table of the build or in the Parquet exports."""
    from panorama.identity.codes import is_valid_uscc

    assert is_valid_uscc(SHOP_OPERATOR_ID) and pii.is_resident_id_number(SHOP_OPERATOR_ID)
    db = built["db1"]
    court = _rows(
        db,
        "select id_code_type, uscc, id_code_masked, person_id_hash, md5(?), sha256(?) "
        "from staging.stg_raw__court_dishonest where case_no = '(2025)鲁1402执3333号'",
        [SHOP_OPERATOR_ID, SHOP_OPERATOR_ID],
    )
    assert len(court) == 1
    kind, uscc, masked, hashed, plain_md5, plain_sha = court[0]
    assert (kind, uscc) == ("id_card", None)
    assert SHOP_OPERATOR_ID not in masked and "*" in masked
    assert hashed and hashed not in (plain_md5, plain_sha)  # keyed, not a bare hash
    unresolved = _rows(
        db,
        "select party_name, id_code_masked from entity.rpt_unresolved_records "
        "where unresolved_reason = 'natural_person' and party_name like '王%'",
    )
    assert (SHOP_OPERATOR[0] + "**", masked) in unresolved
    secrets = set(built["person_ids"])
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_schema not in ('main', 'information_schema')"
        ).fetchall()
        assert {s for s, _, _ in columns} >= {"staging", "intermediate", "entity", "risk"}
        for schema, table, column in columns:
            q = f'"{schema}"."{table}"'
            c = f'"{column}"'
            leaked = con.execute(
                f"select count(*) from {q} where {c} in (select unnest(?::varchar[]))"
                f" or {pii.sql_has_id_card_number(c)}",
                [sorted(secrets)],
            ).fetchone()[0]
            assert leaked == 0, (schema, table, column)
    exported = warehouse.export_parquet(db, tmp_path / "exports", warehouse.PUBLISHED_SCHEMAS)
    assert any("rpt_unresolved_records" in name for name in exported)
    with duckdb.connect() as con:
        for path in exported.values():
            text = str(con.execute(f"select * from read_parquet('{path}')").fetchall())
            assert not [s for s in secrets if s in text], path.name
            assert not pii.find_id_card_numbers(text), path.name


def test_court_debtor_is_linked_to_the_businesses_he_runs(built: dict) -> None:
    """The shop E12's operator and E18's legal representative are on the dishonest-debtor
    list: a relationship with the court record's provenance, the indicator fires with that
    record as evidence. E01's representative's ID number under another name links nothing."""
    db, u = built["db1"], built["uscc"]
    labels = {v: k for k, v in u.items()}
    links = {
        labels[r[0]]: r[1:]
        for r in _rows(
            db,
            "select entity_id_a, relationship_type, related_record_id, related_reference, "
            "source_feed, source_file, source_row, entity_id_b, shared_value_hash "
            "from entity.fct_entity_relationship where related_record_id is not null",
        )
    }
    assert {k: v[0] for k, v in links.items()} == built["debtor_links"]
    (court_id,) = _rows(
        db,
        "select record_id from staging.stg_raw__court_dishonest "
        "where case_no = '(2025)鲁1402执3333号'",
    )[0]
    rtype, record_id, reference, feed, source_file, source_row, other, hashed = links["E12"]
    assert record_id == court_id and "(2025)鲁1402执3333号" in reference
    assert feed == "court_dishonest__court" and source_file.endswith(".csv") and source_row == 3
    assert other is None and SHOP_OPERATOR_ID not in hashed
    fired = dict(
        _rows(
            db,
            "select entity_id, legal_rep_court_debtor from intermediate.int_risk__indicators",
        )
    )
    assert {labels[e] for e, v in fired.items() if v} == set(built["debtor_links"])
    evidence = _rows(
        db,
        "select record_id, event_id, reference from intermediate.int_risk__indicator_evidence "
        "where indicator = 'legal_rep_court_debtor' and entity_id = ?",
        [u["E12"]],
    )
    assert len(evidence) == 1 and evidence[0][0] == court_id
    assert "(2025)鲁1402执3333号" in evidence[0][2]
    event = _rows(
        db,
        "select event_type, record_id, summary from entity.fct_entity_event where event_id = ?",
        [evidence[0][1]],
    )
    assert event == [("legal_rep_court_dishonest", court_id, event[0][2])]
    assert event[0][2].startswith("经营者为失信被执行人")
    points = _rows(
        db,
        "select points from intermediate.int_risk__indicator_points "
        "where entity_id = ? and indicator = 'legal_rep_court_debtor'",
        [u["E12"]],
    )
    assert points and all(p[0] > 0 for p in points)


def test_registration_with_a_bad_date_keeps_its_entity(built: dict) -> None:
    """A registration whose establishment date cannot be read stays in the register with the
    date null and its issue recorded; its entity stays in the panorama. Files of the other
    feeds, written without ``_issues``, still read."""
    db, uscc = built["db2"], built["uscc"]["E09"]
    assert built["redelivery"]["rows_quarantined"] == 0
    assert built["redelivery"]["fields_nulled"] == 1
    (issues,) = _rows(
        db, "select data_issues from staging.stg_raw__registration where uscc = ?", [uscc]
    )[0]
    assert [i["field"] for i in json.loads(issues)] == ["established_date"]
    assert _rows(
        db, "select established_date from entity.dim_entity where entity_id = ?", [uscc]
    ) == [(None,)]
    (registration_issues,) = _rows(
        db, "select registration_issues from entity.dim_entity where entity_id = ?", [uscc]
    )[0]
    assert json.loads(registration_issues) == json.loads(issues)
    assert _rows(db, "select count(*) from entity.dim_entity")[0][0] == 20
    clean = _rows(db, "select count(*) from staging.stg_raw__penalty where data_issues is not null")
    assert clean == [(0,)]


def _models(manifest: dict) -> dict[str, dict]:
    return {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def test_every_model_has_a_primary_key_test(built: dict) -> None:
    """unique + not_null on one column, or unique_combination on the key columns (the rule
    of dbt-project-evaluator), for every model of the project."""
    keyed: dict[str, set[str]] = {}
    combined: set[str] = set()
    for node in built["manifest"]["nodes"].values():
        meta = node.get("test_metadata") or {}
        model = node.get("attached_node")
        if node["resource_type"] != "test" or not model:
            continue
        if meta.get("name") == "unique_combination":
            combined.add(model)
        elif meta.get("name") in ("unique", "not_null"):
            keyed.setdefault(f"{model}:{node['column_name']}", set()).add(meta["name"])
    with_key = combined | {
        k.split(":")[0] for k, tests in keyed.items() if tests == {"unique", "not_null"}
    }
    missing = sorted(n["name"] for k, n in _models(built["manifest"]).items() if k not in with_key)
    assert not missing, missing


def test_every_source_table_feeds_a_model(built: dict) -> None:
    """A source read only under a var (the probabilistic matches, off in this build) is still
    an edge of the DAG, so lineage and selection see it."""
    manifest = built["manifest"]
    parents = {p for n in _models(manifest).values() for p in n["depends_on"]["nodes"]}
    assert set(manifest["sources"]) <= parents, sorted(set(manifest["sources"]) - parents)
    matches = manifest["nodes"]["model.credit_panorama.stg_resolution__probabilistic_matches"]
    assert matches["depends_on"]["nodes"] == [
        "source.credit_panorama.resolution.probabilistic_matches"
    ]


def test_staging_keeps_the_latest_load_of_exactly_the_full_deliveries(built: dict) -> None:
    """Each kind's staging model on the shared skeleton: latest_load_only where the kind is a
    full delivery (panorama.ingest.kinds), never for an incremental one; every model dedupes."""
    models = _models(built["manifest"])
    for kind, spec in KINDS.items():
        macros = models[f"model.credit_panorama.stg_raw__{kind}"]["depends_on"]["macros"]
        is_latest_only = "macro.credit_panorama.latest_load_only" in macros
        assert is_latest_only == (spec.delivery == "full"), kind
        assert "macro.credit_panorama.dedupe_by_record_id" in macros, kind
        assert "macro.credit_panorama.record_id" in macros, kind

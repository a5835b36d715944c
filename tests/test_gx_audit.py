"""The Great Expectations gate on small candidate DuckDB files built here.

One clean candidate must pass; one candidate carrying every corruption at once (each on its own
rows, so the findings cannot hide one another) must report each with its message and keys.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from panorama.gate.gx_audit import GxResult, load_gate_config, run_checkpoint
from panorama.identity.codes import make_uscc
from panorama.settings import get_settings

AS_OF = date(2024, 6, 30)
N_ENTITIES = 120
EVENTS_PER_ENTITY = 4
GRADES = "ABCD"

ID_CARD = "11010519491231002X"  # valid MOD 11-2 check character
PHONE = "13912345678"


def _uscc(i: int) -> str:
    kind = "123"[i % 3]
    body = f"MA{i:06d}" if i % 2 else f"{i + 10_000_000:08d}"
    return make_uscc("9", kind, "371402", body)


def build_candidate(path: Path, n: int = N_ENTITIES) -> list[str]:
    """A small candidate with every table the gate reads; returns the entity ids."""
    ids = [_uscc(i) for i in range(n)]
    types = {"1": "enterprise", "2": "individual", "3": "cooperative"}
    con = duckdb.connect(str(path))
    try:
        for schema in ("entity", "risk", "public_record"):
            con.execute(f"create schema {schema}")
        con.execute(
            "create table entity.dim_entity (entity_id varchar, uscc varchar, name varchar, "
            "entity_type varchar, division_code varchar, status varchar, "
            "established_date date, n_events integer, entity_name varchar, "
            "registered_capital decimal(18, 4), penalty_amount_total decimal(18, 4))"
        )
        con.executemany(
            "insert into entity.dim_entity values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    u,
                    u,
                    f"德州市测试商户{i}",
                    types[u[1]],
                    "371402",
                    "存续",
                    date(2010, 1, 1) + timedelta(days=i),
                    EVENTS_PER_ENTITY,
                    f"德州市测试商户{i}",
                    100 + i,
                    0.5 * (i % 3),
                ]
                for i, u in enumerate(ids)
            ],
        )
        con.execute(
            "create table entity.fct_entity_event (event_id varchar, entity_id varchar, "
            "event_type varchar, event_date date, feed varchar, source_file varchar, "
            "source_row integer, amount decimal(18, 4))"
        )
        con.executemany(
            "insert into entity.fct_entity_event values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    f"E{i:05d}{k}",
                    u,
                    "penalty",
                    AS_OF - timedelta(days=i + k),
                    "penalties",
                    "penalties_2024.csv",
                    i * EVENTS_PER_ENTITY + k,
                    0.5 if k else None,
                ]
                for i, u in enumerate(ids)
                for k in range(EVENTS_PER_ENTITY)
            ],
        )
        con.execute(
            "create table entity.rpt_unresolved_records as select 'complaints' as feed, "
            "'complaints.csv' as source_file, range as source_row, "
            "'no_identifier' as unresolved_reason from range(5)"
        )
        con.execute(
            "create table risk.fct_risk_grade (entity_id varchar, model_name varchar, "
            "score integer, grade varchar, overrides_fired varchar, reasons varchar, "
            "as_of_date date)"
        )
        con.executemany(
            "insert into risk.fct_risk_grade values (?, 'general', ?, ?, '', '', ?)",
            [[u, [100, 300, 600, 800][i % 4], GRADES[i % 4], AS_OF] for i, u in enumerate(ids)],
        )
        con.execute(
            "create table risk.fct_risk_grade_history as select entity_id, grade, score, "
            "as_of_date as valid_from, cast(null as date) as valid_to, true as is_current "
            "from risk.fct_risk_grade"
        )
        con.execute(
            "create table public_record.pub_entity as select uscc, name, entity_name, "
            "entity_type, division_code, registered_capital, established_date, status "
            "from entity.dim_entity"
        )
        con.execute(
            "create table public_record.pub_penalty as select e.entity_id as uscc, d.name "
            "as entity_name, d.name as party_name, '德市监罚〔2024〕' || e.source_row || '号' "
            "as decision_no, '罚款' as penalty_type, e.event_date as decision_date, "
            "0.5::decimal(18, 4) as fine_amount, 0.12::decimal(18, 4) as confiscation_amount, "
            "e.event_date + 1095 as publicity_until, "
            "'' as remarks from entity.fct_entity_event e join entity.dim_entity d "
            "using (entity_id) where e.event_id like '%0'"
        )
        con.execute(
            "create table public_record.pub_abnormal_list as select uscc, name as entity_name, "
            "'未按期报送年度报告' as listed_reason, date '2023-07-01' as list_date, "
            "cast(null as date) as remove_date "
            "from entity.dim_entity where entity_type = 'enterprise'"
        )
        con.execute(
            "create table public_record.pub_serious_dishonest as select uscc, name as "
            "entity_name, '列入经营异常名录届满3年' as listed_reason, date '2023-07-01' "
            "as list_date, date '2024-05-01' as remove_date "
            "from entity.dim_entity where entity_type = 'enterprise' limit 5"
        )
        con.execute(
            "create table public_record.pub_licence as select uscc, name as party_name, "
            "date '2022-05-05' as decision_date, date '2030-05-04' as publicity_until "
            "from entity.dim_entity where entity_type = 'enterprise' limit 20"
        )
        con.execute(
            "create table public_record.pub_spot_check_result as select uscc, name as "
            "entity_name, date '2024-05-05' as check_date, date '2027-05-04' as publicity_until "
            "from entity.dim_entity limit 20"
        )
    finally:
        con.close()
    return ids


def _baseline(path: Path, shares: dict[str, float] | None = None) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables()"
        ).fetchall()
        counts = {}
        for (table,) in rows:
            ((n,),) = con.execute(f"select count(*) from {table}").fetchall()
            counts[table] = n
        actual = dict(
            con.execute(
                "select grade, count(*) / sum(count(*)) over () from risk.fct_risk_grade "
                "group by grade"
            ).fetchall()
        )
    finally:
        con.close()
    return {"row_counts": counts, "grade_shares": shares or actual}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("clean") / "candidate.duckdb"
    return path, build_candidate(path)


def _find(res: GxResult, table: str, expectation: str, column: str | None) -> dict:
    hits = [
        f
        for f in res.failures
        if f["table"] == table and f["expectation"] == expectation and f["column"] == column
    ]
    assert hits, f"no {expectation} failure on {table}.{column}: {res.failures}"
    return hits[0]


def _dbt_column_tests() -> set[tuple[str, str, str]]:
    """(model, column, test) of every generic dbt data test on a model's column."""
    import yaml

    out = set()
    for path in (get_settings().dbt_project_dir / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    kind = test if isinstance(test, str) else next(iter(test))
                    out.add((model["name"], column["name"], kind))
    return out


def _gx_structural_checks(suite: dict) -> list[tuple[str, str]]:
    """(column, dbt test kind) of the suite's checks that a dbt generic test could own."""
    derived = suite["meta"]["panorama"].get("derived", {})
    out = []
    for exp in suite["expectations"]:
        column = exp["kwargs"].get("column")
        spec = derived.get(column)
        if exp["type"] == "expect_column_values_to_not_be_null":
            out.append((column, "not_null"))
        elif spec and spec["kind"] == "occurrences" and len(spec["columns"]) == 1:
            out.append((spec["columns"][0], "unique"))
        elif spec and spec["kind"] == "reference":
            out.append((spec["column"], "relationships"))
        elif exp["type"] == "expect_column_values_to_be_in_set" and not spec:
            out.append((column, "accepted_values"))
    return out


def test_each_structural_check_runs_once() -> None:
    """Keys, relationships, not-nulls and accepted values of a published table are dbt tests;
    the GX suite of that table does not repeat them (the gate runs each check once)."""
    dbt_tests = _dbt_column_tests()
    assert ("dim_entity", "entity_id", "unique") in dbt_tests
    repeated = [
        (suite["name"], column, kind)
        for suite in load_gate_config().suites
        for column, kind in _gx_structural_checks(suite)
        if (suite["name"].partition(".")[2], column, kind) in dbt_tests
    ]
    assert repeated == []


def test_suites_load_one_per_published_table() -> None:
    names = {s["name"] for s in load_gate_config().suites}
    assert {
        "entity.dim_entity",
        "entity.fct_entity_event",
        "entity.rpt_unresolved_records",
        "risk.fct_risk_grade",
        "risk.fct_risk_grade_history",
        "public_record.pub_entity",
        "public_record.pub_penalty",
        "public_record.pub_abnormal_list",
        "public_record.pub_serious_dishonest",
        "public_record.pub_licence",
        "public_record.pub_spot_check_result",
        "public_record.columns",
    } <= names


def test_clean_candidate_passes_and_builds_docs(clean, tmp_path: Path) -> None:
    path, _ = clean
    res = run_checkpoint(
        path, AS_OF, "run-clean", docs_dir=tmp_path / "docs", baseline=_baseline(path)
    )
    assert res.failures == []
    assert res.success
    assert res.statistics["evaluated_expectations"] > 50
    assert res.statistics["unsuccessful_expectations"] == 0
    assert res.statistics["rows"]["entity.fct_entity_event"] == N_ENTITIES * EVENTS_PER_ENTITY
    assert "public_record.pub_entity:row_count" in res.statistics["baseline_checks"]
    assert "risk.fct_risk_grade:grade_shares" in res.statistics["baseline_checks"]
    assert res.docs_index == tmp_path / "docs" / "index.html"
    assert "entity.dim_entity" in res.docs_index.read_text(encoding="utf-8")
    json.dumps(res.to_dict())


def test_first_publication_skips_baseline_checks(clean) -> None:
    path, _ = clean
    res = run_checkpoint(path, AS_OF, "run-first")
    assert res.success, res.failures
    assert res.statistics["baseline_checks"] == []
    assert res.docs_index is None


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[GxResult, list[str], Path]:
    folder = tmp_path_factory.mktemp("corrupted")
    path = folder / "candidate.duckdb"
    ids = build_candidate(path)
    baseline = _baseline(path, shares={"A": 0.70, "B": 0.05, "C": 0.05, "D": 0.20})
    baseline["row_counts"]["entity.dim_entity"] = 10 * N_ENTITIES  # the table collapsed
    bad_check = ids[7][:17] + ("0" if ids[7][17] != "0" else "1")
    con = duckdb.connect(str(path))
    try:
        con.execute(
            f"insert into entity.dim_entity select * from entity.dim_entity "
            f"where entity_id = '{ids[3]}'"
        )
        con.execute(f"update entity.dim_entity set entity_id = null where entity_id = '{ids[5]}'")
        con.execute(
            f"update entity.dim_entity set uscc = '{bad_check}' where entity_id = '{ids[7]}'"
        )
        # personal data as a key: it must be caught, and reported masked
        con.execute(
            f"update entity.dim_entity set entity_id = '{ID_CARD}' where entity_id = '{ids[9]}'"
        )
        con.execute(f"update risk.fct_risk_grade set grade = 'E' where entity_id = '{ids[11]}'")
        con.execute(f"update risk.fct_risk_grade set score = 1200 where entity_id = '{ids[13]}'")
        con.execute(
            f"update entity.fct_entity_event set event_date = date '{AS_OF}' + 1 "
            f"where event_id = 'E000152'"
        )
        con.execute(
            "insert into entity.fct_entity_event values ('E_ORPHAN', "
            f"'{_uscc(N_ENTITIES + 1)}', 'penalty', date '2024-01-02', 'penalties', "
            "'penalties_2024.csv', 99999, -3)"
        )
        con.execute(
            f"update public_record.pub_penalty set remarks = '当事人身份证 {ID_CARD}' "
            f"where uscc = '{ids[20]}'"
        )
        con.execute(
            f"update public_record.pub_abnormal_list set listed_reason = "
            f"'联系电话{PHONE}' where uscc = '{ids[21]}'"
        )
        # a court record of a person whose ID number was taken for a code, shipped unmasked
        con.execute("alter table entity.rpt_unresolved_records add column id_code_masked varchar")
        con.execute(
            "insert into entity.rpt_unresolved_records values "
            f"('court', 'court.csv', 99, 'uscc_not_registered', '{ID_CARD}')"
        )
        # implausible values: a negative fine, a fine above 1 亿元, a decision years ahead,
        # a name with a NUL character, an establishment date before 1900
        con.execute(
            f"update public_record.pub_penalty set fine_amount = -0.5 where uscc = '{ids[30]}'"
        )
        con.execute(
            f"update public_record.pub_penalty set fine_amount = 30000 where uscc = '{ids[31]}'"
        )
        con.execute(
            f"update public_record.pub_penalty set decision_date = date '{AS_OF}' + 400 "
            f"where uscc = '{ids[32]}'"
        )
        con.execute(
            "update public_record.pub_entity set entity_name = '德州' || chr(0) || '某某' "
            f"where uscc = '{ids[33]}'"
        )
        con.execute(
            "update entity.dim_entity set established_date = date '1899-12-31' "
            f"where entity_id = '{ids[34]}'"
        )
        con.execute("alter table public_record.pub_entity add column grade varchar")
        con.execute("alter table public_record.pub_entity add column legal_rep_sfzh varchar")
    finally:
        con.close()
    docs = folder / "docs"
    return run_checkpoint(path, AS_OF, "run-bad", docs_dir=docs, baseline=baseline), ids, docs


def test_corrupted_candidate_fails(corrupted) -> None:
    res, _, _ = corrupted
    assert not res.success
    assert res.statistics["unsuccessful_expectations"] >= 12


def test_invalid_uscc_check_character(corrupted) -> None:
    res, ids, _ = corrupted
    f = _find(res, "entity.dim_entity", "expect_column_values_to_be_in_set", "uscc")
    assert "fail the USCC check characters" in f["message"]
    assert f["examples"] == [ids[7]]
    # the shape is still right: only the computed check catches it
    assert not any(
        x["column"] == "uscc"
        and x["expectation"] == "expect_column_values_to_match_regex"
        and x["table"] == "entity.dim_entity"
        for x in res.failures
    )


def test_id_card_number_as_key_is_caught_and_masked(corrupted) -> None:
    res, _, _ = corrupted
    f = _find(res, "entity.dim_entity", "expect_column_values_to_match_regex", "entity_id")
    assert f["examples"] == ["[ID-card number masked]"]


def test_score_outside_range(corrupted) -> None:
    res, ids, _ = corrupted
    f = _find(res, "risk.fct_risk_grade", "expect_column_values_to_be_between", "score")
    assert f["message"] == "1 rows have a score outside [0, 1000]"
    assert f["examples"] == [ids[13]]


def test_event_after_as_of(corrupted) -> None:
    res, _, _ = corrupted
    f = _find(res, "entity.fct_entity_event", "expect_column_values_to_be_between", "event_date")
    assert f["message"] == "1 events have event_date after the as-of date 2024-06-30"
    assert f["examples"] == ["E000152"]


def test_id_card_number_in_public_table(corrupted) -> None:
    res, ids, _ = corrupted
    f = _find(
        res, "public_record.pub_penalty", "expect_column_values_to_be_in_set", "_no_id_card_number"
    )
    assert f["message"].startswith("1 rows of public_record.pub_penalty carry an ID-card number")
    assert f["examples"] == [ids[20]]


def test_id_card_number_in_unresolved_records(corrupted) -> None:
    res, _, _ = corrupted
    f = _find(
        res,
        "entity.rpt_unresolved_records",
        "expect_column_values_to_be_in_set",
        "_no_id_card_number",
    )
    assert f["message"].startswith("1 rows of entity.rpt_unresolved_records carry an ID-card")
    assert f["examples"] == ["court|court.csv|99"]


def test_phone_number_in_public_table(corrupted) -> None:
    res, ids, _ = corrupted
    f = _find(
        res,
        "public_record.pub_abnormal_list",
        "expect_column_values_to_be_in_set",
        "_no_mobile_number",
    )
    assert "mobile phone number" in f["message"]
    assert f["examples"] == [ids[21]]


def test_grade_and_id_card_columns_in_public_table(corrupted) -> None:
    res, _, _ = corrupted
    f = _find(
        res, "public_record.columns", "expect_column_values_to_not_match_regex", "column_name"
    )
    assert sorted(f["examples"]) == [
        "public_record.pub_entity.grade",
        "public_record.pub_entity.legal_rep_sfzh",
    ]


def test_row_count_collapse(corrupted) -> None:
    res, _, _ = corrupted
    f = _find(res, "entity.dim_entity", "expect_table_row_count_to_be_between", None)
    assert f["message"] == (
        f"row count {N_ENTITIES + 1} is outside [600, 1800] (previous publication 1200)"
    )


def test_grade_drift(corrupted) -> None:
    res, _, _ = corrupted
    f = _find(res, "risk.fct_risk_grade", "expect_column_mean_to_be_between", "grade")
    assert f["message"].startswith("share of grade A is 0.25")
    assert "previous publication 0.7" in f["message"]
    drifted = [x for x in res.failures if x["expectation"].endswith("mean_to_be_between")]
    # A fell from 0.70, B and C rose from 0.05; D (0.24 vs 0.20) stayed within 15 points
    assert [x["message"][:16] for x in drifted] == [f"share of grade {g}" for g in "ABC"]


def test_no_personal_data_in_report_or_docs(corrupted) -> None:
    res, _, docs = corrupted
    report = json.dumps(res.to_dict(), ensure_ascii=False)
    assert ID_CARD not in report and PHONE not in report
    assert res.docs_index is not None
    for page in docs.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert ID_CARD not in text and PHONE not in text, page


def test_missing_table_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "candidate.duckdb"
    build_candidate(path, n=12)
    con = duckdb.connect(str(path))
    con.execute("drop table public_record.pub_serious_dishonest")
    con.execute("alter table entity.dim_entity drop column division_code")
    con.close()
    res = run_checkpoint(path, AS_OF, "run-missing")
    assert not res.success
    f = _find(res, "public_record.pub_serious_dishonest", "table_exists", None)
    assert f["message"] == "table public_record.pub_serious_dishonest is missing from the candidate"
    f = _find(res, "entity.dim_entity", "expect_column_values_to_match_regex", "division_code")
    assert f["message"] == "column division_code is missing from entity.dim_entity"
    assert len(res.failures) == 2


def test_pii_sql_scan_agrees_with_python_and_spares_usccs() -> None:
    import random

    from panorama.identity import pii

    rnd = random.Random(20240630)
    ids = []
    for _ in range(2000):
        birth = date(1940, 1, 1) + timedelta(days=rnd.randint(0, 30000))
        body = f"{rnd.randint(110000, 659999)}{birth:%Y%m%d}{rnd.randint(0, 999):03d}"
        ids.append(body + rnd.choice("0123456789X"))
    usccs = [_uscc(i) for i in range(0, 4000, 7)]
    texts = ids + usccs + [f"电话 {PHONE}", "139-1234-5678", "8613912345678", "金额 13912345678901"]
    con = duckdb.connect()
    try:
        con.execute("create table t (v varchar)")
        con.executemany("insert into t values (?)", [[v] for v in texts])
        rows = con.execute(
            f"select v, {pii.sql_has_id_card_number('v')}, {pii.sql_has_mobile_number('v')}, "
            f"{pii.sql_mask('v')} from t"
        ).fetchall()
    finally:
        con.close()
    flagged = 0
    for value, has_id, has_phone, masked in rows:
        assert has_id == pii.is_id_card_number(value), value
        assert has_id == bool(pii.find_id_card_numbers(value)), value
        assert has_phone == bool(pii.find_mobile_numbers(value)), value
        assert masked == pii.mask_personal_data(value), value
        flagged += has_id
        if value in usccs:
            assert (has_id, has_phone, masked) == (False, False, value)
    assert 100 < flagged < 400  # about 1 in 11 random check characters is right
    assert [r[2] for r in rows[-4:]] == [True, True, True, False]


def test_implausible_amounts_dates_and_control_characters(corrupted) -> None:
    res, ids, _ = corrupted
    between = "expect_column_values_to_be_between"
    f = _find(res, "public_record.pub_penalty", between, "fine_amount")
    assert f["message"] == (
        "2 penalties have fine_amount below 0 or above 10,000 万元 (implausible)"
    )
    assert sorted(f["examples"]) == sorted([ids[30], ids[31]])
    f = _find(res, "public_record.pub_penalty", between, "decision_date")
    assert f["examples"] == [ids[32]] and "after 2024-07-31" in f["message"]
    f = _find(
        res, "public_record.pub_entity", "expect_column_values_to_not_match_regex", "entity_name"
    )
    assert f["examples"] == [ids[33]]
    f = _find(res, "entity.fct_entity_event", between, "amount")
    assert f["message"] == "1 events have a negative amount"
    f = _find(res, "entity.dim_entity", between, "established_date")
    assert f["message"] == "1 entities have established_date before 1900-01-01"
    assert f["examples"] == [ids[34]]

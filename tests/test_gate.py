"""Write-audit-publish: a corrupted candidate is stopped by the audit and nothing is published.

One real first publication (every stage, 1,500 generated entities, shared by the session). Each
case starts a new run the way ``build_identity`` does (a candidate copied from the published
file), plants defects with DuckDB SQL, and runs the real audit (dbt tests with stored failures +
the GX checkpoint). The planted defects touch disjoint rows, so they share one candidate and one
audit: the audit must raise ``AuditFailed`` naming each defect's table and check with example
keys, carry no personal data, publishing the run must be refused, and the serving files must
stay byte for byte as they were. A whole build without a defect (the session's second run,
tests/rerun_fixtures.py) passes; a deliberate grade shift passes only when accepted.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from panorama import pipeline, warehouse
from panorama.gate.audit import AuditFailed, BaselineAcceptance, fingerprint
from panorama.identity.codes import USCC_CHARSET, is_valid_uscc, make_uscc
from panorama.identity.pii import find_id_card_numbers, find_mobile_numbers, is_id_card_number
from panorama.serve import publish
from pipeline_fixtures import (
    DS,
    Published,
    assert_complete_publication,
    candidate_from_serving,
    published_copy,
    serving_digests,
)
from rerun_fixtures import second_run
from stdnum.cn import ric

pytestmark = pytest.mark.slow

# Personal data planted in a public table: a valid ID-card number and a mobile number.
_ID_BODY = "37140219850315123"
PLANTED_ID_CARD = _ID_BODY + ric.calc_check_digit(_ID_BODY + "0")
PLANTED_MOBILE = "13905341234"


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Published:
    mp = pytest.MonkeyPatch()
    yield published_copy(tmp_path_factory, mp, "gate")
    mp.undo()


# ------------------------------------------------------------------------------ expectations


@dataclass(frozen=True)
class Dbt:
    """A failed dbt test whose unique id contains ``test`` and whose stored failures show
    ``example``."""

    test: str
    example: str


@dataclass(frozen=True)
class Gx:
    """A failed GX expectation on ``table``/``column`` whose example keys include ``example``."""

    table: str
    expectation: str
    column: str
    example: str


@dataclass
class Planted:
    expected: list[Dbt | Gx]
    not_expected: list[Gx] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    rows = con.execute(sql).fetchall()
    assert rows and rows[0][0] is not None, f"fixture data lacks a row for: {sql}"
    return rows[0][0]


def duplicate_entity_key(con: duckdb.DuckDBPyConnection) -> Planted:
    # the last key: the other defects start from the first ones
    key = _one(con, "select max(entity_id) from entity.dim_entity")
    con.execute(
        "insert into entity.dim_entity select * from entity.dim_entity where entity_id = ?", [key]
    )
    return Planted(expected=[Dbt("unique_dim_entity_entity_id", key)])


def null_entity_key(con: duckdb.DuckDBPyConnection) -> Planted:
    """An entity row without its key (its code, kept in uscc, shows in the stored failures)."""
    uscc = _one(con, "select uscc from entity.dim_entity order by entity_id limit 1 offset 2")
    con.execute(
        "insert into entity.dim_entity by name "
        "select * replace (null as entity_id) from entity.dim_entity where uscc = ?",
        [uscc],
    )
    return Planted(expected=[Dbt("not_null_dim_entity_entity_id", uscc)])


def invalid_uscc_check_character(con: duckdb.DuckDBPyConnection) -> Planted:
    """A well-formed code whose check character is wrong, as a new entity and its public row."""
    source = _one(con, "select min(uscc) from public_record.pub_entity")
    bad = next(source[:17] + c for c in USCC_CHARSET if c != source[17])
    assert is_valid_uscc(source) and not is_valid_uscc(bad)
    con.execute(
        "insert into entity.dim_entity by name "
        "select * replace (? as entity_id, ? as uscc) from entity.dim_entity where uscc = ?",
        [bad, bad, source],
    )
    con.execute(
        "insert into public_record.pub_entity by name "
        "select * replace (? as uscc) from public_record.pub_entity where uscc = ?",
        [bad, source],
    )
    in_set = "expect_column_values_to_be_in_set"
    regex = "expect_column_values_to_match_regex"
    return Planted(
        expected=[
            Gx("entity.dim_entity", in_set, "entity_id", bad),
            Gx("entity.dim_entity", in_set, "uscc", bad),
            Gx("public_record.pub_entity", in_set, "uscc", bad),
        ],
        # the shape is right: it is the check character that is caught
        not_expected=[
            Gx("entity.dim_entity", regex, "uscc", bad),
            Gx("public_record.pub_entity", regex, "uscc", bad),
        ],
    )


def grade_out_of_range(con: duckdb.DuckDBPyConnection) -> Planted:
    key = _one(con, "select min(entity_id) from risk.fct_risk_grade")
    con.execute("update risk.fct_risk_grade set grade = 'E' where entity_id = ?", [key])
    return Planted(expected=[Dbt("accepted_values_fct_risk_grade_grade", "E")])


def orphan_event(con: duckdb.DuckDBPyConnection) -> Planted:
    """An event of a well-formed, valid USCC that no registered entity has."""
    orphan = make_uscc("9", "1", "371402", "MA9Y0Q0T")
    assert is_valid_uscc(orphan)
    assert not con.execute(
        "select 1 from entity.dim_entity where entity_id = ?", [orphan]
    ).fetchall()
    event_id = hashlib.md5(b"planted orphan event").hexdigest()
    con.execute(
        "insert into entity.fct_entity_event by name "
        "select * replace (? as event_id, ? as entity_id) from entity.fct_entity_event "
        "order by event_id limit 1",
        [event_id, orphan],
    )
    return Planted(expected=[Dbt("relationships_fct_entity_event_entity_id", orphan)])


def personal_data_in_public_record(con: duckdb.DuckDBPyConnection) -> Planted:
    key = _one(con, "select min(uscc) from public_record.pub_penalty")
    text = f"当事人身份证号{PLANTED_ID_CARD}，联系电话{PLANTED_MOBILE}"
    con.execute(
        "update public_record.pub_penalty set violation_facts = ? "
        "where penalty_id = (select min(penalty_id) from public_record.pub_penalty where uscc = ?)",
        [text, key],
    )
    in_set = "expect_column_values_to_be_in_set"
    return Planted(
        expected=[
            Gx("public_record.pub_penalty", in_set, "_no_id_card_number", key),
            Gx("public_record.pub_penalty", in_set, "_no_mobile_number", key),
        ],
        secrets=[PLANTED_ID_CARD, PLANTED_MOBILE],
    )


CORRUPTIONS: dict[str, Callable[[duckdb.DuckDBPyConnection], Planted]] = {
    "duplicate_entity_key": duplicate_entity_key,
    "null_entity_key": null_entity_key,
    "invalid_uscc_check_character": invalid_uscc_check_character,
    "grade_out_of_range": grade_out_of_range,
    "orphan_event": orphan_event,
    "personal_data_in_public_record": personal_data_in_public_record,
}


# ----------------------------------------------------------------------------------- checks


def _gx_matches(failure: dict[str, Any], want: Gx) -> bool:
    return (
        failure.get("table") == want.table
        and failure.get("expectation") == want.expectation
        and failure.get("column") == want.column
    )


def _assert_reported(report: dict[str, Any], want: Dbt | Gx) -> None:
    if isinstance(want, Dbt):
        found = [f for f in report["dbt_failures"] if want.test in f["test"]]
        assert found, (
            f"no failed dbt test {want.test}; got {[f['test'] for f in report['dbt_failures']]}"
        )
        examples = [e for f in found for e in f.get("examples", [])]
        assert any(want.example in e for e in examples), (want, examples)
        return
    found = [f for f in report["gx"]["failures"] if _gx_matches(f, want)]
    summary = [(f["table"], f["expectation"], f["column"]) for f in report["gx"]["failures"]]
    assert found, f"no GX failure {want}; got {summary}"
    examples = [e for f in found for e in f.get("examples", [])]
    assert any(want.example in e for e in examples), (want, examples)


def _text_files(folder: Path) -> list[Path]:
    """Everything the audit wrote beside the candidate except DuckDB files."""
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and ".duckdb" not in p.name and p.suffix != ".parquet"
    ]


# ------------------------------------------------------------------------------------ tests


def test_uncorrupted_candidate_passes(tmp_path_factory):
    """A whole build without a defect, compared with the last publication, passes: the audit of
    the session's second run (tests/rerun_fixtures.py), so that each failure below is the
    defect's. The audit left what is served as it was."""
    run = second_run(tmp_path_factory)
    report = run.audit
    assert report["passed"] is True
    assert report["dbt_failures"] == [] and report["gx"]["failures"] == []
    assert report["gx"]["statistics"]["baseline_checks"], "not compared with a publication"
    before, after = run.serving_around_audit
    assert after == before


def _regrade(con: duckdb.DuckDBPyConnection) -> None:
    """What new risk weights do: many entities move from B to A, a shift beyond the gate's
    15 points (every check but the comparison with the last publication's grade shares still
    holds)."""
    con.execute("update risk.fct_risk_grade set grade = 'A' where grade = 'B'")


DEFECTS_RUN = "gate-defects"
SHIFT_ACCEPTED = BaselineAcceptance.from_conf(
    ["grade_shares", "row_count"], "权重调整，预期分布变化"
)


@pytest.fixture(scope="module")
def stopped(published: Published) -> dict[str, Any]:
    """One candidate carrying every planted defect, plus a deliberate grade shift that the run
    accepts with a reason, audited once. Each defect changes rows no other one touches, so
    each must be named in the report on its own; the acceptance may waive the grade-share
    comparison and nothing else."""
    settings = published.settings
    before = serving_digests(settings)
    versions_before = [v.name for v in publish.list_versions(settings)]
    candidate = candidate_from_serving(settings, DEFECTS_RUN)
    con = duckdb.connect(str(candidate))
    try:
        planted = {name: plant(con) for name, plant in CORRUPTIONS.items()}
        _regrade(con)
        con.execute("checkpoint")
    finally:
        con.close()
    with pytest.raises(AuditFailed) as caught:
        pipeline.audit(DS, DEFECTS_RUN, settings, accept=SHIFT_ACCEPTED)
    audit_json = pipeline.run_dir(settings, DEFECTS_RUN) / "audit.json"
    return {
        "planted": planted,
        "error": caught.value,
        "written": json.loads(audit_json.read_text(encoding="utf-8")),
        "serving_before": before,
        "versions_before": versions_before,
    }


def test_audit_json_is_the_report_of_the_failure(stopped):
    written = stopped["written"]
    assert written == json.loads(json.dumps(stopped["error"].report.to_dict(), default=str))
    assert written["passed"] is False


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupted_candidate_is_stopped(stopped, corruption):
    """The defect is named in the report, with its table, check and an example key."""
    planted, written = stopped["planted"][corruption], stopped["written"]
    for want in planted.expected:
        _assert_reported(written, want)
    for unwanted in planted.not_expected:
        assert not [f for f in written["gx"]["failures"] if _gx_matches(f, unwanted)], unwanted
    waived = written["accepted"]["waived"]
    for want in planted.expected:
        if isinstance(want, Gx):
            assert not [f for f in waived if _gx_matches(f, want)], f"{want} was waived"


def test_acceptance_waives_no_other_check(stopped):
    """The accepted grade shift is waived; no other failure is, so the run still stops."""
    written = stopped["written"]
    accepted = written["accepted"]
    assert accepted["reason"] == SHIFT_ACCEPTED.reason
    assert accepted["waived"] and {f["baseline"] for f in accepted["waived"]} == {"grade_shares"}
    assert [f for f in written["gx"]["failures"] if f["baseline"] is None]
    assert written["dbt_failures"]


def test_stopped_audit_carries_no_personal_data(published, stopped):
    """No personal data in the report, the exception text or anything else the audit wrote."""
    secrets = [s for p in stopped["planted"].values() for s in p.secrets]
    assert secrets
    headline = str(stopped["error"])
    written_files = _text_files(pipeline.run_dir(published.settings, DEFECTS_RUN))
    assert any("gx_docs" in p.parts for p in written_files), "GX data docs were not scanned"
    for path in written_files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for secret in secrets:
            assert secret not in text, f"{secret[:4]}… leaked into {path}"
        ids = [n for n in find_id_card_numbers(text) if is_id_card_number(n)]
        assert not ids, f"ID-card numbers in {path}"
    for secret in secrets:
        assert secret not in headline
    assert not find_id_card_numbers(headline) and not find_mobile_numbers(headline)


def test_stopped_run_is_not_published(published, stopped):
    """The gate holds: this run cannot be published, and what is served did not move."""
    settings = published.settings
    with pytest.raises(RuntimeError, match="refusing to publish"):
        pipeline.publish(DS, DEFECTS_RUN, published.input_manifests, settings)
    assert serving_digests(settings) == stopped["serving_before"]
    assert [v.name for v in publish.list_versions(settings)] == stopped["versions_before"]
    assert_complete_publication(settings)


POLICY_RUN = "gate-policy"
POLICY_REASON = "2026 年风险权重调整（局务会决定）"


@pytest.fixture(scope="module")
def policy(published: Published, tmp_path_factory) -> dict[str, Any]:
    """A deliberate grade shift and nothing else: audited without an acceptance (stopped), then
    with one (passes). A copy of the audited run folder, file times kept, is put aside before
    the run is published."""
    settings = published.settings
    before = serving_digests(settings)
    candidate = candidate_from_serving(settings, POLICY_RUN)
    with warehouse.connect(candidate, False) as con:
        _regrade(con)
    with pytest.raises(AuditFailed) as caught:
        pipeline.audit(DS, POLICY_RUN, settings)
    serving_after_stop = serving_digests(settings)
    accept = BaselineAcceptance.from_conf(["grade_shares"], POLICY_REASON)
    report = pipeline.audit(DS, POLICY_RUN, settings, accept=accept)
    audited_copy = pipeline.run_dir(settings, AUDITED_COPY_RUN)
    audited_copy.mkdir(parents=True)
    for name in ("candidate.duckdb", "audit.json"):
        shutil.copy2(pipeline.run_dir(settings, POLICY_RUN) / name, audited_copy / name)
    manifest = pipeline.publish(DS, POLICY_RUN, published.input_manifests, settings)
    return {
        "stopped": caught.value.report,
        "serving_before": before,
        "serving_after_stop": serving_after_stop,
        "accepted": report,
        "manifest": manifest,
    }


AUDITED_COPY_RUN = "gate-audited-copy"


def test_deliberate_grade_shift_passes_only_when_accepted_with_a_reason(published, policy):
    settings = published.settings
    failures = policy["stopped"].gx["failures"]
    assert failures and {f["baseline"] for f in failures} == {"grade_shares"}
    assert policy["stopped"].dbt_failures == []
    assert policy["stopped"].dbt_results_of == "this audit"
    assert policy["serving_after_stop"] == policy["serving_before"]

    report = policy["accepted"]
    assert report["passed"] is True
    assert report["accepted"]["reason"] == POLICY_REASON
    # the candidate did not change since the stopped audit: its dbt test results stand
    assert report["dbt_results_of"] == "an earlier audit of this candidate"
    assert report["dbt_summary"] == policy["stopped"].dbt_summary
    assert [f["message"] for f in report["accepted"]["waived"]] == [f["message"] for f in failures]
    manifest = policy["manifest"]
    assert manifest["checks"]["accepted"]["checks"] == ["grade_shares"]
    assert publish.current_manifest(settings)["checks"]["accepted"]["reason"].startswith("2026")


def test_candidate_changed_after_its_audit_is_not_published(published, policy):
    """A passing audit covers the file it audited, not whatever sits at that path later (an
    audited candidate, copied with its audit and file times before its run was published)."""
    settings = published.settings
    candidate = pipeline.candidate_path(settings, AUDITED_COPY_RUN)
    audit = json.loads(
        (pipeline.run_dir(settings, AUDITED_COPY_RUN) / "audit.json").read_text(encoding="utf-8")
    )
    assert audit["passed"] is True
    as_audited = {k: audit["candidate"][k] for k in ("size", "mtime_ns")}
    assert {k: fingerprint(candidate)[k] for k in ("size", "mtime_ns")} == as_audited
    before = serving_digests(settings)
    with warehouse.connect(candidate, False) as con:
        con.execute("update risk.fct_risk_grade set grade = 'A'")  # rebuilt or edited since
    with pytest.raises(RuntimeError, match="changed after its audit"):
        pipeline.publish(DS, AUDITED_COPY_RUN, published.input_manifests, settings)
    assert serving_digests(settings) == before


@pytest.mark.parametrize(
    ("checks", "reason", "problem"),
    [
        (["grade_out_of_range"], "a good long reason", "only ['row_count', 'grade_shares']"),
        (["grade_shares"], "", "say why"),
        (["grade_shares"], "because", "say why"),
    ],
)
def test_acceptance_needs_known_checks_and_a_reason(checks, reason, problem) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        BaselineAcceptance.from_conf(checks, reason)
    assert BaselineAcceptance.from_conf([], "") is None

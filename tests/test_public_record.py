"""The public record (公示) on the shared population: six public tables, each record table keyed
by ``uscc`` and carrying ``publicity_until``, publicity terms applied from the seeds (a warning
only is never shown, minor penalties 3 months, others 3 years, early end after credit repair,
listings while in force and with their removal afterwards, licences and spot-check results),
operators' names masked, no personal data. The rules' own cases are dbt unit tests
(``_public_record_terms__models.yml``), run by the pipeline's build: checked here too."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from panorama import pipeline, warehouse
from panorama.identity.pii import find_id_card_numbers, find_mobile_numbers
from panorama.serve import publish
from pipeline_fixtures import DS, FIRST_RUN, Published, published_copy

pytestmark = pytest.mark.slow

PUBLIC_TABLES = {
    "pub_entity",
    "pub_penalty",
    "pub_licence",
    "pub_spot_check_result",
    "pub_abnormal_list",
    "pub_serious_dishonest",
}
RECORD_TABLES = PUBLIC_TABLES - {"pub_entity"}
# the credit code service's public tables beside the six of the public record
CREDIT_CODE_TABLES = {"pub_credit_code", "pub_model_shop"}
SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
AS_OF = date.fromisoformat(DS)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Published:
    mp = pytest.MonkeyPatch()
    yield published_copy(tmp_path_factory, mp, "public_record")
    mp.undo()


@pytest.fixture(scope="module")
def public(published: Published):
    con = duckdb.connect(str(published.settings.public_path), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def served(published: Published):
    """The regulators' file of the same publication (dim_entity, rpt_public_record_terms)."""
    con = duckdb.connect(str(published.settings.serving_path), read_only=True)
    yield con
    con.close()


def _raw(published: Published, kind: str) -> str:
    """A read_parquet over the raw zone of one kind (what the departments delivered)."""
    glob = published.settings.raw_dir / f"{kind}__*" / "load_date=*" / "*.parquet"
    return f"read_parquet('{glob}', union_by_name = true)"


def _terms() -> dict[str, dict[str, str]]:
    with (SEEDS / "public_record_terms.csv").open(encoding="utf-8") as f:
        return {row["rule_id"]: row for row in csv.DictReader(f)}


def _states(served) -> dict[tuple[str, str, str], int]:
    rows = served.execute(
        "select record_kind, rule_id, publicity_state, records from entity.rpt_public_record_terms"
    ).fetchall()
    return {(k, r, s): n for k, r, s, n in rows}


def test_six_public_tables_keyed_by_uscc_with_publicity_until(published, public) -> None:
    columns = public.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'public_record'"
    ).fetchall()
    by_table: dict[str, set[str]] = {}
    for table, column in columns:
        by_table.setdefault(table, set()).add(column)
    assert set(by_table) == PUBLIC_TABLES | CREDIT_CODE_TABLES
    for table in RECORD_TABLES:
        assert {"uscc", "publicity_until"} <= by_table[table], table
        orphans = public.execute(
            f"select count(*) from public_record.{table} as t "
            "anti join public_record.pub_entity as e using (uscc)"
        ).fetchone()[0]
        assert orphans == 0, table
    counts = publish.current_manifest(published.settings)["public_row_counts"]
    for table in PUBLIC_TABLES:
        assert counts[f"public_record.{table}"] > 0, table
    assert by_table["pub_licence"] >= {"decision_no", "licence_no", "valid_to", "licence_status"}
    assert by_table["pub_spot_check_result"] >= {
        "task_id",
        "task_name",
        "check_org",
        "check_date",
        "check_items",
        "check_result",
    }


def test_every_public_row_is_within_its_term(public) -> None:
    for table in RECORD_TABLES:
        late = public.execute(
            f"select count(*) from public_record.{table} where publicity_until < ?", [AS_OF]
        ).fetchone()[0]
        assert late == 0, table


def test_warning_only_penalties_are_never_published(published, served, public) -> None:
    delivered = public.execute(
        f"select count(*) from {_raw(published, 'penalty')} where cf_cflb = '警告'"
    ).fetchone()[0]
    withheld = _states(served)[("penalty", "penalty_warning_only", "not_published")]
    assert delivered > 0 and withheld > 0, "the population has no warning-only penalty"
    shown = public.execute(
        "select count(*) from public_record.pub_penalty where penalty_category = '警告' "
        "and coalesce(fine_amount, 0) = 0 and coalesce(confiscation_amount, 0) = 0"
    ).fetchone()[0]
    assert shown == 0
    assert _terms()["penalty_warning_only"]["is_published"] == "false"


def _months_later(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + year, month=month + 1)


def test_penalty_terms_follow_the_seed(public) -> None:
    """Each published penalty ends 3 months (minor) or 3 years (other) after its decision, less
    a day; a 3-month one is 通报批评 or a fine at most the seed's ceiling for its entity's type,
    a 3-year one is not."""
    terms = _terms()
    assert (terms["penalty_minor"]["term_months"], terms["penalty_other"]["term_months"]) == (
        "3",
        "36",
    )
    with (SEEDS / "public_record_minor_fines.csv").open(encoding="utf-8") as f:
        ceiling = {r["entity_type"]: float(r["max_fine_wan"]) for r in csv.DictReader(f)}
    with (SEEDS / "ref_entity_types.csv").open(encoding="utf-8") as f:
        type_of = {r["entity_type_name"]: r["entity_type"] for r in csv.DictReader(f)}
    rows = public.execute(
        "select p.decision_date, p.publicity_until, p.fine_amount, p.confiscation_amount, "
        "p.penalty_category, e.entity_type_name "
        "from public_record.pub_penalty as p join public_record.pub_entity as e using (uscc)"
    ).fetchall()
    seen = set()
    for decided, until, fine, confiscated, category, type_name in rows:
        light = re.fullmatch(r"(警告|通报批评|罚款|[、，,；;/ 和及并处])+", category or "")
        small = fine is not None and 0 < fine <= ceiling[type_of[type_name]]
        minor = bool(light) and not confiscated and ("通报批评" in category or small)
        months = 3 if minor else 36
        assert (_months_later(decided, months) - until).days == 1, (category, fine, until)
        seen.add(months)
    assert seen == {3, 36}


def test_out_of_term_records_are_counted_and_absent(served, public) -> None:
    states = _states(served)
    out = {k: n for k, n in states.items() if k[2] in ("out_of_term", "ended_by_repair")}
    assert sum(n for (kind, _, _), n in out.items() if kind == "penalty") > 0
    assert ("penalty", "penalty_repaired", "ended_by_repair") in out, states
    tables = {
        "penalty": "pub_penalty",
        "licence": "pub_licence",
        "spot_check": "pub_spot_check_result",
        "abnormal_list": "pub_abnormal_list",
        "serious_dishonest": "pub_serious_dishonest",
    }
    for kind, table in tables.items():
        shown = public.execute(f"select count(*) from public_record.{table}").fetchone()[0]
        published_n = sum(n for (k, _, s), n in states.items() if k == kind and s == "published")
        assert published_n == shown, kind


def test_credit_repair_ends_a_penalty_early(published, public) -> None:
    repairs = public.execute(
        f"select distinct decision_no from {_raw(published, 'credit_repair')} "
        "where repair_date <= ?",
        [DS],
    ).fetchall()
    assert repairs, "the population has no credit repair"
    shown = {
        r[0] for r in public.execute("select decision_no from public_record.pub_penalty").fetchall()
    }
    assert not {r[0] for r in repairs} & shown


def test_listings_show_while_in_force_and_their_removal_afterwards(public) -> None:
    for table in ("pub_abnormal_list", "pub_serious_dishonest"):
        rows = public.execute(
            f"select is_listed, remove_date, publicity_until from public_record.{table}"
        ).fetchall()
        for listed, removed, until in rows:
            if listed:
                assert until is None
            else:
                assert removed is not None and until is not None and until >= AS_OF
    removed_shown = public.execute(
        "select count(*) from public_record.pub_abnormal_list where not is_listed"
    ).fetchone()[0]
    assert removed_shown > 0


def test_operator_names_are_masked(served, public) -> None:
    """An individual business registered under its operator's name is published with the
    name masked, in every public table."""
    operators = served.execute(
        "select entity_id, legal_rep from entity.dim_entity "
        "where entity_type = 'individual' and contains(entity_name, legal_rep) "
        "and length(legal_rep) >= 2"
    ).fetchall()
    assert operators, "the population has no individual business named after its operator"
    names = dict(operators)
    for table, column in (
        ("pub_entity", "entity_name"),
        ("pub_penalty", "party_name"),
        ("pub_licence", "party_name"),
        ("pub_spot_check_result", "entity_name"),
        ("pub_abnormal_list", "entity_name"),
    ):
        rows = public.execute(f"select uscc, {column} from public_record.{table}").fetchall()
        for uscc, name in rows:
            if uscc in names and name:
                assert names[uscc] not in name, (table, uscc)
    masked = public.execute(
        "select count(*) from public_record.pub_entity where entity_name like '%*%'"
    ).fetchone()[0]
    assert masked == len(operators)


def test_no_personal_data_in_the_public_tables(public) -> None:
    for table in PUBLIC_TABLES | CREDIT_CODE_TABLES:
        cols = [
            c
            for c, t in public.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'public_record' and table_name = ?",
                [table],
            ).fetchall()
            if t == "VARCHAR"
        ]
        for col in cols:
            for (value,) in public.execute(
                f"select distinct {col} from public_record.{table}"
            ).fetchall():
                if value:
                    assert not find_id_card_numbers(value), (table, col)
                    assert not find_mobile_numbers(value), (table, col)


def test_publicity_unit_tests_ran_in_the_build(published: Published) -> None:
    results = json.loads(
        (pipeline.run_dir(published.settings, FIRST_RUN) / "run_results_build.json").read_text(
            encoding="utf-8"
        )
    )["results"]
    status = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results}
    for name in ("penalty_publicity_terms", "listing_licence_and_spot_check_publicity_terms"):
        assert status.get(name) == "pass", name


def test_summary_counts(published: Published) -> None:
    """What ``make run`` prints: the six tables and the records out of term."""
    from panorama_dev.cli import public_record_summary

    lines = public_record_summary(published.settings)
    text = "\n".join(lines)
    for table in PUBLIC_TABLES:
        assert re.search(rf"{table}\s+[\d,]+", text), text
    assert re.search(r"out of term\s+[\d,]+", text), text
    assert warehouse.PUBLIC_SCHEMA == "public_record"

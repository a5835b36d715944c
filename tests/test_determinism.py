"""Byte-stable re-runs: the same inputs and logical date give the same published tables.

A second run (extract, build, audit, publish) over the session's first publication, same
deliveries, same logical date, a new run id (tests/rerun_fixtures.py: the run that follows one
killed mid-build). Every published table of the two versions must hold the same rows, JSON
text and floating-point values included, except the columns that name the run or the load
itself (``LINEAGE_COLUMNS``). The trained matcher must be the same model, and its matches the
same probabilities.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from panorama import pipeline, warehouse
from panorama.build.resolution import MODEL_FILE
from panorama.serve import publish
from pipeline_fixtures import FIRST_RUN, Published
from rerun_fixtures import SECOND_RUN, second_run

pytestmark = pytest.mark.slow

# The only columns allowed to differ between two runs of the same inputs: which run built the
# row (run_id: risk.fct_risk_grade) and which extract batch landed the record and when
# (batch_id: entity.fct_entity_event, entity.rpt_unresolved_records; loaded_at: lineage no
# published table carries today). Each extract is a new batch, each run a new id.
LINEAGE_COLUMNS = ("run_id", "batch_id", "loaded_at")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Published, dict, dict]:
    run = second_run(tmp_path_factory)
    return run.published, run.first, run.second


def _version_file(published: Published, manifest: dict, name: str) -> Path:
    return publish.versions_dir(published.settings) / manifest["version"] / name


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns() where database_name = ? "
            "and schema_name = ? and table_name = ? order by column_index",
            [db, schema, name],
        ).fetchall()
    ]


def _differences(a: Path, b: Path, schemas: tuple[str, ...]) -> dict[str, str]:
    """Per table, what differs between the two files (empty when every table holds the same
    rows, compared as multisets, ``LINEAGE_COLUMNS`` left out)."""
    tables = warehouse.list_tables(a, schemas)
    assert tables == warehouse.list_tables(b, schemas)
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    found: dict[str, str] = {}
    try:
        for table in tables:
            cols = _columns(con, "a", table)
            if cols != _columns(con, "b", table):
                found[table] = f"columns {cols} vs {_columns(con, 'b', table)}"
                continue
            kept = [c for c in cols if c not in LINEAGE_COLUMNS]
            select = ", ".join(f'"{c}"' for c in kept)
            n_diff = con.execute(
                f"select count(*) from ((select {select} from a.{table} except all "
                f"select {select} from b.{table}) union all (select {select} from b.{table} "
                f"except all select {select} from a.{table}))"
            ).fetchone()[0]
            if n_diff:
                differing = [
                    c
                    for c in kept
                    if con.execute(
                        f'select count(*) from (select "{c}" from a.{table} except all '
                        f'select "{c}" from b.{table})'
                    ).fetchone()[0]
                ]
                found[table] = f"{n_diff} rows differ, in columns {differing}"
    finally:
        con.close()
    return found


def test_second_run_publishes_the_same_tables(two_runs):
    published, first, second = two_runs
    assert (first["run_id"], second["run_id"]) == (FIRST_RUN, SECOND_RUN)
    assert second["version"] != first["version"]
    assert second["row_counts"] == first["row_counts"]
    assert second["grade_counts"] == first["grade_counts"]
    for name, schemas in (
        ("panorama.duckdb", warehouse.PUBLISHED_SCHEMAS),
        ("public.duckdb", (warehouse.PUBLIC_SCHEMA,)),
    ):
        a = _version_file(published, first, name)
        b = _version_file(published, second, name)
        assert _differences(a, b, schemas) == {}, name


def test_second_run_json_text_is_identical(two_runs):
    """JSON columns compare as text: the same keys in the same order."""
    published, first, second = two_runs
    query = (
        "select entity_id, indicator_points from risk.fct_risk_grade "
        "where indicator_points is not null order by entity_id"
    )
    a = warehouse.query(_version_file(published, first, "panorama.duckdb"), query)
    b = warehouse.query(_version_file(published, second, "panorama.duckdb"), query)
    assert a and a == b
    assert any(len(json.loads(text)) > 1 for _, text in a)  # some objects have several keys


def test_second_run_trains_the_same_matcher(two_runs):
    published, _, _ = two_runs
    settings = published.settings

    def model(run_id: str) -> str:
        path = pipeline.run_dir(settings, run_id) / "resolution_model" / MODEL_FILE
        return path.read_text(encoding="utf-8")

    assert model(FIRST_RUN) == model(SECOND_RUN)
    for output in ("probabilistic_matches/matches.parquet", "review/review.parquet"):
        rows = [
            duckdb.sql(
                f"select * from read_parquet('{pipeline.resolution_dir(settings, run) / output}') "
                "order by all"
            ).fetchall()
            for run in (FIRST_RUN, SECOND_RUN)
        ]
        assert rows[0] and rows[0] == rows[1], output


def test_second_run_reuses_the_parse_of_the_first(two_runs):
    """dbt parsed the project for the first run only: every call of the second one (another
    run id, another folder, another copy of the data dir) reused that parse, and still stamped
    its own run id on the grades."""
    published, _, second = two_runs
    settings = published.settings
    log = (pipeline.run_dir(settings, SECOND_RUN) / "dbt_logs" / "dbt.log").read_text(
        encoding="utf-8"
    )
    calls = log.count("running dbt with arguments")
    assert calls == 5  # identity build, build, test, source freshness, docs
    assert "Unable to do partial parsing" not in log
    assert log.count("Nothing changed, skipping partial parsing") == calls
    version = publish.versions_dir(settings) / second["version"] / "panorama.duckdb"
    assert warehouse.query(version, "select distinct run_id from risk.fct_risk_grade") == [
        (SECOND_RUN,)
    ]

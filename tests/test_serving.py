"""What each audience is served, checked from the reader's side on the session population:
curated files only, no personal data outside masked forms, BI readers through SQLAlchemy."""

from __future__ import annotations

import duckdb
import pytest
import sqlalchemy as sa
from panorama import pipeline, warehouse
from panorama.serve import publish
from panorama.serve.scan import scan_file
from panorama.settings import get_settings
from pipeline_fixtures import FIRST_RUN, published_copy
from stdnum.cn import ric
from test_publish import do_publish


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    published = published_copy(tmp_path_factory, mp, "serving")
    yield published.settings
    mp.undo()


def test_serving_holds_curated_files_per_audience_only(served):
    serving = served.serving_dir
    assert sorted(p.name for p in serving.iterdir() if not p.name.startswith(".")) == [
        "current",
        "docs",
        "exports",
        "finance_partners.duckdb",
        "manifest.json",
        "operator.duckdb",
        "panorama.duckdb",
        "public.duckdb",
        "versions",
    ]
    internal = ("staging", "intermediate", "reference", "main", "dbt_test__audit")
    for audience in warehouse.AUDIENCES:
        path = serving / audience.file
        schemas = {
            s
            for (s,) in warehouse.query(
                path,
                "select distinct table_schema "
                "from information_schema.tables where table_catalog = current_database()",
            )
        }
        assert schemas == {*audience.schemas, publish.META_SCHEMA}, (audience.name, schemas)
        assert not schemas & set(internal)
        exports = {p.name for p in (serving / "exports" / audience.name).iterdir()}
        assert exports == {f"{t}.parquet" for t in warehouse.table_counts(path, audience.schemas)}
    regulator = warehouse.list_tables(served.serving_path)
    assert "entity.rpt_unresolved_records" not in regulator
    assert warehouse.list_tables(served.finance_path, ("finance",)) == ["finance.fin_loan_ceiling"]
    fin_cols = {
        c
        for (c,) in warehouse.query(
            served.finance_path,
            "select column_name from information_schema.columns where table_name = "
            "'fin_loan_ceiling'",
        )
    }
    assert not {c for c in fin_cols if "grade" in c or "reason" in c or "override" in c}
    # the whole build stays in the run's folder, for debugging
    built = pipeline.built_path(served, FIRST_RUN)
    assert warehouse.list_tables(built, ("staging",)) and not (
        pipeline.candidate_path(served, FIRST_RUN).exists()
    )


def _valid_id_number() -> str:
    body = "11010519491231002"
    return body + ric.calc_check_digit(body + "0")


def test_value_scan_finds_no_personal_data_in_any_served_file(served, tmp_path):
    # the scan itself finds what it looks for: an ID number and a mobile in a text column
    control = tmp_path / "control.duckdb"
    con = duckdb.connect(str(control))
    con.execute("create schema s; create table s.t (note varchar, n integer)")
    con.execute(
        "insert into s.t values (?, 1), ('call 13812345678', 2), ('none', 3)",
        [f"ID {_valid_id_number()} given"],
    )
    con.close()
    assert [(f["column"], f["kind"], f["rows"]) for f in scan_file(control)] == [
        ("note", "resident ID number", 1),
        ("note", "mobile number", 1),
    ]
    # the build holds phones (staging): the served share of it none
    built = pipeline.built_path(served, FIRST_RUN)
    assert [
        (f["column"], f["kind"]) for f in scan_file(built, ("staging.stg_raw__registration",))
    ] == [("phone", "mobile number")]
    for audience in warehouse.AUDIENCES:
        assert scan_file(served.serving_dir / audience.file) == [], audience.name


def test_sqlalchemy_reader_with_nullpool_moves_to_a_new_publication(data_dir, tmp_path):
    """The README's BI example: duckdb-engine, read-only, NullPool: the next query after a
    publication reads the new version; a default pool keeps the file it opened."""
    settings = get_settings()
    do_publish(settings, tmp_path, marker=1)
    url = f"duckdb:///{settings.serving_path}"
    fresh = sa.create_engine(url, connect_args={"read_only": True}, poolclass=sa.pool.NullPool)
    pooled = sa.create_engine(url, connect_args={"read_only": True})
    query = sa.text("select version from panorama_meta.publication")
    with fresh.connect() as c:
        assert c.execute(query).scalar() == "v0001_2026-11-25"
    with pooled.connect() as c:
        assert c.execute(query).scalar() == "v0001_2026-11-25"
    do_publish(settings, tmp_path, marker=2)
    with fresh.connect() as c:
        assert c.execute(query).scalar() == "v0002_2026-11-25"
    with pooled.connect() as c:  # the pooled connection still has the old file open
        assert c.execute(query).scalar() == "v0001_2026-11-25"
    pooled.dispose()
    fresh.dispose()


def test_audit_freshness_stops_a_stale_raw_zone(served, tmp_path):
    """`dbt source freshness` on `_loaded_at`: fresh kinds pass; a kind whose newest load is
    40 days old is an error, which fails the audit."""
    import pyarrow.parquet as pq
    from panorama.gate.audit import AuditReport, source_freshness

    stale = "2026-10-01T00:00:00+00:00"  # well over 35 days before any run of this suite
    for path in served.raw_dir.glob("spot_check__*/load_date=*/*.parquet"):
        table = pq.read_table(path)
        column = table.schema.get_field_index("_loaded_at")
        table = table.set_column(column, "_loaded_at", [[stale] * table.num_rows])
        pq.write_table(table, path)
    results = source_freshness(
        served, tmp_path / "fresh.duckdb", tmp_path / "run", "2026-11-24", "f"
    )
    status = {f["source"]: f["status"] for f in results}
    assert status.pop("raw.spot_check") == "error"
    assert set(status.values()) == {"pass"} and len(status) >= 9
    report = AuditReport(run_id="f", as_of="2026-11-24", passed=False, seconds=0, freshness=results)
    assert "stale source raw.spot_check" in report.headline()


def test_audit_freshness_that_cannot_be_checked_stops_the_publication(served, tmp_path):
    """A kind whose `_loaded_at` cannot be read as a time has no freshness result at all:
    dbt's failure is reported as a runtime error, which fails the audit (not a silent pass)."""
    import pyarrow.parquet as pq
    from panorama.gate.audit import AuditReport, source_freshness

    for path in served.raw_dir.glob("licence__*/load_date=*/*.parquet"):
        table = pq.read_table(path)
        column = table.schema.get_field_index("_loaded_at")
        table = table.set_column(column, "_loaded_at", [["yesterday"] * table.num_rows])
        pq.write_table(table, path)
    results = source_freshness(
        served, tmp_path / "fresh.duckdb", tmp_path / "run", "2026-11-24", "f"
    )
    status = {f["source"]: f["status"] for f in results}
    assert status["raw.licence"] == "runtime error", results
    assert status["raw.penalty"] == "pass"
    report = AuditReport(run_id="f", as_of="2026-11-24", passed=False, seconds=0, freshness=results)
    assert "freshness of raw.licence not checked" in report.headline()

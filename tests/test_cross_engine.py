"""One dbt project, two engines: the same population built by dbt on DuckDB and on Spark
(dbt-spark, session method, local SparkSession) gives the same served marts.

The DuckDB side is the session's first publication (tests/pipeline_fixtures.py); the Spark
side is one ``dbt build`` of the whole project on the same raw zone and the same matcher
output. Spark's tables are Parquet files in its warehouse, read here by DuckDB and compared
with the DuckDB build table by table, both ways (EXCEPT ALL), after normalising types:
the same entities, links, grades, scores, reasons and the same spot-check draw.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pytest
from panorama import pipeline
from panorama.build.dbt_runner import RESOLUTION_SUBDIR, DbtResult, run_dbt
from pipeline_fixtures import DS, FIRST_RUN, published_copy

pytestmark = pytest.mark.slow

SPARK_RUN = "spark"
# the served schemas (marts); staging and intermediate are the engines' working tables
SERVED_SCHEMAS = ("entity", "risk", "supervision", "finance", "public_record")
# the marts the comparison must find rows in (an empty table would compare equal)
MUST_HAVE_ROWS = (
    "entity.dim_entity",
    "entity.fct_entity_relationship",
    "risk.fct_risk_grade",
    "supervision.fct_spot_check_population",
    "supervision.fct_spot_check_plan",
)
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> tuple[Path, Path, DbtResult, float]:
    """(DuckDB build, Spark warehouse, the Spark dbt result, its seconds)."""
    mp = pytest.MonkeyPatch()
    try:
        published = published_copy(tmp_path_factory, mp, "cross_engine")
        settings = published.settings
        run = pipeline.run_dir(settings, SPARK_RUN)
        shutil.copytree(pipeline.resolution_dir(settings, FIRST_RUN), run / RESOLUTION_SUBDIR)
        started = time.monotonic()
        result = run_dbt(
            ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
            settings=settings,
            db_path=run / "candidate.duckdb",
            run_dir=run,
            as_of=DS,
            run_id=FIRST_RUN,
            extra_vars={"use_probabilistic_matches": True},
            target="spark",
        )
        seconds = time.monotonic() - started
        yield (
            pipeline.built_path(settings, FIRST_RUN),
            run / "spark" / "warehouse",
            result,
            seconds,
        )
    finally:
        mp.undo()


def _served_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    schemas = ", ".join(f"'{s}'" for s in SERVED_SCHEMAS)
    return con.execute(
        "select schema_name, table_name from duckdb_tables() "
        f"where database_name = 'duck' and schema_name in ({schemas}) order by 1, 2"
    ).fetchall()


def _normalised(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> str:
    """A select of ``relation`` with every column as text (floats rounded to 1e-9: the
    engines may sum in another order), in the order of ``columns``."""
    types = dict(
        con.execute(f"select column_name, column_type from (describe {relation})").fetchall()
    )
    exprs = []
    for c in columns:
        if types[c].upper() in FLOAT_TYPES:
            exprs.append(f'cast(round("{c}", 9) as varchar) as "{c}"')
        else:
            exprs.append(f'cast("{c}" as varchar) as "{c}"')
    return f"select {', '.join(exprs)} from {relation}"


def test_the_whole_project_builds_on_spark(engines) -> None:
    _, warehouse, result, seconds = engines
    print(f"dbt build on Spark: {seconds:.0f} s, {result.summary()}")
    assert result.success, (
        "\n".join(f"{n.unique_id}: {n.message}" for n in result.failed_nodes()) or result.log_tail
    )
    built = {n.unique_id.split(".")[0] for n in result.nodes if n.status == "success"}
    assert {"model", "seed"} <= built
    assert (warehouse / "risk.db" / "fct_risk_grade").is_dir()


def test_served_marts_are_the_same_on_both_engines(engines) -> None:
    duck_path, warehouse, result, _ = engines
    assert result.success
    con = duckdb.connect()
    con.execute(f"attach '{duck_path}' as duck (read_only)")
    differences, compared = [], {}
    for schema, table in _served_tables(con):
        files = warehouse / f"{schema}.db" / table
        if not files.is_dir():
            differences.append(f"{schema}.{table}: not built on Spark")
            continue
        con.execute(
            f"create or replace view spark_table as select * from read_parquet('{files}/*.parquet')"
        )
        duck_columns = [r[0] for r in con.execute(f"describe duck.{schema}.{table}").fetchall()]
        spark_columns = [r[0] for r in con.execute("describe spark_table").fetchall()]
        if sorted(duck_columns) != sorted(spark_columns):
            differences.append(
                f"{schema}.{table}: columns differ {sorted(set(duck_columns) ^ set(spark_columns))}"
            )
            continue
        duck = _normalised(con, f"duck.{schema}.{table}", duck_columns)
        spark = _normalised(con, "spark_table", duck_columns)
        only_duck = con.execute(f"select count(*) from ({duck} except all {spark})").fetchone()
        only_spark = con.execute(f"select count(*) from ({spark} except all {duck})").fetchone()
        rows = con.execute(f"select count(*) from duck.{schema}.{table}").fetchone()[0]
        compared[f"{schema}.{table}"] = rows
        if only_duck[0] or only_spark[0]:
            differences.append(
                f"{schema}.{table}: {only_duck[0]} of {rows} rows only on DuckDB, "
                f"{only_spark[0]} only on Spark"
            )
    assert not differences, "\n".join(differences)
    for name in MUST_HAVE_ROWS:
        assert compared.get(name, 0) > 0, f"{name} is empty: nothing was compared"


def test_the_spot_check_draw_does_not_depend_on_the_engine(engines) -> None:
    """The seeded draw (md5 of seed, plan and entity on both engines) picks the same
    entities in the same ranks."""
    duck_path, warehouse, result, _ = engines
    assert result.success
    con = duckdb.connect()
    con.execute(f"attach '{duck_path}' as duck (read_only)")
    query = (
        "select plan_id, stratum, entity_id, draw_key, draw_rank from {} where drawn "
        "order by plan_id, stratum, draw_rank"
    )
    duck = con.execute(query.format("duck.supervision.fct_spot_check_population")).fetchall()
    spark_files = warehouse / "supervision.db" / "fct_spot_check_population"
    spark = con.execute(query.format(f"read_parquet('{spark_files}/*.parquet')")).fetchall()
    assert duck, "no entity drawn"
    assert spark == duck


NEXT_DS = "2026-11-25"  # the day after the first publication's logical date (DS)
HISTORY = "risk.fct_risk_grade_history"


def _history(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple]:
    return con.execute(
        "select entity_id, grade, cast(score as double), valid_from, valid_to, is_current, "
        f"history_id from {relation} order by entity_id, valid_from, is_current"
    ).fetchall()


def test_grade_history_carries_over_the_same_on_both_engines(engines, tmp_path) -> None:
    """The next day's build continues the kept grade history on both engines: a DuckDB
    candidate from its copy of the published file, a Spark build from the published Parquet
    copied into its catalogue (macros/engine/kept.sql). Three entities' kept periods are given
    another grade, so the next build closes them and opens new ones; every other period is
    kept as it was, and both engines write the same history. (Rebuilds the Spark warehouse's
    grades: runs after the comparisons above.)"""
    duck_path, warehouse, result, _ = engines
    assert result.success
    con = duckdb.connect()
    # the published history, with three entities' grades changed
    kept = tmp_path / "kept" / "fct_risk_grade_history"
    kept.mkdir(parents=True)
    spark_history = warehouse / "risk.db" / "fct_risk_grade_history"
    con.execute(f"create table kept as select * from read_parquet('{spark_history}/*.parquet')")
    changed = [
        e for (e,) in con.execute("select entity_id from kept order by 1 limit 3").fetchall()
    ]
    con.execute(
        "update kept set grade = case grade when 'A' then 'B' else 'A' end "
        f"where entity_id in ({', '.join(repr(e) for e in changed)})"
    )
    con.execute(f"copy kept to '{kept}/part-0.parquet' (format parquet)")
    kept_ids = {i for (i,) in con.execute("select history_id from kept").fetchall()}

    duck_next = tmp_path / "candidate.duckdb"
    shutil.copyfile(duck_path, duck_next)
    with duckdb.connect(str(duck_next)) as duck:
        duck.execute(f"delete from {HISTORY}")
        duck.execute(
            f"insert into {HISTORY} by name select * from read_parquet('{kept}/*.parquet')"
        )

    settings = pipeline.get_settings()
    select = ["build", "--select", "fct_risk_grade", "fct_risk_grade_history"]
    select += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    common = dict(as_of=NEXT_DS, run_id="next", extra_vars={"use_probabilistic_matches": True})
    on_duck = run_dbt(
        select, settings=settings, db_path=duck_next, run_dir=tmp_path / "duck", **common
    )
    run = pipeline.run_dir(settings, SPARK_RUN)
    on_spark = run_dbt(
        select,
        settings=settings,
        db_path=run / "candidate.duckdb",
        run_dir=run,
        target="spark",
        kept_tables={HISTORY: kept},
        **common,
    )
    assert on_duck.success, on_duck.log_tail
    assert on_spark.success, on_spark.log_tail

    con.execute(f"attach '{duck_next}' as duck (read_only)")
    duck = _history(con, f"duck.{HISTORY}")
    spark = _history(con, f"read_parquet('{spark_history}/*.parquet')")
    assert spark == duck
    # every kept period is still there (closed or as it was); each changed entity's closed on
    # the next day and a new one open from it
    assert kept_ids <= {r[6] for r in duck}
    for entity in changed:
        periods = [r for r in duck if r[0] == entity]
        assert [(str(r[4]), r[5]) for r in periods] == [(NEXT_DS, False), ("None", True)]
        assert periods[0][1] != periods[1][1]
    assert len({r[6] for r in duck}) == len(duck), "history_id repeats"

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

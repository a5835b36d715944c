"""The engine switch (PANORAMA_ENGINE): publication of Parquet marts (the Spark engine's build)
per audience, the served DuckDB files built from them, versions and rollback across engines."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from panorama import warehouse
from panorama.serve import publish
from panorama.settings import get_settings

EVERY = ("public_record", "entity", "risk", "staging", "finance", "operations", "supervision")


def make_marts(root: Path, marker: int, rows: int = 40) -> Path:
    """Tiny Parquet marts in a Spark build's layout, ``<schema>/<table>/part-*.parquet``;
    every row carries ``marker`` so that readers tell versions apart."""
    tables = {
        ("entity", "dim_entity"): f"select 'E' || i as entity_id, {marker} as marker "
        f"from range({rows}) t(i)",
        ("risk", "fct_risk_grade"): "select 'E' || i as entity_id, "
        f"['A','B','C','D'][1 + (i % 4)::int] as grade, {marker} as marker from range({rows}) t(i)",
        ("public_record", "pub_entity"): f"select 'E' || i as entity_id, {marker} as marker "
        f"from range({rows}) t(i)",
        ("entity", "rpt_unresolved_records"): f"select 'R1' as record_id, {marker} as marker",
        ("finance", "fin_loan_ceiling"): "select 'E' || i as entity_id, "
        "10.0 as suggested_ceiling_wan from range(5) t(i)",
        ("reference", "supervision_ratios"): "select 'x' as entity_type, 0.05 as ratio",
        ("staging", "stg_internal"): "select 1 as x",
    }
    con = duckdb.connect()
    for (schema, table), sql in tables.items():
        folder = root / schema / table
        folder.mkdir(parents=True)
        half = rows // 2
        # two part files, like a Spark task per partition
        con.execute(f"copy (select * from ({sql}) limit {half}) to '{folder}/part-00000.parquet'")
        con.execute(f"copy (select * from ({sql}) offset {half}) to '{folder}/part-00001.parquet'")
    con.close()
    return root


def publish_marts(settings, tmp_path: Path, marker: int, ds: str = "2026-11-25") -> dict:
    return publish.publish(
        settings,
        make_marts(tmp_path / f"marts{marker}", marker),
        run_id=f"run{marker}",
        logical_date=ds,
        input_manifests=[{"feed": "x", "load_date": ds, "totals": {"rows_kept": 3}}],
        audit={"passed": True},
    )


def test_engine_setting_defaults_to_duckdb_and_refuses_unknown(monkeypatch):
    monkeypatch.delenv("PANORAMA_ENGINE", raising=False)
    assert get_settings().engine == "duckdb"
    monkeypatch.setenv("PANORAMA_ENGINE", " Spark ")
    assert get_settings().engine == "spark"
    monkeypatch.setenv("PANORAMA_ENGINE", "polars")
    with pytest.raises(ValueError, match="PANORAMA_ENGINE='polars'"):
        get_settings()


def test_duckdb_publication_records_its_engine(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("PANORAMA_ENGINE", raising=False)
    cand = tmp_path / "cand.duckdb"
    con = duckdb.connect(str(cand))
    con.execute("create schema entity; create table entity.dim_entity as select 'E1' as entity_id")
    con.close()
    settings = get_settings()
    manifest = publish.publish(
        settings, cand, run_id="r1", logical_date="2026-11-25", input_manifests=[], audit={}
    )
    assert manifest["engine"] == "duckdb"
    assert publish.current_manifest(settings)["engine"] == "duckdb"
    assert not (settings.serving_dir / publish.PARQUET).exists()  # no Parquet marts served


def test_spark_publication_serves_parquet_per_audience_and_duckdb_files_built_from_it(
    data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("PANORAMA_ENGINE", "spark")
    settings = get_settings()
    manifest = publish_marts(settings, tmp_path, marker=1)
    assert manifest["engine"] == "spark"
    serving = settings.serving_dir
    assert publish.current_manifest(settings)["engine"] == "spark"
    # Parquet per audience, each its share only, under the served schema
    pq = serving / publish.PARQUET
    assert sorted(str(p.relative_to(pq)) for p in pq.glob("*/*/*")) == [
        "finance/finance/fin_loan_ceiling",
        "operator/operations/rpt_unresolved_records",
        "public/public_record/pub_entity",
        "regulator/entity/dim_entity",
        "regulator/finance/fin_loan_ceiling",
        "regulator/public_record/pub_entity",
        "regulator/risk/fct_risk_grade",
        "regulator/supervision/supervision_ratios",
    ]
    assert len(list((pq / "regulator/entity/dim_entity").glob("*.parquet"))) == 2
    # the DuckDB serving files, built from those Parquet files
    assert warehouse.list_tables(settings.public_path, EVERY) == ["public_record.pub_entity"]
    assert warehouse.list_tables(serving / "operator.duckdb", EVERY) == [
        "operations.feed_loads",
        "operations.rpt_unresolved_records",
    ]
    regulator = warehouse.list_tables(settings.serving_path, EVERY)
    assert "staging.stg_internal" not in regulator and "supervision.supervision_ratios" in regulator
    assert warehouse.query(
        settings.serving_path, "select count(*), min(marker) from entity.dim_entity"
    ) == [(40, 1)]
    assert manifest["row_counts"]["entity.dim_entity"] == 40
    assert manifest["grade_counts"] == {"A": 10, "B": 10, "C": 10, "D": 10}
    assert warehouse.query(
        settings.serving_path, "select version from panorama_meta.publication"
    ) == [(manifest["version"],)]
    # the served file stands alone: its tables are tables, not views over the Parquet files
    assert warehouse.query(
        settings.serving_path,
        "select count(*) from information_schema.tables where table_type = 'VIEW'",
    ) == [(0,)]
    # every Parquet part is part of what makes the version whole
    assert "parquet/regulator/risk/fct_risk_grade/part-00001.parquet" in manifest["files"]
    assert not list((serving / "versions").glob("*/.views_*"))


def test_versions_and_rollback_across_engines(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PANORAMA_ENGINE", "spark")
    first = publish_marts(get_settings(), tmp_path, marker=1)
    second = publish_marts(get_settings(), tmp_path, marker=2)
    settings = get_settings()

    def served() -> list[tuple]:
        rows = warehouse.query(
            settings.serving_path, "select distinct marker from entity.dim_entity"
        )
        files = sorted((settings.serving_dir / "parquet/regulator/entity/dim_entity").glob("*"))
        return [
            *rows,
            *duckdb.sql(
                f"select distinct marker from read_parquet({[str(f) for f in files]})"
            ).fetchall(),
        ]

    assert served() == [(2,), (2,)]
    publish.rollback(settings, first["version"])
    assert served() == [(1,), (1,)]
    assert publish.current_manifest(settings)["version"] == first["version"]

    # a DuckDB publication next: no Parquet marts served while it is in place
    monkeypatch.setenv("PANORAMA_ENGINE", "duckdb")
    cand = tmp_path / "cand3.duckdb"
    con = duckdb.connect(str(cand))
    con.execute("create schema entity")
    con.execute("create table entity.dim_entity as select 'E1' as entity_id, 3 as marker")
    con.close()
    publish.publish(
        get_settings(), cand, run_id="r3", logical_date="2026-11-26", input_manifests=[], audit={}
    )
    assert not (settings.serving_dir / "parquet").exists()
    publish.rollback(settings, second["version"])
    assert served() == [(2,), (2,)]

    # a kept Spark version missing one Parquet part is refused; serving is unchanged
    part = settings.serving_dir / "versions" / first["version"] / "parquet/public/public_record"
    next(part.rglob("*.parquet")).unlink()
    with pytest.raises(publish.VersionNotWhole, match="parquet/public/public_record/pub_entity"):
        publish.rollback(settings, first["version"])
    assert served() == [(2,), (2,)]


def test_spark_publication_refuses_a_missing_or_empty_marts_folder(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PANORAMA_ENGINE", "spark")
    settings = get_settings()
    kw = dict(run_id="r", logical_date="2026-11-25", input_manifests=[], audit={})
    with pytest.raises(FileNotFoundError, match="no Parquet marts folder"):
        publish.publish(settings, tmp_path / "nowhere", **kw)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no Parquet marts"):
        publish.publish(settings, tmp_path / "empty", **kw)
    assert publish.current_manifest(settings) is None

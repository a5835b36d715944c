"""Publication: atomic replace, kept versions, rollback, and readers during a swap."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest
from panorama import publish, warehouse
from panorama.settings import get_settings


def make_candidate(path: Path, marker: int, rows: int = 50) -> Path:
    """A small warehouse whose every table carries ``marker``: readers tell versions apart."""
    con = duckdb.connect(str(path))
    con.execute(
        "create schema entity; create schema risk; create schema public_record; "
        "create schema staging"
    )
    con.execute(
        f"create table entity.dim_entity as select 'E' || i as entity_id, {marker} as marker "
        f"from range({rows}) t(i)"
    )
    con.execute(
        f"create table risk.fct_risk_grade as select 'E' || i as entity_id, "
        f"['A','B','C','D'][1 + (i % 4)::int] as grade, {marker} as marker from range({rows}) t(i)"
    )
    con.execute(
        "create table public_record.pub_entity as select entity_id, marker from entity.dim_entity"
    )
    con.execute("create table staging.internal_only as select 1 as x")
    con.close()
    return path


def do_publish(settings, tmp_path: Path, marker: int, ds: str = "2026-11-25", rows: int = 50):
    cand = make_candidate(tmp_path / f"cand{marker}.duckdb", marker, rows)
    return publish.publish(
        settings,
        cand,
        run_id=f"run{marker}",
        logical_date=ds,
        input_manifests=[{"feed": "x", "rows_kept": 1}],
        audit={"passed": True},
    )


def test_publish_writes_serving_public_exports_and_manifest(data_dir, tmp_path):
    settings = get_settings()
    m = do_publish(settings, tmp_path, marker=1)
    assert settings.serving_path.exists() and settings.public_path.exists()
    assert m["version"] == "v0001_2026-11-25"
    assert m["row_counts"]["entity.dim_entity"] == 50
    assert m["grade_counts"] == {"A": 13, "B": 13, "C": 12, "D": 12}
    # the public file holds the public schema only
    assert warehouse.list_tables(
        settings.public_path, ("public_record", "entity", "risk", "staging")
    ) == ["public_record.pub_entity"]
    exports = settings.serving_dir / "exports"
    assert (exports / "entity.dim_entity.parquet").exists()
    assert not (exports / "staging.internal_only.parquet").exists()
    assert (settings.serving_dir / "public" / "public_record.pub_entity.parquet").exists()
    assert publish.current_manifest(settings)["version"] == m["version"]


def test_versions_rollback_and_pruning(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PANORAMA_KEEP_VERSIONS", "3")
    settings = get_settings()
    for marker in range(1, 6):
        do_publish(settings, tmp_path, marker, ds=f"2026-11-{20 + marker}")
    kept = [v.name for v in publish.list_versions(settings)]
    assert kept == ["v0003_2026-11-23", "v0004_2026-11-24", "v0005_2026-11-25"]
    assert warehouse.query(settings.serving_path, "select max(marker) from entity.dim_entity") == [
        (5,)
    ]

    publish.rollback(settings, "v0003_2026-11-23")
    assert warehouse.query(settings.serving_path, "select max(marker) from entity.dim_entity") == [
        (3,)
    ]
    assert warehouse.query(
        settings.public_path, "select max(marker) from public_record.pub_entity"
    ) == [(3,)]
    assert publish.current_manifest(settings)["version"] == "v0003_2026-11-23"
    with pytest.raises(KeyError, match="no kept version"):
        publish.rollback(settings, "v0001_2026-11-21")


def test_interrupted_publication_is_cleaned_up(data_dir, tmp_path):
    settings = get_settings()
    do_publish(settings, tmp_path, marker=1)
    before = settings.serving_path.read_bytes()
    # what a publication killed half-way leaves: a staged version without manifest, a temp file
    broken = publish.versions_dir(settings) / "v0002_2026-11-26"
    broken.mkdir()
    (broken / "panorama.duckdb").write_bytes(b"half written")
    (settings.serving_dir / ".panorama.duckdb.incoming").write_bytes(b"half written")
    assert settings.serving_path.read_bytes() == before  # readers still see the last version
    assert [v.name for v in publish.list_versions(settings)] == ["v0001_2026-11-25"]

    m = do_publish(settings, tmp_path, marker=2)
    assert m["version"] == "v0002_2026-11-25"
    assert not (settings.serving_dir / ".panorama.duckdb.incoming").exists()
    assert warehouse.query(settings.serving_path, "select max(marker) from entity.dim_entity") == [
        (2,)
    ]


def test_bi_readers_see_old_or_new_never_an_error(data_dir, tmp_path):
    """SQLAlchemy + duckdb-engine, read-only, as Superset connects, while publications happen."""
    sa = pytest.importorskip("sqlalchemy")
    settings = get_settings()
    do_publish(settings, tmp_path, marker=1, rows=2000)
    engine = sa.create_engine(
        f"duckdb:///{settings.serving_path}",
        connect_args={"read_only": True},
        poolclass=sa.pool.NullPool,
    )
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with engine.connect() as c:
                    rows = c.execute(
                        sa.text("select min(marker), max(marker), count(*) from entity.dim_entity")
                    ).fetchall()
                    grade_marker = c.execute(
                        sa.text("select max(marker) from risk.fct_risk_grade")
                    ).scalar()
                lo, hi, n = rows[0]
                assert lo == hi == grade_marker and n == 2000 + (lo - 1), (lo, hi, n, grade_marker)
                seen.add(lo)
            except BaseException as exc:  # collected and re-raised in the test thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for marker in range(2, 7):
        do_publish(settings, tmp_path, marker, rows=2000 + marker - 1)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors[0]
    assert len(seen) >= 2, f"readers saw only versions {seen}"

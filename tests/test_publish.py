"""Publication: atomic replace, kept versions, rollback, and readers during a swap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from panorama import cli, pipeline, warehouse
from panorama.serve import publish
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
    con.execute(
        "create table entity.rpt_unresolved_records as select 'R1' as record_id, "
        f"{marker} as marker"
    )
    con.execute("create schema finance")
    con.execute(
        "create table finance.fin_loan_ceiling as select entity_id, 10.0 as suggested_ceiling_wan "
        "from entity.dim_entity"
    )
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
    serving = settings.serving_dir
    every = ("public_record", "entity", "risk", "staging", "finance", "operations")
    # each audience's file holds its share only; staging is served to nobody
    assert warehouse.list_tables(settings.public_path, every) == ["public_record.pub_entity"]
    assert warehouse.list_tables(serving / "finance_partners.duckdb", every) == [
        "finance.fin_loan_ceiling"
    ]
    assert warehouse.list_tables(serving / "operator.duckdb", every) == [
        "operations.feed_loads",
        "operations.rpt_unresolved_records",
    ]
    assert warehouse.list_tables(settings.serving_path, every) == [
        "entity.dim_entity",
        "finance.fin_loan_ceiling",
        "public_record.pub_entity",
        "risk.fct_risk_grade",
    ]
    assert warehouse.query(serving / "operator.duckdb", "select * from operations.feed_loads") == [
        ("x", "", "", 0, 0, 0, 1, 0)
    ]
    exports = serving / "exports"
    assert sorted(p.relative_to(exports).as_posix() for p in exports.rglob("*.parquet")) == [
        "finance/finance.fin_loan_ceiling.parquet",
        "operator/operations.feed_loads.parquet",
        "operator/operations.rpt_unresolved_records.parquet",
        "public/public_record.pub_entity.parquet",
        "regulator/entity.dim_entity.parquet",
        "regulator/finance.fin_loan_ceiling.parquet",
        "regulator/public_record.pub_entity.parquet",
        "regulator/risk.fct_risk_grade.parquet",
    ]
    for audience in ("regulator", "public", "finance", "operator"):
        assert (serving / "docs" / audience / "tables.md").is_file()
    assert "finance.fin_loan_ceiling" in (serving / "docs/finance/tables.md").read_text()
    assert "dim_entity" not in (serving / "docs/public/tables.md").read_text()
    assert publish.current_manifest(settings)["version"] == m["version"]
    # the run keeps its whole build (staging included) in its folder, never served
    built = tmp_path / publish.BUILT
    assert built.is_file() and not (tmp_path / "cand1.duckdb").exists()
    assert warehouse.list_tables(built, ("staging",)) == ["staging.internal_only"]


def test_served_files_are_compact_whatever_the_candidate_carried(data_dir, tmp_path):
    """Served files are written fresh from the candidate's served share: a candidate ten times
    bigger (unserved tables, or the blocks a copy of the last publication carries) gives
    served files of the same size as a clean one."""
    settings = get_settings()
    clean = do_publish(settings, tmp_path, marker=1, rows=20000)
    bloated = make_candidate(tmp_path / "cand2.duckdb", 2, rows=20000)
    con = duckdb.connect(str(bloated))
    con.execute(
        "create table staging.old_copy as "
        "select i, md5(i::varchar) || md5((-i)::varchar) as s from range(300000) t(i)"
    )
    con.close()
    m = publish.publish(
        settings,
        bloated,
        run_id="run2",
        logical_date="2026-11-26",
        input_manifests=[{"feed": "x", "rows_kept": 1}],
        audit={"passed": True},
    )
    assert (tmp_path / publish.BUILT).stat().st_size > 2 * m["files"]["panorama.duckdb"]
    for name in ("panorama.duckdb", "public.duckdb"):
        assert m["files"][name] == clean["files"][name], name


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


# ------------------------------------------------------------------ pruning and whole versions


def _served_marker(settings) -> int:
    return warehouse.query(settings.serving_path, "select max(marker) from entity.dim_entity")[0][0]


def test_prune_killed_midway_leaves_no_listed_half_version(data_dir, tmp_path, monkeypatch):
    """A publication killed while deleting the oldest version (its first file gone): that
    version is not listed, rollback to it is refused, and the next publication clears it."""
    monkeypatch.setenv("PANORAMA_KEEP_VERSIONS", "1")
    settings = get_settings()
    do_publish(settings, tmp_path, marker=1, ds="2026-11-21")
    candidate = make_candidate(tmp_path / "cand2.duckdb", 2)
    code = (
        "import os, pathlib, shutil, signal\n"
        "from panorama.serve import publish\n"
        "from panorama.settings import get_settings\n"
        "def rmtree(path, *args, **kwargs):\n"
        "    # the prune deletes one file of the oldest version, then the process dies\n"
        "    next(pathlib.Path(path).glob('*.duckdb')).unlink()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "shutil.rmtree = rmtree\n"
        f"publish.publish(get_settings(), pathlib.Path({str(candidate)!r}), run_id='run2',\n"
        "    logical_date='2026-11-22', input_manifests=[], audit={'passed': True})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(settings.project_root / "plugins")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode(errors="replace")

    old = "v0001_2026-11-21"
    assert not (publish.versions_dir(settings) / old).exists()  # renamed before any deletion
    assert [v.name for v in publish.list_versions(settings)] == ["v0002_2026-11-22"]
    assert publish.current_manifest(settings)["version"] == "v0002_2026-11-22"
    assert _served_marker(settings) == 2
    with pytest.raises(publish.VersionNotWhole, match="being deleted"):
        publish.rollback(settings, old)
    assert _served_marker(settings) == 2

    do_publish(settings, tmp_path, marker=3, ds="2026-11-23")
    assert sorted(p.name for p in publish.versions_dir(settings).iterdir()) == ["v0003_2026-11-23"]


def test_rollback_refuses_a_version_missing_a_file(data_dir, tmp_path, capsys):
    settings = get_settings()
    do_publish(settings, tmp_path, marker=1, ds="2026-11-21")
    do_publish(settings, tmp_path, marker=2, ds="2026-11-22")
    broken = publish.versions_dir(settings) / "v0001_2026-11-21"
    manifest = publish.Version(broken.name, broken).manifest()
    assert set(manifest["files"]) >= {
        "panorama.duckdb",
        "public.duckdb",
        "exports/regulator/entity.dim_entity.parquet",
        "exports/public/public_record.pub_entity.parquet",
    }
    (broken / "public.duckdb").unlink()  # what an interrupted delete of the old code left
    assert publish.missing_files(broken) == ["public.duckdb"]
    assert [v.name for v in publish.list_versions(settings)] == ["v0002_2026-11-22"]

    with pytest.raises(publish.VersionNotWhole, match=r"not whole .*public\.duckdb"):
        publish.rollback(settings, broken.name)
    assert cli.main(["rollback", "--to", broken.name]) == 1
    assert "rollback refused" in capsys.readouterr().err
    assert cli.main(["rollback", "--to", "v0009_2026-11-29"]) == 1
    assert publish.current_manifest(settings)["version"] == "v0002_2026-11-22"
    assert _served_marker(settings) == 2
    assert (settings.serving_dir / "public.duckdb").resolve().is_file()

    cli.main(["versions"])
    assert broken.name not in capsys.readouterr().out
    do_publish(settings, tmp_path, marker=3, ds="2026-11-23")  # clears what is not whole
    assert not broken.exists()
    assert [v.name for v in publish.list_versions(settings)] == [
        "v0002_2026-11-22",
        "v0003_2026-11-23",
    ]
    assert cli.main(["rollback", "--to", "v0002_2026-11-22"]) == 0
    assert _served_marker(settings) == 2


def test_published_run_folders_survive_many_failed_runs(data_dir, tmp_path, monkeypatch):
    """Failed runs leave their folders; pruning them never takes a kept publication's."""
    monkeypatch.setenv("PANORAMA_KEEP_VERSIONS", "2")
    settings = get_settings()
    for marker in (1, 2, 3):
        pipeline.run_dir(settings, f"run{marker}").mkdir(parents=True)
        (pipeline.run_dir(settings, f"run{marker}") / "audit.json").write_text("{}")
        do_publish(settings, tmp_path, marker, ds=f"2026-11-2{marker}")
    failed = [f"failed-{i}" for i in range(pipeline.KEEP_RUN_DIRS + 4)]
    for i, run_id in enumerate(failed):
        pipeline._prune_run_dirs(settings)  # what each run's first stage does
        rdir = pipeline.run_dir(settings, run_id)
        rdir.mkdir()
        os.utime(rdir, (time.time() + i, time.time() + i))
    pipeline._prune_run_dirs(settings)
    left = {p.name for p in (settings.build_dir / "runs").iterdir()}
    kept_runs = {v.manifest()["run_id"] for v in publish.list_versions(settings)}
    assert kept_runs == {"run2", "run3"}
    assert left == kept_runs | set(failed[-pipeline.KEEP_RUN_DIRS :])
    assert (pipeline.run_dir(settings, "run3") / "audit.json").exists()

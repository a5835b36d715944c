"""PostgreSQL as a publication target: a real server started for the session in a temporary
folder (initdb + pg_ctl on a free port), roles checked by logging in as each, and readers of
both targets (SQLAlchemy + duckdb-engine on the DuckDB file, SQLAlchemy + psycopg on
PostgreSQL) querying while publications and a rollback happen."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import psycopg
import pytest
import sqlalchemy as sa
from panorama.serve import postgres, publish
from panorama.settings import get_settings

OWNER, OWNER_PW = "panorama_owner", "owner-secret"
READER_PW = "reader-secret"
DB = "panorama"
# eight readers in all: four on the DuckDB file, four on PostgreSQL
READERS_PER_TARGET = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL 15 cluster of its own; yields the owner's URL; stopped and removed after."""
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not on PATH")
    root = Path(tempfile.mkdtemp(prefix="panorama-pg-"))
    as_server = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres")
        as_server = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    pwfile = root / "pw"
    pwfile.write_text("admin-secret\n")
    if as_server:
        shutil.chown(pwfile, "postgres")

    def run(*cmd: str) -> None:
        subprocess.run([*as_server, *cmd], check=True, capture_output=True, timeout=120)

    run("initdb", "-D", str(data), "-U", "admin", f"--pwfile={pwfile}", "-A", "scram-sha-256")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    try:
        admin = f"postgresql://admin:admin-secret@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"create role {OWNER} login createrole password '{OWNER_PW}'")
            conn.execute(f"create database {DB} owner {OWNER}")
        yield f"postgresql://{OWNER}:{OWNER_PW}@127.0.0.1:{port}/{DB}"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg(pg_server, data_dir, monkeypatch):
    """Publications of this test go to a clean database through the Airflow connection."""
    with psycopg.connect(pg_server, autocommit=True) as conn:
        schemas = conn.execute(
            "select nspname from pg_namespace where nspname not like 'pg\\_%' "
            "and nspname not in ('information_schema', 'public')"
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(f'drop schema "{schema}" cascade')
    monkeypatch.setenv(
        "AIRFLOW_CONN_PANORAMA_PG", pg_server.replace("postgresql://", "postgres://")
    )
    monkeypatch.setenv("PANORAMA_POSTGRES_CONN_ID", "panorama_pg")
    return pg_server


def make_candidate(path: Path, marker: int) -> Path:
    """A small build with every audience's tables; ``marker`` and the row count (100 per
    marker) tell versions apart."""
    rows = 100 * marker
    con = duckdb.connect(str(path))
    for schema in ("entity", "risk", "supervision", "finance", "public_record", "staging"):
        con.execute(f"create schema {schema}")
    con.execute(
        f"create table entity.dim_entity as select 'E' || i as entity_id, {marker} as marker, "
        f"i * 1.5 as capital, date '2026-01-01' + i::int as since from range({rows}) t(i)"
    )
    con.execute(
        f"create table risk.fct_risk_grade as select entity_id, ['A','B','C','D'][1 + (i % 4)] "
        f"as grade, {marker} as marker from (select entity_id, row_number() over () as i "
        "from entity.dim_entity)"
    )
    con.execute(
        f"create table supervision.fct_spot_check_plan as select entity_id, {marker} as marker "
        "from entity.dim_entity limit 5"
    )
    con.execute(
        "create table finance.rpt_credit_loan_ceiling as select entity_id, grade, "
        "50.0 as suggested_ceiling_wan from risk.fct_risk_grade"
    )
    con.execute(
        "create table finance.fin_loan_ceiling as select entity_id, suggested_ceiling_wan "
        "from finance.rpt_credit_loan_ceiling"
    )
    con.execute(
        f"create table public_record.pub_entity as select entity_id, {marker} as marker "
        "from entity.dim_entity"
    )
    con.execute("create table entity.rpt_unresolved_records as select 'R1' as record_id")
    con.execute("create table staging.stg_internal as select '13812345678' as phone")
    con.close()
    return path


def publish_marker(settings, tmp_path: Path, marker: int) -> dict:
    return publish.publish(
        settings,
        make_candidate(tmp_path / f"cand{marker}.duckdb", marker),
        run_id=f"run{marker}",
        logical_date=f"2026-11-2{marker}",
        input_manifests=[],
        audit={"passed": True},
    )


def _login(pg_url: str, role: str) -> str:
    user = f"{role}_user"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"drop role if exists {user}")
        conn.execute(f"create role {user} login password '{READER_PW}' in role {role}")
    return pg_url.replace(f"{OWNER}:{OWNER_PW}", f"{user}:{READER_PW}")


SERVED = {
    "entity.dim_entity",
    "risk.fct_risk_grade",
    "supervision.fct_spot_check_plan",
    "finance.rpt_credit_loan_ceiling",
    "finance.fin_loan_ceiling",
    "public_record.pub_entity",
}
CAN_READ = {
    "panorama_regulator": SERVED,
    "panorama_public": {"public_record.pub_entity"},
    "panorama_finance": {"finance.fin_loan_ceiling"},
}


def test_each_role_reads_its_share_and_is_refused_everything_else(pg, tmp_path):
    settings = get_settings()
    m = publish_marker(settings, tmp_path, 1)
    internal = [
        "v0001__entity.dim_entity",  # a version's own tables: the pipeline's only
        "v0001__public_record.pub_entity",
        "panorama_meta.serving",
        "panorama_meta.publication",
    ]
    with psycopg.connect(pg) as conn:
        tables = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "select table_schema, table_name from information_schema.views "
                "where table_schema in ('entity','risk','supervision','finance','public_record')"
            )
        }
    assert tables == SERVED  # the operators' review queue and staging are not served
    for role, readable in CAN_READ.items():
        with psycopg.connect(_login(pg, role), autocommit=True) as conn:
            assert (
                conn.execute("select version from panorama_meta.current_version").fetchone()[0]
                == m["version"]
            )
            for table in sorted(readable):
                n = conn.execute(f"select count(*) from {table}").fetchone()[0]
                assert n == m["row_counts"][table], (role, table)
            for table in sorted(SERVED - readable) + internal:
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                    conn.execute(f"select count(*) from {table}")


def _reader(url: str, connect_args: dict, version_sql: str, rows_of: dict, out: dict, stop):
    """Query in a loop; each transaction reads the version in place and the tables' rows,
    which must all be that version's."""
    engine = sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)
    if url.startswith("postgresql"):
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    try:
        while not stop.is_set():
            with engine.connect() as c:
                version = c.execute(sa.text(version_sql)).scalar()
                n, lo, hi = c.execute(
                    sa.text("select count(*), min(marker), max(marker) from entity.dim_entity")
                ).one()
                grade_marker = c.execute(
                    sa.text("select max(marker) from risk.fct_risk_grade")
                ).scalar()
                public_n = c.execute(
                    sa.text("select count(*) from public_record.pub_entity")
                ).scalar()
            marker = rows_of[version]
            assert (n, lo, hi, grade_marker, public_n) == (
                100 * marker,
                marker,
                marker,
                marker,
                100 * marker,
            ), (
                version,
                n,
                lo,
                hi,
                grade_marker,
            )
            out["queries"] += 4
            out["versions"].add(version)
            time.sleep(0.05)  # leave the publishing thread its share of two loaded cores
    except BaseException as exc:  # reported by the test thread
        out["errors"].append(exc)
    finally:
        engine.dispose()


def test_readers_of_both_targets_see_one_whole_version_during_publications(pg, tmp_path):
    settings = get_settings()
    markers = {}
    m = publish_marker(settings, tmp_path, 1)
    markers[m["version"]] = 1
    for marker in (2, 3, 4):  # versions to come: v0002 .. v0004
        markers[f"v000{marker}_2026-11-2{marker}"] = marker
    regulator_pg = _login(pg, "panorama_regulator").replace(
        "postgresql://", "postgresql+psycopg://"
    )
    targets = [
        (
            f"duckdb:///{settings.serving_path}",
            {"read_only": True},
            "select version from panorama_meta.publication",
        ),
        (regulator_pg, {}, "select version from panorama_meta.current_version"),
    ]
    stop = threading.Event()
    results = []
    threads = []
    for url, args, version_sql in targets:
        for _ in range(READERS_PER_TARGET):
            out = {"queries": 0, "versions": set(), "errors": [], "target": url.split(":")[0]}
            results.append(out)
            t = threading.Thread(target=_reader, args=(url, args, version_sql, markers, out, stop))
            threads.append(t)
            t.start()
    time.sleep(1)
    started = time.monotonic()
    for marker in (2, 3, 4):
        assert publish_marker(settings, tmp_path, marker)["version"].startswith(f"v000{marker}")
        time.sleep(0.5)
    publish.rollback(settings, "v0002_2026-11-22")
    switching = time.monotonic() - started
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    errors = [e for r in results for e in r["errors"]]
    assert not errors, repr(errors[0])
    queries = sum(r["queries"] for r in results)
    print(
        f"{queries} queries by {len(results)} readers; "
        f"3 publications + 1 rollback in {switching:.1f}s"
    )
    for kind in ("duckdb", "postgresql+psycopg"):
        mine = [r for r in results if r["target"] == kind]
        assert all(r["queries"] > 0 for r in mine), kind
        seen = set().union(*(r["versions"] for r in mine))
        assert len(seen) >= 3 and "v0002_2026-11-22" in seen, (kind, seen)
    with psycopg.connect(pg) as conn:
        assert postgres.current_version(conn) == "v0002_2026-11-22"
        assert conn.execute("select max(marker) from entity.dim_entity").fetchone()[0] == 2

"""The SQL connector on SQLite and on a real PostgreSQL 15 server started by the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from panorama.ingest.extract import FeedError, extract_feed
from panorama.ingest.feeds import FeedSpec
from panorama.settings import get_settings

DS = "2024-03-06"
COLUMNS = {
    "name": {"source": "qymc"},
    "uscc": {"source": "tyshxydm"},
    "list_reason": {"source": "lryy"},
    "list_date": {"source": "lrrq"},
    "list_org": {"source": "lrjg"},
}
ROWS = [
    (
        "德州某某有限公司",
        "91371402ma1k3btp2b",
        "未按规定报送年度报告",
        "2024/3/1",
        "德城区市场监督管理局",
    ),
    ("某某商贸", None, "通过登记的住所无法联系", "2024-02-01", "陵城区市场监督管理局"),
    ("某某超市", "92371402MA3C0X5E4Y", "未按规定报送年度报告", "garbage", "德城区市场监督管理局"),
]


def spec(**transport) -> FeedSpec:
    return FeedSpec.model_validate(
        {
            "name": "abnormal_list__amr",
            "kind": "abnormal_list",
            "department": "德州市市场监督管理局",
            "transport": {"type": "sql", **transport},
            "format": {"type": "table"},
            "columns": COLUMNS,
            "expected_rows": {"min": 0},
        }
    )


def make_table(engine: sa.Engine, rows, pk: bool = False) -> None:
    with engine.begin() as con:
        con.execute(sa.text("drop table if exists abnormal"))
        key = "id integer primary key," if pk else ""
        con.execute(
            sa.text(
                f"create table abnormal ({key} qymc text, tyshxydm text, lryy text, lrrq text, "
                "lrjg text, extra_col text)"
            )
        )
        for i, r in enumerate(rows):
            params = dict(zip(("a", "b", "c", "d", "e"), r, strict=True)) | {"i": len(rows) - i}
            cols = "id, " if pk else ""
            vals = ":i, " if pk else ""
            con.execute(
                sa.text(
                    f"insert into abnormal ({cols}qymc, tyshxydm, lryy, lrrq, lrjg, extra_col) "
                    f"values ({vals}:a, :b, :c, :d, :e, 'x')"
                ),
                params,
            )


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PANORAMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    s = get_settings()
    s.landing_dir.mkdir(parents=True)
    return s


def raw(settings) -> list[dict]:
    return pq.read_table(settings.raw_dir / "abnormal_list__amr" / f"load_date={DS}").to_pylist()


def test_sqlite_table_in_rowid_order(settings) -> None:
    make_table(sa.create_engine(f"sqlite:///{settings.landing_dir / 'amr.db'}"), ROWS)
    m = extract_feed(spec(url="sqlite:///{landing}/amr.db", table="abnormal"), DS, settings)
    got = raw(settings)
    assert [r["name"] for r in got] == ["德州某某有限公司", "某某商贸"]
    assert [r["_source_row"] for r in got] == [1, 2]
    assert got[0]["uscc"] == "91371402MA1K3BTP2B" and got[0]["list_date"] == "2024-03-01"
    assert {r["_source_file"] for r in got} == {"abnormal"}
    assert m.unmapped_columns == ["extra_col"] and m.totals["rows_quarantined"] == 1


def test_sqlite_query_and_connection_override(settings, monkeypatch) -> None:
    make_table(sa.create_engine(f"sqlite:///{settings.landing_dir / 'amr.db'}"), ROWS)
    monkeypatch.setenv("AIRFLOW_CONN_AMR_DB", f"sqlite:///{settings.landing_dir / 'amr.db'}")
    s = spec(
        conn_id="amr_db",
        url="sqlite:///nowhere.db",
        query="select qymc, tyshxydm, lryy, lrrq, lrjg from abnormal where lrrq <> 'garbage'",
    )
    m = extract_feed(s, DS, settings)
    assert [r["name"] for r in raw(settings)] == ["德州某某有限公司", "某某商贸"]
    assert m.files[0].name == "query" and m.totals["rows_read"] == 2


def test_sqlite_connection_in_airflow_uri_form(settings, monkeypatch) -> None:
    """Airflow writes a SQLite file's path percent-encoded (``Connection.get_uri()``)."""
    db = settings.landing_dir / "amr.db"
    make_table(sa.create_engine(f"sqlite:///{db}"), ROWS)
    encoded = urllib.parse.quote(str(db), safe="")
    for uri in (f"sqlite://{encoded}", f"sqlite:///{encoded}"):
        monkeypatch.setenv("AIRFLOW_CONN_AMR_DB", uri)
        m = extract_feed(spec(conn_id="amr_db", table="abnormal"), DS, settings)
        assert m.status != "failed", m.error


def test_empty_sql_table(settings) -> None:
    make_table(sa.create_engine(f"sqlite:///{settings.landing_dir / 'amr.db'}"), [])
    m = extract_feed(spec(url="sqlite:///{landing}/amr.db", table="abnormal"), DS, settings)
    assert m.totals["rows_read"] == 0 and raw(settings) == []
    part = next((settings.raw_dir / "abnormal_list__amr" / f"load_date={DS}").glob("*.parquet"))
    assert "list_reason" in pq.read_schema(part).names


def test_missing_table_fails_the_feed(settings) -> None:
    sa.create_engine(f"sqlite:///{settings.landing_dir / 'amr.db'}").connect().close()
    with pytest.raises(FeedError, match="'nope' not found"):
        extract_feed(spec(url="sqlite:///{landing}/amr.db", table="nope"), DS, settings)


def test_missing_sqlite_file_fails_and_creates_nothing(settings, monkeypatch) -> None:
    with pytest.raises(FeedError, match=r"url 'sqlite:///\{landing\}/gone.db'.*gone.db does not"):
        extract_feed(spec(url="sqlite:///{landing}/gone.db", table="abnormal"), DS, settings)
    monkeypatch.setenv("AIRFLOW_CONN_AMR_DB", f"sqlite:///{settings.landing_dir / 'also.db'}")
    with pytest.raises(FeedError, match=r"connection 'amr_db'.*also.db does not exist"):
        extract_feed(spec(conn_id="amr_db", table="abnormal"), DS, settings)
    assert list(settings.landing_dir.iterdir()) == []
    manifest = settings.manifests_dir / "abnormal_list__amr" / f"load_date={DS}.json"
    assert '"status": "failed"' in manifest.read_text(encoding="utf-8")


def test_a_table_content_lands_once_and_an_empty_reload_keeps_it(settings) -> None:
    db = settings.landing_dir / "amr.db"
    make_table(sa.create_engine(f"sqlite:///{db}"), ROWS)
    feed = spec(url="sqlite:///{landing}/amr.db", table="abnormal")
    first = extract_feed(feed, DS, settings)
    part_dir = settings.raw_dir / "abnormal_list__amr" / f"load_date={DS}"
    before = {p.name: p.read_bytes() for p in part_dir.iterdir()}
    assert extract_feed(feed, DS, settings).landing["files_unchanged"] == 1
    assert {p.name: p.read_bytes() for p in part_dir.iterdir()} == before
    later = extract_feed(feed, "2024-03-07", settings)  # the same table content: landed already
    assert later.files == [] and later.landing["files_already_landed"] == 1
    make_table(sa.create_engine(f"sqlite:///{db}"), [])  # the table emptied by mistake
    with pytest.raises(FeedError, match=r"2024-03-06: re-delivery abnormal .*no row kept"):
        extract_feed(feed, DS, settings)
    assert {p.name: p.read_bytes() for p in part_dir.iterdir()} == before
    assert len(raw(settings)) == first.totals["rows_kept"] == 2


def _pg_bindir() -> Path | None:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        cand = Path(out.stdout.strip())
        if (cand / "initdb").exists():
            return cand
    except (OSError, subprocess.CalledProcessError):
        pass
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "initdb").exists():
            return cand
    return None


@pytest.fixture(scope="session")
def postgres_url():
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    if shutil.which("runuser") is None:
        pytest.skip("runuser not available to run PostgreSQL as the postgres user")
    base = Path(tempfile.mkdtemp(prefix="panorama-pg-"))
    base.chmod(0o777)
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def as_pg(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True, check=True
        )

    as_pg(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-sync",
    )
    as_pg(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(base / "log"),
        "-w",
        "-o",
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sa.create_engine(url).connect().close()
                break
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "fast",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.postgres
def test_postgres_table_ordered_by_primary_key(settings, postgres_url, monkeypatch) -> None:
    engine = sa.create_engine(postgres_url)
    make_table(engine, ROWS, pk=True)  # ids 3, 2, 1: primary-key order reverses insertion
    monkeypatch.setenv(
        "AIRFLOW_CONN_AMR_PG", postgres_url.replace("postgresql+psycopg", "postgres")
    )
    m = extract_feed(spec(conn_id="amr_pg", table="abnormal"), DS, settings)
    assert [r["name"] for r in raw(settings)] == ["某某商贸", "德州某某有限公司"]
    assert m.totals == {**m.totals, "rows_read": 3, "rows_kept": 2, "rows_quarantined": 1}
    assert set(m.unmapped_columns) == {"id", "extra_col"}


@pytest.mark.postgres
def test_postgres_empty_table_streams_nothing(settings, postgres_url) -> None:
    make_table(sa.create_engine(postgres_url), [])
    m = extract_feed(spec(url=postgres_url, table="public.abnormal"), DS, settings)
    assert m.totals["rows_read"] == 0 and raw(settings) == []

"""Raw-zone lifecycle: 30 daily deliveries land, and what a run reads stays flat.

A full feed (a registration list delivered whole every day) and an incremental feed (a backlog of
penalties, then a few a day) land through the real extract for 30 days, then two more in the next
month; after
each day the lifecycle (retention of full deliveries, monthly compaction of incremental ones)
runs. The bytes the dbt sources scan stay flat, nothing history needs is lost (archive, ledger,
every incremental record with its own load date), a landed content is never taken twice, and dbt
stages the compacted raw zone.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from panorama.ingest.extract import extract_feed
from panorama.ingest.rawzone import (
    ARCHIVE,
    LEDGER,
    apply_lifecycle,
    dated_partitions,
    partition_rows,
    source_bytes,
)
from panorama.settings import get_settings

FIRST = date(2026, 11, 1)
DAYS = 30  # November, measured; then two days of December (a new month)
MORE = 2
ENTITIES = 1000
BACKLOG = 3000  # penalties in the first delivery; then PER_DAY a day
PER_DAY = 2

REGISTRATION_YAML = """\
name: registration__t
kind: registration
department: 测试登记机关
delivery: full
transport: {type: file, path: "registration__t/*.csv"}
format: {type: csv, encoding: utf-8}
columns:
  uscc:   {source: 统一社会信用代码, type: code}
  name:   {source: 主体名称}
  status: {source: 登记状态}
expected_rows: {min: 1}
"""

PENALTY_YAML = """\
name: penalty__t
kind: penalty
department: 测试执法机关
delivery: incremental
transport: {type: file, path: "penalty__t/*.csv"}
format: {type: csv, encoding: utf-8}
columns:
  cf_wsh:       {source: 决定书文号}
  cf_xdr_mc:    {source: 相对人名称}
  cf_xdr_shxym: {source: 统一社会信用代码, type: code}
  cf_cflb:      {source: 处罚类别}
  cf_jdrq:      {source: 决定日期, type: date}
  cf_cfjg:      {source: 处罚机关}
"""


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _deliver(landing: Path, day: int, ds: str) -> None:
    """Day ``day``'s files: the whole registration list, and new penalties."""
    statuses = ["存续", "在业", "注销"]
    reg = [
        [
            f"9137140000000{i:05d}",
            f"德州市测试{i}商贸有限公司",
            statuses[(i + day) % 3 if i < 5 else 0],
        ]
        for i in range(ENTITIES + day)
    ]
    _write_csv(
        landing / "registration__t" / f"registration__t_{ds.replace('-', '')}.csv",
        ["统一社会信用代码", "主体名称", "登记状态"],
        reg,
    )
    first, count = (0, BACKLOG) if day == 0 else (BACKLOG + (day - 1) * PER_DAY, PER_DAY)
    pen = [
        [
            f"德市监罚〔2026〕{n}号",
            f"德州市测试{n % ENTITIES}商贸有限公司",
            f"9137140000000{n % ENTITIES:05d}",
            "罚款",
            ds,
            "德州市市场监督管理局",
        ]
        for n in range(first, first + count)
    ]
    _write_csv(
        landing / "penalty__t" / f"penalty__t_{ds.replace('-', '')}.csv",
        ["决定书文号", "相对人名称", "统一社会信用代码", "处罚类别", "决定日期", "处罚机关"],
        pen,
    )


@pytest.fixture(scope="module")
def thirty_days(tmp_path_factory):
    """30 days landed with the lifecycle after each; the bytes read per day, and what the same
    days would read if every load stayed (the sum of the partitions as they landed)."""
    root = tmp_path_factory.mktemp("lifecycle")
    feeds = root / "feeds"
    feeds.mkdir()
    (feeds / "registration__t.yaml").write_text(REGISTRATION_YAML, encoding="utf-8")
    (feeds / "penalty__t.yaml").write_text(PENALTY_YAML, encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("PANORAMA_DATA_DIR", str(root / "data"))
    mp.setenv("PANORAMA_FEEDS_DIR", str(feeds))
    settings = get_settings()
    read, unpruned, landed, days = [], [], 0, []
    try:
        for day in range(DAYS + MORE):
            ds = (FIRST + timedelta(days=day)).isoformat()
            days.append(ds)
            _deliver(settings.landing_dir, day, ds)
            for feed in ("registration__t", "penalty__t"):
                extract_feed(feed, ds, settings)
                part = settings.raw_dir / feed / f"load_date={ds}"
                landed += sum(p.stat().st_size for p in part.glob("*.parquet"))
            report = apply_lifecycle(settings)
            assert report["source_bytes"] == source_bytes(settings.raw_dir)
            read.append(report["source_bytes"])
            unpruned.append(landed)
        print("bytes read per day:", read)
        yield {"settings": settings, "read": read, "unpruned": unpruned, "days": days, "mp": mp}
    finally:
        mp.undo()


def test_bytes_read_stay_flat(thirty_days):
    read, unpruned = thirty_days["read"], thirty_days["unpruned"]
    # day 30 within 10 % of day 1, while keeping every load would read ~ 30 copies
    assert read[DAYS - 1] <= 1.10 * read[0], (read[0], read[DAYS - 1])
    assert unpruned[DAYS - 1] > 10 * unpruned[0]
    # a new month adds one month partition of the incremental feed, not a copy a day
    assert read[-1] <= 1.10 * read[DAYS], (read[DAYS], read[-1])


def test_full_feed_keeps_latest_live_and_history_archived(thirty_days):
    settings, days = thirty_days["settings"], thirty_days["days"]
    raw = settings.raw_dir
    live = dated_partitions(raw / "registration__t")
    assert list(live) == [days[-1]]
    assert partition_rows(live[days[-1]]) == ENTITIES + DAYS + MORE - 1
    # the month-end load of November and the load before the latest, in the archive
    archived = dated_partitions(raw / ARCHIVE / "registration__t")
    assert set(archived) == {"2026-11-30", days[-2]}
    assert partition_rows(archived["2026-11-30"]) == ENTITIES + DAYS - 1
    # every retired load keeps its files' bookkeeping
    ledger = sorted(p.stem for p in (raw / LEDGER / "registration__t").glob("*.json"))
    assert ledger == [f"load_date={d}" for d in days[:-1]]
    # manifests and quarantine folders are kept for every date
    for d in days:
        assert (settings.manifests_dir / "registration__t" / f"load_date={d}.json").is_file()
        assert (settings.quarantine_dir / "registration__t" / f"load_date={d}").is_dir()


def test_incremental_feed_compacted_per_month_loses_nothing(thirty_days):
    settings, days = thirty_days["settings"], thirty_days["days"]
    glob = str(settings.raw_dir / "penalty__t" / "load_date=*" / "*.parquet")
    folders = sorted(p.name for p in (settings.raw_dir / "penalty__t").iterdir())
    assert folders == ["load_date=month-2026-11", "load_date=month-2026-12"]
    rows = duckdb.sql(
        f"select _load_date, count(*) from read_parquet('{glob}', union_by_name = true) "
        "group by all order by 1"
    ).fetchall()
    assert rows == [(days[0], BACKLOG)] + [(d, PER_DAY) for d in days[1:]]


def test_retired_content_is_not_landed_again(thirty_days):
    settings, days = thirty_days["settings"], thirty_days["days"]
    before = source_bytes(settings.raw_dir)
    # the landing folder still holds every delivery: the next date takes none of them
    for feed in ("registration__t", "penalty__t"):
        manifest = extract_feed(feed, "2026-12-03", settings).to_dict()
        assert manifest["status"] != "failed"
        assert manifest["landing"]["files_already_landed"] == DAYS + MORE
        assert manifest["totals"]["rows_kept"] == 0
    apply_lifecycle(settings)
    assert source_bytes(settings.raw_dir) <= before
    live = dated_partitions(settings.raw_dir / "registration__t")
    assert list(live) == [days[-1]]


def test_dbt_stages_the_compacted_raw_zone(thirty_days, tmp_path):
    """dbt's staging reads the month partitions with each record's own load date, and the full
    feed's latest list only."""
    from panorama.build.dbt_runner import run_dbt

    settings, days = thirty_days["settings"], thirty_days["days"]
    db = tmp_path / "candidate.duckdb"
    result = run_dbt(
        ["run", "--select", "stg_raw__registration", "stg_raw__penalty"],
        settings=settings,
        db_path=db,
        run_dir=tmp_path / "run",
        as_of=days[-1],
        run_id="lifecycle",
    )
    assert result.success, result.log_tail
    con = duckdb.connect(str(db), read_only=True)
    try:
        regs = con.sql(
            "select count(*), min(load_date), max(load_date) from staging.stg_raw__registration"
        ).fetchall()[0]
        pens = con.sql(
            "select count(*), min(load_date), max(load_date) from staging.stg_raw__penalty"
        ).fetchall()[0]
    finally:
        con.close()
    last = date.fromisoformat(days[-1])
    assert regs == (ENTITIES + DAYS + MORE - 1, last, last)
    assert pens == (BACKLOG + (DAYS + MORE - 1) * PER_DAY, FIRST, last)

"""Landing: which files a date takes, each delivered content landed once, a re-delivery that
fails never erases what landed, and a feed that kept rows before and now keeps none stops the
gate unless accepted. Real extracts of small files written as a department sends them."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from panorama.gate.audit import BaselineAcceptance, check_feeds
from panorama.ingest.extract import FeedError, extract_feed

FEED = "penalty__amr"
DS1, DS2, DS3 = "2024-03-06", "2024-03-07", "2024-03-08"
HEADER = ["行政处罚决定书文号", "行政相对人名称", "统一社会信用代码", "处罚决定日期", "处罚机关"]
YAML = f"""\
name: {FEED}
kind: penalty
department: 德州市市场监督管理局
transport: {{type: file, path: "{FEED}/*.csv"}}
format: {{type: csv, encoding: gbk}}
columns:
  cf_wsh: {{source: 行政处罚决定书文号}}
  cf_xdr_mc: {{source: 行政相对人名称}}
  cf_xdr_shxym: {{source: 统一社会信用代码}}
  cf_cflb: {{value: 罚款}}
  cf_jdrq: {{source: 处罚决定日期}}
  cf_cfjg: {{source: 处罚机关}}
expected_rows: {{min: {{min_rows}}}}
"""


def rows(first: int, n: int, date: str = "2024-03-05") -> list[list[str]]:
    return [
        [f"德市监罚〔2024〕{i}号", f"德州某某商贸{i}号店", "", date, "德州市市场监督管理局"]
        for i in range(first, first + n)
    ]


def gbk_csv(records: list[list[str]]) -> bytes:
    """A department's GBK CSV with CRLF line ends."""
    return "".join(",".join(r) + "\r\n" for r in [HEADER, *records]).encode("gbk")


@pytest.fixture
def env(feed_settings):
    (feed_settings.landing_dir / FEED).mkdir()
    add_feed(feed_settings, min_rows=0)
    return feed_settings


def add_feed(settings, min_rows: int) -> None:
    text = YAML.replace("{min_rows}", str(min_rows))
    (settings.feeds_dir / f"{FEED}.yaml").write_text(text, encoding="utf-8")


def deliver(settings, name: str, content: bytes) -> None:
    (settings.landing_dir / FEED / name).write_bytes(content)


def partition(settings, ds: str) -> dict[str, bytes]:
    """Every file of the date's raw partition and quarantine, by path, with its bytes."""
    out = {}
    for root in (settings.raw_dir, settings.quarantine_dir):
        for p in sorted((root / FEED / f"load_date={ds}").iterdir()):
            out[str(p.relative_to(settings.data_dir))] = p.read_bytes()
    return out


def landed_rows(settings, ds: str) -> list[tuple[str, str]]:
    table = pq.read_table(settings.raw_dir / FEED / f"load_date={ds}")
    return sorted(zip(table["_source_file"].to_pylist(), table["cf_wsh"].to_pylist(), strict=True))


def manifest(settings, ds: str) -> dict:
    path = settings.manifests_dir / FEED / f"load_date={ds}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_file_is_consumed_by_one_date_only(env) -> None:
    deliver(env, "penalty_20240306.csv", gbk_csv(rows(1, 3)))
    first = extract_feed(FEED, DS1)
    assert first.landing["files_new"] == 1 and len(landed_rows(env, DS1)) == 3
    # the next day: the file is still in the landing folder, and so is a copy of it
    deliver(env, "penalty_20240306_copy.csv", gbk_csv(rows(1, 3)))
    second = extract_feed(FEED, DS2)
    assert second.files == [] and second.landing["files_already_landed"] == 2
    assert landed_rows(env, DS2) == [] and second.status == "warning"
    assert "no new delivery" in second.warnings[0]
    # a new file lands under the date that first sees it, and only there
    deliver(env, "penalty_20240307.csv", gbk_csv(rows(10, 2)))
    third = extract_feed(FEED, DS2)
    assert [f.name for f in third.files] == [f"{FEED}/penalty_20240307.csv"]
    assert [w for _, w in landed_rows(env, DS2)] == ["德市监罚〔2024〕10号", "德市监罚〔2024〕11号"]
    before = partition(env, DS1)
    assert extract_feed(FEED, DS1).landing == {
        "files_new": 0,
        "files_replaced": 0,
        "files_unchanged": 1,
        "files_already_landed": 2,
    }
    assert partition(env, DS1) == before


def test_a_corrected_file_of_the_same_name_replaces_only_its_rows(env) -> None:
    deliver(env, "a.csv", gbk_csv(rows(1, 3)))
    deliver(env, "b.csv", gbk_csv([*rows(20, 2), *rows(22, 1, date="三月五日")]))
    first = extract_feed(FEED, DS1)
    b_part = next(f.part for f in first.files if f.name.endswith("b.csv"))
    b_before = (env.raw_dir / FEED / f"load_date={DS1}" / b_part).read_bytes()
    deliver(env, "a.csv", gbk_csv(rows(1, 2)))  # the department withdrew decision 3
    again = extract_feed(FEED, DS1)
    assert again.landing["files_replaced"] == 1 and again.landing["files_unchanged"] == 1
    assert landed_rows(env, DS1) == [
        (f"{FEED}/a.csv", "德市监罚〔2024〕1号"),
        (f"{FEED}/a.csv", "德市监罚〔2024〕2号"),
        (f"{FEED}/b.csv", "德市监罚〔2024〕20号"),
        (f"{FEED}/b.csv", "德市监罚〔2024〕21号"),
    ]
    assert (env.raw_dir / FEED / f"load_date={DS1}" / b_part).read_bytes() == b_before
    assert again.totals["rows_kept"] == 4 and again.totals["files"] == 2
    assert again.totals["rows_quarantined"] == 1  # b.csv's bad row stays in the quarantine
    quarantined = pq.read_table(env.quarantine_dir / FEED / f"load_date={DS1}" / "rows.parquet")
    assert quarantined["_source_file"].to_pylist() == [f"{FEED}/b.csv"]


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("a.csv", b"", "empty file"),  # the same file re-sent empty
        ("a.csv", gbk_csv(rows(1, 3)).replace("德".encode("gbk"), b"\xff\xff"), "not valid gbk"),
        ("a.csv", gbk_csv(rows(1, 3, date="三月五日")), "no row kept"),  # every row quarantined
        ("a_resent.csv", gbk_csv([]), "no row kept"),  # a new, header-only file
    ],
)
def test_a_failing_re_delivery_leaves_the_landed_partition_as_it_was(
    env, name: str, content: bytes, why: str
) -> None:
    deliver(env, "a.csv", gbk_csv(rows(1, 3)))
    first = extract_feed(FEED, DS1)
    before = partition(env, DS1)
    deliver(env, name, content)
    with pytest.raises(FeedError) as caught:
        extract_feed(FEED, DS1)
    message = str(caught.value)
    assert all(s in message for s in (FEED, DS1, f"{FEED}/{name}", why, "3 row(s)")), message
    assert partition(env, DS1) == before
    failed = manifest(env, DS1)
    assert failed["status"] == "failed" and failed["error"] == message
    assert failed["previous"]["batch_id"] == first.batch_id
    assert failed["previous"]["totals"] == first.totals
    # the loud failure repeats until the department fixes the file; the data stays
    with pytest.raises(FeedError):
        extract_feed(FEED, DS1)
    assert manifest(env, DS1)["previous"]["batch_id"] == first.batch_id
    assert partition(env, DS1) == before


def test_nothing_new_for_a_feed_that_must_deliver_is_not_a_failure(env) -> None:
    add_feed(env, min_rows=1)
    deliver(env, "a.csv", gbk_csv(rows(1, 3)))
    extract_feed(FEED, DS1)
    m = extract_feed(FEED, DS2)  # the full list landed under DS1 stays current
    assert m.status == "warning" and m.totals["rows_kept"] == 0


def test_a_feed_that_kept_rows_and_now_keeps_none_stops_the_gate(env) -> None:
    deliver(env, "a.csv", gbk_csv(rows(1, 3)))
    extract_feed(FEED, DS1)
    deliver(env, "b.csv", b"")  # the next delivery arrives empty
    m = extract_feed(FEED, DS2)
    assert m.status == "warning" and m.totals == {**m.totals, "files": 1, "rows_kept": 0}
    [found] = check_feeds(env.manifests_dir, DS2)
    assert found["feed"] == FEED and not found["waived"]
    assert found["last_load_with_rows"] == DS1 and "kept 3" in found["message"]
    assert check_feeds(env.manifests_dir, DS1) == []
    other = BaselineAcceptance.from_conf(["feed_empty:licence__amr"], "许可科本周无新增许可")
    assert not check_feeds(env.manifests_dir, DS2, other)[0]["waived"]
    for checks in (["feed_empty"], [f"feed_empty:{FEED}"]):
        accept = BaselineAcceptance.from_conf(checks, "本周无处罚决定，科室确认为空报送")
        assert check_feeds(env.manifests_dir, DS2, accept)[0]["waived"]
    # a date without any file is no delivery (a weekly feed): nothing to stop
    extract_feed(FEED, DS3)
    assert check_feeds(env.manifests_dir, DS3) == []


def test_feed_empty_acceptance_names_a_feed() -> None:
    with pytest.raises(ValueError, match="feed_empty:<feed>"):
        BaselineAcceptance.from_conf(["feed_empty:Not A Feed"], "a good long reason")

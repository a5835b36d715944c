"""Values that make sense, through the real extract on files written as departments send them:
amounts with their units and plausible ranges, control characters, dates far in the future,
and field-level quarantine (a bad non-key field is nulled, the record stays)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from panorama.ingest.extract import extract_feed

DS = "2024-03-06"
PENALTY_YAML = """\
name: penalty__amr
kind: penalty
department: 德州市市场监督管理局
transport: {type: file, path: "penalty__amr/*.csv"}
format: {type: csv, encoding: gbk}
amount_unit: 万元
columns:
  cf_wsh: {source: 行政处罚决定书文号}
  cf_xdr_mc: {source: 行政相对人名称}
  cf_xdr_shxym: {source: 统一社会信用代码}
  cf_cflb: {source: 处罚类别}
  cf_nr_fk: {source: 罚款金额(万元)}
  cf_jdrq: {source: 处罚决定日期}
  cf_gsjzq: {source: 公示截止期}
  cf_cfjg: {source: 处罚机关}
"""
PENALTY_HEADER = [
    "行政处罚决定书文号",
    "行政相对人名称",
    "统一社会信用代码",
    "处罚类别",
    "罚款金额(万元)",
    "处罚决定日期",
    "公示截止期",
    "处罚机关",
]
USCC = "91371402MA1K3BTP2B"
REGISTRATION_YAML = """\
name: registration__amr
kind: registration
department: 德州市市场监督管理局
transport: {type: file, path: "registration__amr/*.csv"}
format: {type: csv, encoding: utf-8}
columns:
  uscc: {source: 统一社会信用代码}
  name: {source: 主体名称}
  registered_capital: {source: 注册资本(万元)}
  established_date: {source: 成立日期}
  status: {source: 登记状态}
  status_date: {source: 状态变更日期}
"""
REGISTRATION_HEADER = [
    "统一社会信用代码",
    "主体名称",
    "注册资本(万元)",
    "成立日期",
    "登记状态",
    "状态变更日期",
]


@pytest.fixture
def settings(feed_settings):
    return feed_settings


def deliver(settings, feed: str, yaml: str, header: list[str], rows: list[list[str]], encoding):
    (settings.feeds_dir / f"{feed}.yaml").write_text(yaml, encoding="utf-8")
    folder = settings.landing_dir / feed
    folder.mkdir(exist_ok=True)

    def q(v: str) -> str:
        return f'"{v}"' if any(c in v for c in ',"\n') else v

    text = "".join(",".join(q(v) for v in r) + "\r\n" for r in [header, *rows])
    (folder / "delivery.csv").write_bytes(text.encode(encoding))


def landed(settings, feed: str) -> tuple[dict[int, dict], dict[int, list[dict]]]:
    """Raw rows and quarantine rows, both by source row."""
    raw = pq.read_table(settings.raw_dir / feed / f"load_date={DS}").to_pylist()
    q = pq.read_table(settings.quarantine_dir / feed / f"load_date={DS}" / "rows.parquet")
    by_row: dict[int, list[dict]] = {}
    for r in q.to_pylist():
        by_row.setdefault(r["_source_row"], []).append(r)
    return {r["_source_row"]: r for r in raw}, by_row


def penalty(no: int, fine: str, *, name="德州市某某食品有限公司", uscc=USCC, day="2024-03-05"):
    return [
        f"德市监罚〔2024〕{no}号",
        name,
        uscc,
        "罚款",
        fine,
        day,
        "2027-03-05",
        "德州市市场监管局",
    ]


def test_mixed_units_in_a_wanyuan_column(settings) -> None:
    rows = [
        penalty(1, "1,200.50元"),
        penalty(2, "0.5万元"),
        penalty(3, "１２００元"),
        penalty(4, "１２.５"),
        penalty(5, "3000"),  # bare, in a 万元 column: 3,000 元 written without its unit
        penalty(6, "-0.5"),
        penalty(7, "2亿元"),  # above the plausible maximum of a fine (1 亿元)
        penalty(8, "0.3亿"),
        penalty(9, ""),
    ]
    deliver(settings, "penalty__amr", PENALTY_YAML, PENALTY_HEADER, rows, "gbk")
    m = extract_feed("penalty__amr", DS)
    raw, q = landed(settings, "penalty__amr")
    assert {r: raw[r]["cf_nr_fk"] for r in raw} == {
        1: "0.12005",
        2: "0.5",
        3: "0.12",
        4: "12.5",
        5: None,
        6: None,
        7: None,
        8: "3000",
        9: None,
    }
    # Every row is kept (a fine is not a key field); the implausible ones carry their issue.
    assert sorted(raw) == list(range(1, 10)) and m.totals["rows_quarantined"] == 0
    issues = {r: json.loads(raw[r]["_issues"]) for r in raw if raw[r]["_issues"]}
    assert sorted(issues) == [5, 6, 7]
    assert issues[5] == [
        {
            "field": "cf_nr_fk",
            "action": "nulled",
            "reason": "amount >= 1000 without a unit in a 万元 column looks like 元: '3000'",
        }
    ]
    assert issues[6][0]["reason"] == "negative amount: '-0.5'"
    assert "plausible maximum of 10000 万元" in issues[7][0]["reason"]
    assert {r: [x["action"] for x in q[r]] for r in q} == {r: ["field_nulled"] for r in (5, 6, 7)}
    assert q[5][0]["field"] == "cf_nr_fk" and "3000" in q[5][0]["raw_line"]
    assert (m.totals["rows_read"], m.totals["rows_kept"], m.totals["fields_nulled"]) == (9, 9, 3)


def test_a_feed_may_set_its_own_plausible_range(settings) -> None:
    yaml = PENALTY_YAML.replace(
        "cf_nr_fk: {source: 罚款金额(万元)}",
        "cf_nr_fk: {source: 罚款金额(万元), range: {bare_max: 5000}}",
    )
    rows = [penalty(1, "3000"), penalty(2, "6000")]
    deliver(settings, "penalty__amr", yaml, PENALTY_HEADER, rows, "gbk")
    extract_feed("penalty__amr", DS)
    raw, _ = landed(settings, "penalty__amr")
    assert [raw[1]["cf_nr_fk"], raw[2]["cf_nr_fk"]] == ["3000", None]


def test_control_characters_and_future_dates(settings) -> None:
    rows = [
        penalty(1, "0.5", name="德州市某某\x00食品有限公司"),
        penalty(2, "0.5", uscc="91371402MA1K3B\x00TP2B"),  # a corrupted key code: row rejected
        penalty(3, "0.5", day="2031-01-01"),  # a decision years after the logical date
        penalty(4, "0.5", day="1899-12-31"),
    ]
    deliver(settings, "penalty__amr", PENALTY_YAML, PENALTY_HEADER, rows, "gbk")
    m = extract_feed("penalty__amr", DS)
    raw, q = landed(settings, "penalty__amr")
    assert sorted(raw) == [1]
    assert raw[1]["cf_xdr_mc"] == "德州市某某食品有限公司"
    # the publicity end date may lie in the future
    assert raw[1]["cf_gsjzq"] == "2027-03-05"
    assert json.loads(raw[1]["_issues"]) == [
        {"field": "cf_xdr_mc", "action": "cleaned", "reason": "control characters removed"}
    ]
    assert [x["action"] for x in q[1]] == ["field_cleaned"]
    assert q[2][0]["action"] == "row_rejected" and q[2][0]["field"] == "cf_xdr_shxym"
    assert "control characters in a code" in q[2][0]["reason"]
    assert "\x00" not in q[2][0]["reason"]
    assert q[3][0]["action"] == "row_rejected" and q[3][0]["field"] == "cf_jdrq"
    assert "date after 2024-04-06" in q[3][0]["reason"]
    assert "date before 1900" in q[4][0]["reason"]
    f = m.files[0]
    assert (f.rows_read, f.rows_kept, f.rows_quarantined, f.fields_cleaned) == (4, 1, 3, 1)


def test_registration_with_a_bad_date_is_kept_with_its_issue(settings) -> None:
    rows = [
        [USCC, "德州市某某食品有限公司", "100", "2015-03-01", "存续", "2015-03-01"],
        ["92371402MA3C0X5E4Y", "德城区某某超市", "5", "待定", "存续", "2099-01-01"],
        ["9137140\x1bMA3C0X5E4Y", "德州市坏码有限公司", "50", "2016-01-01", "存续", ""],
    ]
    deliver(settings, "registration__amr", REGISTRATION_YAML, REGISTRATION_HEADER, rows, "utf-8")
    m = extract_feed("registration__amr", DS)
    raw, q = landed(settings, "registration__amr")
    assert sorted(raw) == [1, 2]
    kept = raw[2]
    assert kept["uscc"] == "92371402MA3C0X5E4Y" and kept["name"] == "德城区某某超市"
    assert kept["established_date"] is None and kept["status_date"] is None
    assert kept["registered_capital"] == "5" and kept["status"] == "存续"
    issues = json.loads(kept["_issues"])
    assert [(i["field"], i["action"]) for i in issues] == [
        ("established_date", "nulled"),
        ("status_date", "nulled"),
    ]
    assert issues[0]["reason"] == "date not understood: '待定'"
    assert [(x["field"], x["action"]) for x in q[2]] == [
        ("established_date", "field_nulled"),
        ("status_date", "field_nulled"),
    ]
    assert [(x["field"], x["action"]) for x in q[3]] == [("uscc", "row_rejected")]
    assert raw[1]["_issues"] is None
    t = m.totals
    assert t["rows_read"] == t["rows_kept"] + t["rows_quarantined"] == 3
    assert (t["rows_kept"], t["rows_quarantined"], t["fields_nulled"]) == (2, 1, 2)

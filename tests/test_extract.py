"""extract_feed end to end on real files in a tmp data dir: bad inputs, accounting,
idempotence, schema drift and the onboarding of new departments by one YAML file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from panorama.ingest.extract import FeedError, extract_feed
from panorama.ingest.kinds import KINDS

DS = "2024-03-06"
SGS_HEADER = [
    "行政处罚决定书文号",
    "行政相对人名称",
    "统一社会信用代码",
    "处罚类别",
    "罚款金额(万元)",
    "处罚决定日期",
    "处罚机关",
    "法定代表人",
]
SGS_YAML = """\
name: {name}
kind: penalty
department: {dept}
transport: {{type: file, path: "{name}/*.csv"}}
format: {{type: csv, encoding: {encoding}}}
columns:
  cf_wsh: {{source: 行政处罚决定书文号}}
  cf_xdr_mc: {{source: 行政相对人名称}}
  cf_xdr_shxym: {{source: 统一社会信用代码}}
  cf_cflb: {{source: 处罚类别}}
  cf_nr_fk: {{source: 罚款金额(万元)}}
  cf_jdrq: {{source: 处罚决定日期}}
  cf_cfjg: {{source: 处罚机关}}
  cf_frdb: {{source: 法定代表人}}
expected_rows: {{min: {min_rows}}}
"""
ROW1 = [
    "德市监罚〔2024〕1号",
    "德州（德城）某某公司",
    " 91371402ma1k3btp2b ",
    "罚款",
    "0.5",
    "2024-03-05",
    "德州市市场监督管理局",
    "张三",
]
ROW2 = ["德市监罚〔2024〕2号", "某某餐饮店", "", "警告", "", "2024/3/5", "德州市市场监督管理局", ""]
ROW3 = [
    "德市监罚〔2024〕3号",
    "某某超市",
    "92371402MA3C0X5E4Y",
    "罚款",
    "2,000元",
    "2024年3月5日",
    "德州市市场监督管理局",
    "李四",
]


@pytest.fixture
def env(feed_settings):
    return feed_settings


def add_feed(settings, name="penalty__amr", encoding="gbk", min_rows=1, text=None) -> str:
    text = text or SGS_YAML.format(
        name=name, dept="德州市市场监督管理局", encoding=encoding, min_rows=min_rows
    )
    (settings.feeds_dir / f"{name}.yaml").write_text(text, encoding="utf-8")
    (settings.landing_dir / name).mkdir(exist_ok=True)
    return name


def csv_text(header, rows) -> str:
    def q(v: str) -> str:
        return f'"{v}"' if any(c in v for c in ',"\n') else v

    return "".join(",".join(q(v) for v in r) + "\n" for r in [header, *rows])


def deliver(settings, feed: str, name: str, content: str | bytes, encoding="gbk") -> Path:
    path = settings.landing_dir / feed / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def raw_rows(settings, feed="penalty__amr") -> list[dict]:
    return pq.read_table(settings.raw_dir / feed / f"load_date={DS}").to_pylist()


def quarantine(settings, feed="penalty__amr") -> tuple[list[dict], list[dict]]:
    d = settings.quarantine_dir / feed / f"load_date={DS}"
    files = [json.loads(x) for x in (d / "files.jsonl").read_text("utf-8").splitlines()]
    return pq.read_table(d / "rows.parquet").to_pylist(), files


def test_gbk_csv_lands_canonical_columns(env) -> None:
    feed = add_feed(env)
    deliver(env, feed, "a.csv", csv_text(SGS_HEADER, [ROW1, ROW2, ROW3]))
    m = extract_feed(feed, DS, run_id="r1")
    rows = raw_rows(env)
    schema = pq.read_schema(next((env.raw_dir / feed / f"load_date={DS}").glob("*.parquet")))
    assert schema.names == KINDS["penalty"].raw_schema().names
    assert [r["cf_jdrq"] for r in rows] == ["2024-03-05"] * 3
    assert [r["cf_nr_fk"] for r in rows] == ["0.5", None, "0.2"]
    assert rows[0]["cf_xdr_shxym"] == "91371402MA1K3BTP2B"
    assert rows[0]["cf_xdr_mc"] == "德州(德城)某某公司"
    assert [r["_source_row"] for r in rows] == [1, 2, 3]
    assert {r["_source_file"] for r in rows} == {"penalty__amr/a.csv"}
    assert rows[0]["_batch_id"] == m.batch_id and rows[0]["_extras"] is None
    manifest = json.loads((env.manifests_dir / feed / f"load_date={DS}.json").read_text("utf-8"))
    assert manifest["run_id"] == "r1" and manifest["status"] == "ok"
    f = manifest["files"][0]
    assert (f["rows_read"], f["rows_kept"], f["rows_quarantined"]) == (3, 3, 0)
    assert len(f["sha256"]) == 64 and manifest["totals"]["rows_kept"] == 3


def test_bad_values_are_quarantined_with_field_and_reason(env) -> None:
    feed = add_feed(env)
    bad_date = [*ROW1[:5], "2024-13-45", *ROW1[6:]]
    bad_amount = [*ROW3[:4], "很多", *ROW3[5:]]
    no_name = [ROW2[0], "", *ROW2[2:]]
    deliver(env, feed, "a.csv", csv_text(SGS_HEADER, [ROW1, bad_date, bad_amount, no_name]))
    m = extract_feed(feed, DS)
    # The bad fine is a non-key field: its row stays, with the fine null and the issue noted.
    kept = raw_rows(env)
    assert [r["_source_row"] for r in kept] == [1, 3]
    assert kept[1]["cf_nr_fk"] is None and kept[0]["_issues"] is None
    assert json.loads(kept[1]["_issues"])[0]["field"] == "cf_nr_fk"
    rows, files = quarantine(env)
    assert files == []
    by_row = {r["_source_row"]: r for r in rows}
    assert by_row[2]["field"] == "cf_jdrq" and "'2024-13-45'" in by_row[2]["reason"]
    assert by_row[3]["field"] == "cf_nr_fk" and "很多" in by_row[3]["reason"]
    assert by_row[4]["field"] == "cf_xdr_mc" and "required" in by_row[4]["reason"]
    assert by_row[2]["raw_line"].split(",")[5] == "2024-13-45"
    assert [by_row[i]["action"] for i in (2, 3, 4)] == [
        "row_rejected",
        "field_nulled",
        "row_rejected",
    ]
    f = m.files[0]
    assert f.rows_read == f.rows_kept + f.rows_quarantined == 4
    assert (f.rows_kept, f.rows_quarantined, f.fields_nulled) == (2, 2, 1)
    assert m.totals["fields_nulled"] == 1


def test_gbk_declared_utf8_is_quarantined_whole_not_mojibake(env) -> None:
    feed = add_feed(env, encoding="utf-8", min_rows=0)
    deliver(env, feed, "gbk.csv", csv_text(SGS_HEADER, [ROW1, ROW3]), encoding="gbk")
    deliver(env, feed, "ok.csv", csv_text(SGS_HEADER, [ROW2]), encoding="utf-8")
    m = extract_feed(feed, DS)
    _, files = quarantine(env)
    assert len(files) == 1 and files[0]["_source_file"] == "penalty__amr/gbk.csv"
    assert "not valid utf-8 at byte" in files[0]["reason"] and "gbk" in files[0]["reason"]
    assert [r["cf_wsh"] for r in raw_rows(env)] == [ROW2[0]]
    assert m.totals["files_rejected"] == 1 and m.status == "warning"
    assert [f.status for f in m.files] == ["rejected", "loaded"]


def test_one_gbk_line_deep_in_a_utf8_file_is_quarantined_with_its_offset(env, monkeypatch) -> None:
    import panorama.ingest.connectors.files as files_mod

    monkeypatch.setattr(files_mod, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(files_mod, "SNIFF_BYTES", 4096)
    feed = add_feed(env, encoding="utf-8", min_rows=0)
    good = csv_text(SGS_HEADER, [ROW1] * 200).encode("utf-8")
    bad = csv_text(SGS_HEADER, [ROW3]).split("\n", 1)[1].encode("gbk")
    tail = csv_text(SGS_HEADER, [ROW2]).split("\n", 1)[1].encode("utf-8")
    deliver(env, feed, "mixed.csv", good + bad + tail)
    m = extract_feed(feed, DS)
    f = m.files[0]
    assert f.status == "loaded" and (f.rows_read, f.rows_kept, f.rows_quarantined) == (202, 201, 1)
    rows, files = quarantine(env)
    assert files == [] and [r["_source_row"] for r in rows] == [201]
    assert rows[0]["field"] is None
    assert rows[0]["reason"].startswith(f"malformed line at byte {len(good)}: not valid utf-8")
    assert "\\x" in rows[0]["raw_line"]  # the bytes that are not UTF-8, shown escaped
    assert [r["_source_row"] for r in raw_rows(env)][-2:] == [200, 202]


def test_a_file_mostly_in_another_encoding_is_rejected_whole_and_counted(env, monkeypatch) -> None:
    import panorama.ingest.connectors.files as files_mod

    monkeypatch.setattr(files_mod, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(files_mod, "SNIFF_BYTES", 4096)
    feed = add_feed(env, encoding="utf-8", min_rows=0)
    good = csv_text(SGS_HEADER, [ROW1] * 30).encode("utf-8")
    bad = "".join(csv_text(SGS_HEADER, [ROW3] * 100).splitlines(True)[1:]).encode("gbk")
    deliver(env, feed, "mixed.csv", good + bad)
    m = extract_feed(feed, DS)
    f = m.files[0]
    assert f.status == "rejected" and m.totals["rows_kept"] == 0
    assert f"not valid utf-8 at byte {len(good)}; try encoding gbk" == f.reason
    assert (f.rows_read, f.rows_rejected) == (130, 130) and m.totals["rows_rejected"] == 130
    assert raw_rows(env) == [] and quarantine(env)[0] == []


def test_utf8_with_bom_and_detect(env) -> None:
    feed = add_feed(env, encoding="detect")
    deliver(env, feed, "bom.csv", "\ufeff" + csv_text(SGS_HEADER, [ROW1]), encoding="utf-8")
    deliver(env, feed, "gbk.csv", csv_text(SGS_HEADER, [ROW3]), encoding="gbk")
    m = extract_feed(feed, DS)
    assert sorted(r["cf_xdr_mc"] for r in raw_rows(env)) == sorted(
        ["德州(德城)某某公司", "某某超市"]
    )
    assert m.totals["files_rejected"] == 0


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty file"),
        (b"\n \n", "empty file"),
        (b"A,B\n1,2\n3", "required column"),  # header checked before the rows
    ],
)
def test_empty_files(env, content: bytes, why: str) -> None:
    feed = add_feed(env, min_rows=0)
    deliver(env, feed, "x.csv", content)
    if why == "required column":
        with pytest.raises(FeedError, match="required column"):
            extract_feed(feed, DS)
        return
    m = extract_feed(feed, DS)
    assert m.files[0].status == "rejected" and m.files[0].reason == why
    assert raw_rows(env) == []  # partition written with the full schema, zero rows


def test_header_only_file_loads_zero_rows(env) -> None:
    feed = add_feed(env, min_rows=0)
    deliver(env, feed, "h.csv", csv_text(SGS_HEADER, []))
    m = extract_feed(feed, DS)
    assert m.files[0].status == "loaded" and m.totals["rows_read"] == 0
    parts = list((env.raw_dir / feed / f"load_date={DS}").glob("*.parquet"))
    assert len(parts) == 1 and pq.read_schema(parts[0]).names == KINDS["penalty"].raw_schema().names


@pytest.mark.parametrize(
    ("tail", "why"),
    [
        ('德市监罚〔2024〕9号,"某某公司,未闭合的引号\n', "unterminated quote"),
        ("德市监罚〔2024〕9号,某某公司,9137", "expected 8 columns, got 3"),  # truncated
        ("德市监罚〔2024〕9号,某,9137,罚款,1,2024-03-05,局,张三,多一列\n", "got 9"),
    ],
)
def test_a_malformed_last_line_is_quarantined_and_the_rest_lands(env, tail: str, why) -> None:
    feed = add_feed(env, min_rows=0)
    body = csv_text(SGS_HEADER, [ROW1, ROW3]).encode("gbk")
    deliver(env, feed, "t.csv", body + tail.encode("gbk"))
    m = extract_feed(feed, DS)
    f = m.files[0]
    assert f.status == "loaded" and (f.rows_read, f.rows_kept, f.rows_quarantined) == (3, 2, 1)
    assert [r["cf_wsh"] for r in raw_rows(env)] == [ROW1[0], ROW3[0]]
    rows, files = quarantine(env)
    assert files == [] and len(rows) == 1 and rows[0]["_source_row"] == 3
    assert rows[0]["reason"].startswith(f"malformed line at byte {len(body)}: ")
    assert why in rows[0]["reason"]
    assert rows[0]["raw_line"] == tail.rstrip("\n")


def test_nothing_readable_with_min_rows_fails_the_feed(env) -> None:
    feed = add_feed(env, min_rows=1)
    deliver(env, feed, "x.csv", b"")
    with pytest.raises(FeedError, match="no rows kept"):
        extract_feed(feed, DS)
    manifest = json.loads((env.manifests_dir / feed / f"load_date={DS}.json").read_text("utf-8"))
    assert manifest["status"] == "failed" and manifest["totals"]["files_rejected"] == 1
    assert not (env.raw_dir / feed / f"load_date={DS}").exists()  # previous data not replaced
    assert quarantine(env)[1][0]["reason"] == "empty file"


def test_no_delivery_and_min_rows(env) -> None:
    feed = add_feed(env, min_rows=0)
    m = extract_feed(feed, DS)
    assert m.totals["files"] == 0 and raw_rows(env) == [] and m.warnings


def test_duplicates_are_kept_and_counted(env) -> None:
    feed = add_feed(env)
    deliver(env, feed, "a.csv", csv_text(SGS_HEADER, [ROW1, ROW1, ROW2, ROW1]))
    deliver(env, feed, "b.csv", csv_text(SGS_HEADER, [ROW2]))
    m = extract_feed(feed, DS)
    assert len(raw_rows(env)) == 5
    assert [f.duplicate_rows for f in m.files] == [2, 0]
    assert m.totals["duplicate_rows"] == 3


def test_reordered_columns_and_extra_column_drift(env) -> None:
    feed = add_feed(env)
    header = [*reversed(SGS_HEADER), "联系电话"]
    rows = [[*reversed(ROW1), "13800000000"], [*reversed(ROW3), ""]]
    deliver(env, feed, "a.csv", csv_text(header, rows))
    m = extract_feed(feed, DS)
    got = raw_rows(env)
    assert [r["cf_wsh"] for r in got] == [ROW1[0], ROW3[0]]
    assert json.loads(got[0]["_extras"]) == {"联系电话": "13800000000"}
    assert m.unmapped_columns == ["联系电话"] and m.status == "warning"


def test_known_unmapped_columns_are_kept_but_not_drift(env) -> None:
    yaml_text = SGS_YAML.format(
        name="penalty__amr", dept="德州市市场监督管理局", encoding="gbk", min_rows=1
    )
    feed = add_feed(env, text=yaml_text + "known_unmapped: [联系电话]\n")
    header = [*SGS_HEADER, "联系电话", "新列"]
    deliver(env, feed, "a.csv", csv_text(header, [[*ROW1, "13800000000", "x"]]))
    m = extract_feed(feed, DS)
    assert json.loads(raw_rows(env)[0]["_extras"]) == {"联系电话": "13800000000", "新列": "x"}
    assert m.unmapped_columns == ["联系电话", "新列"] and m.new_columns == ["新列"]
    assert m.warnings == ["schema drift: unmapped columns ['新列']"]
    deliver(env, feed, "a.csv", csv_text([*SGS_HEADER, "联系电话"], [[*ROW1, "1"]]))
    m = extract_feed(feed, DS)
    assert m.new_columns == [] and m.status == "ok"


def test_renamed_required_column_fails_the_feed(env) -> None:
    feed = add_feed(env)
    header = [h if h != "处罚决定日期" else "决定日期" for h in SGS_HEADER]
    deliver(env, feed, "a.csv", csv_text(header, [ROW1]))
    with pytest.raises(FeedError) as err:
        extract_feed(feed, DS)
    msg = str(err.value)
    assert "penalty__amr" in msg and "a.csv" in msg and "处罚决定日期" in msg
    manifest = json.loads((env.manifests_dir / feed / f"load_date={DS}.json").read_text("utf-8"))
    assert manifest["status"] == "failed" and "处罚决定日期" in manifest["error"]


def test_missing_optional_column_is_reported(env) -> None:
    feed = add_feed(env)
    idx = SGS_HEADER.index("法定代表人")
    deliver(env, feed, "a.csv", csv_text(SGS_HEADER[:idx], [ROW1[:idx]]))
    m = extract_feed(feed, DS)
    assert m.missing_optional_columns == ["法定代表人"] and raw_rows(env)[0]["cf_frdb"] is None


def test_rerun_of_a_date_on_the_same_files_leaves_it_untouched(env) -> None:
    feed = add_feed(env)
    deliver(env, feed, "a.csv", csv_text(SGS_HEADER, [ROW1, ROW2, ROW3]))
    deliver(env, feed, "b.csv", csv_text(SGS_HEADER, [ROW1, [*ROW2[:5], "bad", *ROW2[6:]]]))
    dirs = [root / feed / f"load_date={DS}" for root in (env.raw_dir, env.quarantine_dir)]

    def files() -> dict:
        return {p: (p.read_bytes(), p.stat().st_mtime_ns) for d in dirs for p in d.iterdir()}

    first = extract_feed(feed, DS)
    before = files()
    second = extract_feed(feed, DS)
    assert files() == before and first.batch_id != second.batch_id
    assert second.landing == {
        "files_new": 0,
        "files_replaced": 0,
        "files_unchanged": 2,
        "files_already_landed": 0,
    }
    assert second.totals == first.totals and second.status == first.status
    assert [f.batch_id for f in second.files] == [first.batch_id] * 2
    assert len(raw_rows(env)) == 4 and len(quarantine(env)[0]) == 1
    parts = {p.name for p in dirs[0].glob("*.parquet")}
    assert parts == {f"part-{f.sha256[:16]}.parquet" for f in first.files}
    assert not any((env.raw_dir / "_staging").rglob("*.parquet"))
    # a file taken away from the landing folder is no delivery: its landed rows stay
    (env.landing_dir / feed / "b.csv").unlink()
    extract_feed(feed, DS)
    assert files() == before


def test_json_lines_delivery(env) -> None:
    text = (
        SGS_YAML.format(
            name="penalty__sjj", dept="德州市市场监督管理局", encoding="utf-8", min_rows=1
        )
        .replace("*.csv", "*.jsonl")
        .replace("type: csv", "type: jsonl")
    )
    feed = add_feed(env, name="penalty__sjj", text=text)
    recs = [dict(zip(SGS_HEADER, r, strict=True)) for r in (ROW1, ROW3)]
    recs[1]["罚款金额(万元)"] = 0.2  # a number, not a string
    recs[0]["额外"] = {"k": 1}
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    deliver(env, feed, "a.jsonl", body, encoding="utf-8")
    m = extract_feed(feed, DS)
    rows = raw_rows(env, feed)
    assert [r["cf_nr_fk"] for r in rows] == ["0.5", "0.2"]
    assert (
        json.loads(rows[0]["_extras"]) == {"额外": '{"k":1}'}
        or json.loads(rows[0]["_extras"])["额外"] == '{"k": 1}'
    )
    assert m.unmapped_columns == ["额外"]


FIRST_GEN_YAML = """\
name: penalty__swj
kind: penalty
department: 德州市商务局
description: 行政处罚（第一代格式），GBK CSV，金额单位元
transport: {type: file, path: "penalty__swj/*.csv"}
format: {type: csv, encoding: gbk, header_row: 2}
amount_unit: 元
columns:
  cf_wsh: {source: CF_WSH}
  cf_cflb: {source: CF_CFLB1}
  cf_sy: {source: CF_SY}
  cf_yj: {source: CF_YJ}
  cf_xdr_mc: {source: CF_XDR_MC}
  cf_xdr_shxym: {source: CF_XDR_DM}
  cf_frdb: {source: CF_FR}
  cf_nr: {source: CF_JG}
  cf_nr_fk: {source: CF_FK}
  cf_jdrq: {source: CF_JDRQ}
  cf_cfjg: {source: CF_XZJG}
  bz: {source: BZ}
  cf_sjly: {value: 德州市商务局}
expected_rows: {min: 1, max: 100000}
"""


def test_onboarding_two_new_departments_by_yaml_only(env) -> None:
    # A department sending the current 双公示 format as GBK CSV.
    new = add_feed(
        env,
        name="penalty__fgw",
        text=SGS_YAML.format(
            name="penalty__fgw", dept="德州市发展和改革委员会", encoding="gbk", min_rows=1
        ),
    )
    deliver(env, new, "2024-03-06.csv", csv_text(SGS_HEADER, [ROW1, ROW3]))
    # Another sending the first-generation format: title row, upper-case codes, amounts in 元.
    old = add_feed(env, name="penalty__swj", text=FIRST_GEN_YAML)
    header = [
        "CF_WSH",
        "CF_CFMC",
        "CF_CFLB1",
        "CF_CFLB2",
        "CF_SY",
        "CF_YJ",
        "CF_XDR_MC",
        "CF_XDR_DM",
        "CF_FR",
        "CF_JG",
        "CF_FK",
        "CF_JDRQ",
        "CF_XZJG",
        "CF_ZT",
        "DFBM",
        "SJC",
        "BZ",
    ]
    row = [
        "德商罚〔2024〕7号",
        "未按规定备案",
        "罚款",
        "",
        "未备案",
        "《条例》第十条",
        "德州某某商贸有限公司",
        "９１３７１４０２ＭＡ１Ｋ３ＢＴＰ２Ｂ",
        "王五",
        "罚款5000元",
        "5,000",
        "2024年3月1日",
        "德州市商务局",
        "1",
        "371400",
        "20240301120000",
        "",
    ]
    deliver(env, old, "export.csv", "德州市商务局行政处罚信息\n" + csv_text(header, [row]))
    m_new = extract_feed(new, DS)
    m_old = extract_feed(old, DS)
    assert m_new.totals["rows_kept"] == 2 and m_old.totals["rows_kept"] == 1
    r = raw_rows(env, old)[0]
    assert (r["cf_wsh"], r["cf_cflb"], r["cf_jdrq"], r["cf_nr_fk"]) == (
        "德商罚〔2024〕7号",
        "罚款",
        "2024-03-01",
        "0.5",
    )
    assert r["cf_xdr_shxym"] == "91371402MA1K3BTP2B" and r["cf_sjly"] == "德州市商务局"
    assert set(json.loads(r["_extras"])) == {"CF_CFMC", "CF_CFLB2", "CF_ZT", "DFBM", "SJC"}
    # Both land with the same columns, so dbt unions raw/penalty__*/ by name.
    schemas = {
        tuple(pq.read_schema(p).names)
        for f in (new, old)
        for p in (env.raw_dir / f / f"load_date={DS}").glob("*.parquet")
    }
    assert len(schemas) == 1

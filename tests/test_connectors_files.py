"""File connectors: encodings, Excel sheets with title rows, JSON lines and JSON documents."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from panorama.ingest.connectors import SourceUnreadable
from panorama.ingest.connectors.files import (
    CsvSource,
    ExcelSource,
    JsonLinesSource,
    detect_encoding,
)
from panorama.ingest.extract import extract_feed
from panorama.ingest.feeds import FeedSpec, FormatSpec
from panorama.settings import get_settings

DS = "2024-03-06"


def read_all(source) -> list[dict]:
    return [r for b in source.batches() for r in b.table.to_pylist()]


def test_detect_encoding() -> None:
    text = "行政相对人名称,处罚决定日期\n德州某某公司,2024-03-05\n"
    assert detect_encoding(codecs.BOM_UTF8 + text.encode()) == "utf-8-sig"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(text.encode("gbk")) == "gb18030"
    # A multi-byte character cut at the end of the sample is not a reason to give up on UTF-8.
    assert detect_encoding(text.encode("utf-8")[:-3] + "德".encode()[:2]) == "utf-8"


def test_csv_title_rows_and_header_row(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes('2024年行政处罚信息公示,,\n单位：万元,,\na,b,c\n1,"x,\ny",3\n'.encode("gbk"))
    src = CsvSource("a.csv", path=p, fmt=FormatSpec(type="csv", encoding="gbk", header_row=3))
    assert read_all(src) == [{"a": "1", "b": "x,\ny", "c": "3"}]
    assert src.columns == ["a", "b", "c"] and len(src.sha256) == 64


def test_csv_that_is_really_a_workbook(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(SourceUnreadable, match="not a CSV file"):
        read_all(CsvSource("a.csv", path=p, fmt=FormatSpec(type="csv", encoding="gbk")))


def write_workbook(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "处罚"
    ws.append(["德州市卫生健康委员会行政处罚信息"])
    ws.merge_cells("A1:F1")
    ws.append(
        [
            "行政处罚决定书文号",
            "行政相对人名称",
            "统一社会信用代码",
            "处罚类别",
            "处罚决定日期",
            "罚款金额(元)",
        ]
    )
    ws.append(
        [
            "德卫罚〔2024〕1号",
            "德州某某诊所",
            "91371402ma1k3btp2b",
            "罚款",
            dt.datetime(2024, 3, 5),
            5000,
        ]
    )
    ws.append(["德卫罚〔2024〕2号", "某某药店", None, "警告", 45356, None])
    ws.append([None] * 6)
    ws.append(
        [
            "德卫罚〔2024〕3号",
            "某某理发店",
            110108000000016,
            "罚款",
            "2024年3月5日",
            1234.5,
            "备注在表头之外",
        ]
    )
    wb.create_sheet("说明").append(["无关"])
    wb.save(path)


def test_excel_sheet_with_merged_title(tmp_path: Path) -> None:
    p = tmp_path / "a.xlsx"
    write_workbook(p)
    src = ExcelSource("a.xlsx", path=p, fmt=FormatSpec(type="excel", header_row=2))
    rows = read_all(src)
    assert [r["行政处罚决定书文号"] for r in rows] == [f"德卫罚〔2024〕{i}号" for i in (1, 2, 3)]
    assert rows[0]["处罚决定日期"] == "2024-03-05" and rows[1]["处罚决定日期"] == "45356"
    assert rows[2]["统一社会信用代码"] == "110108000000016"
    assert rows[0]["罚款金额(元)"] == "5000" and rows[2]["罚款金额(元)"] == "1234.5"
    assert rows[2]["column_7"] == "备注在表头之外"
    with pytest.raises(SourceUnreadable, match="sheet '汇总' not found"):
        read_all(ExcelSource("a.xlsx", path=p, fmt=FormatSpec(type="excel", sheet="汇总")))


def test_excel_feed_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANORAMA_DATA_DIR", str(tmp_path / "data"))
    settings = get_settings()
    (settings.landing_dir / "penalty__wjw").mkdir(parents=True)
    write_workbook(settings.landing_dir / "penalty__wjw" / "2024-03.xlsx")
    (settings.landing_dir / "penalty__wjw" / "broken.xlsx").write_bytes(b"not a workbook")
    spec = FeedSpec.model_validate(
        {
            "name": "penalty__wjw",
            "kind": "penalty",
            "department": "德州市卫生健康委员会",
            "transport": {"type": "file", "path": "penalty__wjw/*.xlsx"},
            "format": {"type": "excel", "sheet": "处罚", "header_row": 2},
            "columns": {
                "cf_wsh": {"source": "行政处罚决定书文号"},
                "cf_xdr_mc": {"source": "行政相对人名称"},
                "cf_xdr_shxym": {"source": "统一社会信用代码"},
                "cf_cflb": {"source": "处罚类别"},
                "cf_jdrq": {"source": "处罚决定日期"},
                "cf_nr_fk": {"source": "罚款金额(元)", "unit": "元"},
                "cf_cfjg": {"value": "德州市卫生健康委员会"},
            },
        }
    )
    m = extract_feed(spec, DS, settings)
    rows = pq.read_table(settings.raw_dir / "penalty__wjw" / f"load_date={DS}").to_pylist()
    assert [r["cf_jdrq"] for r in rows] == ["2024-03-05"] * 3
    assert [r["cf_nr_fk"] for r in rows] == ["0.5", None, "0.12345"]
    assert [r["_source_row"] for r in rows] == [1, 2, 3]
    assert m.totals["files_rejected"] == 1
    assert "Excel" in next(f for f in m.files if f.status == "rejected").reason


def test_jsonl_type_change_falls_back_and_keeps_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import panorama.ingest.connectors.files as files_mod

    monkeypatch.setattr(files_mod, "JSON_BLOCK_BYTES", 1024)
    p = tmp_path / "a.jsonl"
    recs = [{"k": f"v{i}", "n": "text"} for i in range(100)] + [{"k": "last", "n": 7}]
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n", "utf-8")
    # Nothing handed out yet when Arrow gives up: the Python reader takes over at once.
    rows = read_all(JsonLinesSource("a.jsonl", path=p, fmt=FormatSpec(type="jsonl")))
    assert len(rows) == 101 and rows[-1] == {"k": "last", "n": "7"}

    monkeypatch.setattr(files_mod, "BATCH_ROWS", 10)
    src = JsonLinesSource("a.jsonl", path=p, fmt=FormatSpec(type="jsonl"))
    from panorama.ingest.connectors import RestartSource

    with pytest.raises(RestartSource):
        read_all(src)
    rows = read_all(src)  # the second pass reads record by record
    assert len(rows) == 101 and rows[-1] == {"k": "last", "n": "7"}


def test_jsonl_key_first_seen_in_a_later_block(tmp_path: Path, monkeypatch) -> None:
    import panorama.ingest.connectors.files as files_mod

    monkeypatch.setattr(files_mod, "JSON_BLOCK_BYTES", 1024)
    p = tmp_path / "a.jsonl"
    recs = [{"k": f"v{i}"} for i in range(100)] + [{"k": "x", "备注": f"n{i}"} for i in range(100)]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n", "utf-8")
    src = JsonLinesSource("a.jsonl", path=p, fmt=FormatSpec(type="jsonl"))
    batches = list(src.batches())
    assert len(batches) == 1 and batches[0].table.num_rows == 200  # blocks regrouped
    rows = batches[0].table.to_pylist()
    assert rows[0] == {"k": "v0", "备注": None} and rows[-1] == {"k": "x", "备注": "n99"}
    assert src.columns == ["k", "备注"]


def test_jsonl_bad_line_is_handed_out_with_its_line_and_offset(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n{"a": \n[2]\n{"a": 3}\n', "utf-8")
    batches = list(JsonLinesSource("a.jsonl", path=p, fmt=FormatSpec(type="jsonl")).batches())
    assert [r for b in batches for r in b.table.to_pylist()] == [{"a": "1"}, {"a": "3"}]
    assert [n for b in batches for n in b.row_numbers.tolist()] == [1, 4]
    bad = [x for b in batches for x in b.bad_lines]
    assert [(x.row, x.raw_line) for x in bad] == [(2, '{"a": '), (3, "[2]")]
    assert bad[0].reason.startswith("line 2 at byte 9: not valid JSON")
    assert bad[1].reason == "line 3 at byte 16: not a JSON object"


def test_detect_encoding_tolerates_a_few_damaged_utf8_bytes() -> None:
    text = ("行政相对人名称,处罚决定日期\n" + "德州某某公司,2024-03-05\n" * 50).encode("utf-8")
    assert detect_encoding(text[:200] + b"\xff\xfe" + text[200:]) == "utf-8"
    gbk = ("行政相对人名称,处罚决定日期\n" + "德州某某公司,2024-03-05\n" * 50).encode("gbk")
    assert detect_encoding(gbk) == "gb18030"


# --- malformed lines: the line is quarantined with its byte offset, the rest of the file lands

LINE_HEADER = "行政处罚决定书文号,行政相对人名称,处罚类别,处罚决定日期,处罚机关,处罚内容\n"
LINE_FEED = {
    "name": "penalty__lines",
    "kind": "penalty",
    "department": "德州市市场监督管理局",
    "transport": {"type": "file", "path": "penalty__lines/*"},
    "format": {"type": "csv", "encoding": "gbk"},
    "columns": {
        "cf_wsh": {"source": "行政处罚决定书文号"},
        "cf_xdr_mc": {"source": "行政相对人名称"},
        "cf_cflb": {"source": "处罚类别"},
        "cf_jdrq": {"source": "处罚决定日期"},
        "cf_cfjg": {"source": "处罚机关"},
        "cf_nr": {"source": "处罚内容"},
    },
}


def line_row(i: int) -> str:
    return f'德市监罚〔2024〕{i}号,德州市某某餐饮店{i},罚款,2024-03-05,德州市局,"责令改正，罚款{i}元"\n'  # noqa: E501


def load_lines(tmp_path: Path, monkeypatch, files: dict[str, bytes], **fmt) -> tuple:
    """Deliver ``files`` to a GBK CSV penalty feed and extract it: (manifest, raw, quarantine)."""
    monkeypatch.setenv("PANORAMA_DATA_DIR", str(tmp_path / "data"))
    settings = get_settings()
    landing = settings.landing_dir / "penalty__lines"
    landing.mkdir(parents=True)
    for name, data in files.items():
        (landing / name).write_bytes(data)
    spec = FeedSpec.model_validate({**LINE_FEED, "format": {**LINE_FEED["format"], **fmt}})
    m = extract_feed(spec, DS, settings)
    raw = pq.read_table(settings.raw_dir / "penalty__lines" / f"load_date={DS}").to_pylist()
    qdir = settings.quarantine_dir / "penalty__lines" / f"load_date={DS}"
    rows = pq.read_table(qdir / "rows.parquet").to_pylist()
    rejected = [json.loads(x) for x in (qdir / "files.jsonl").read_text("utf-8").splitlines()]
    return m, raw, rows, rejected


@pytest.mark.parametrize("cut", ["mid_character", "inside_quotes", "missing_columns"])
def test_gbk_csv_cut_mid_line_lands_70_of_71_rows(tmp_path: Path, monkeypatch, cut: str) -> None:
    body = (LINE_HEADER + "".join(line_row(i) for i in range(1, 71))).encode("gbk")
    last = line_row(71).encode("gbk")
    tail = {
        "mid_character": last[: last.index("罚款71".encode("gbk")) + 1],  # half of 罚
        "inside_quotes": last[: last.index("罚款71".encode("gbk"))],
        "missing_columns": last[: last.index(",罚款".encode("gbk"))],
    }[cut]
    m, raw, rows, rejected = load_lines(tmp_path, monkeypatch, {"a.csv": body + tail})
    f = m.files[0]
    assert (f.status, f.rows_read, f.rows_kept, f.rows_quarantined) == ("loaded", 71, 70, 1)
    assert [r["_source_row"] for r in raw] == list(range(1, 71)) and not rejected
    (q,) = rows
    assert q["_source_row"] == 71 and q["field"] is None
    assert q["reason"].startswith(f"malformed line at byte {len(body)}: ")
    why = {
        "mid_character": f"not valid gbk at byte {len(tail) - 1 + len(body)}",
        "inside_quotes": "unterminated quote",
        "missing_columns": "expected 6 columns, got 2",
    }[cut]
    assert q["reason"].endswith(why)
    assert q["raw_line"].startswith("德市监罚〔2024〕71号,德州市某某餐饮店71")


def test_wrong_column_count_and_stray_quotes_mid_file(tmp_path: Path, monkeypatch) -> None:
    lines = [line_row(i) for i in range(1, 72)]
    lines[29] = lines[29].replace(",罚款,", ",罚款,,")  # row 30: a doubled delimiter
    lines[39] = lines[39].replace(",德州市某某", ',"德州市某某')  # row 40: an opened quote...
    data = (LINE_HEADER + "".join(lines)).encode("gbk")
    m, raw, rows, _ = load_lines(tmp_path, monkeypatch, {"a.csv": data})
    f = m.files[0]
    # ...that the quotes of later rows would close: only row 40 is set aside, not the 31 after.
    assert (f.rows_read, f.rows_kept, f.rows_quarantined) == (71, 69, 2)
    assert [r["_source_row"] for r in rows] == [30, 40]
    assert rows[0]["reason"].endswith("expected 6 columns, got 7")
    offset40 = len((LINE_HEADER + "".join(lines[:39])).encode("gbk"))
    assert rows[1]["reason"].startswith(f"malformed line at byte {offset40}: ")
    assert rows[1]["raw_line"] == lines[39].rstrip("\n")
    kept = [r["_source_row"] for r in raw]
    assert kept == [i for i in range(1, 72) if i not in (30, 40)]
    assert raw[-1]["cf_xdr_mc"] == "德州市某某餐饮店71"


def test_quote_left_open_in_the_header_rejects_the_file_whole(tmp_path: Path, monkeypatch) -> None:
    """An opened quote before the header's last name swallows the rows after it into that name
    (rows lost, the file "loaded"): the file is rejected whole, with its reason, instead."""
    rows = "".join(line_row(i) for i in range(1, 8))
    damaged = LINE_HEADER.replace(",处罚内容", ',"处罚内容')
    m, raw, _, rejected = load_lines(
        tmp_path,
        monkeypatch,
        {"a.csv": (LINE_HEADER + rows).encode("gbk"), "b.csv": (damaged + rows).encode("gbk")},
    )
    by_name = {f.name.rsplit("/", 1)[-1]: f for f in m.files}
    assert (by_name["a.csv"].status, by_name["a.csv"].rows_kept) == ("loaded", 7)
    assert by_name["b.csv"].status == "rejected"
    assert re.fullmatch(
        r"header row spans \d+ lines: a quote in it is not closed", by_name["b.csv"].reason
    )
    assert [r["_source_file"].rsplit("/", 1)[-1] for r in rejected] == ["b.csv"]
    assert {r["_source_file"].rsplit("/", 1)[-1] for r in raw} == {"a.csv"}


def test_field_over_the_block_size_is_quarantined(tmp_path: Path, monkeypatch) -> None:
    lines = [line_row(i) for i in range(1, 11)]
    big = "很" * 600_000  # 1.2 MB in GBK, 1.8 MB in UTF-8
    lines[4] = lines[4].replace("责令改正", big)
    m, raw, rows, _ = load_lines(
        tmp_path, monkeypatch, {"a.csv": (LINE_HEADER + "".join(lines)).encode("gbk")}
    )
    assert (m.files[0].rows_kept, m.files[0].rows_quarantined) == (9, 1)
    (q,) = rows
    assert q["_source_row"] == 5 and "field 6 is 1,800,0" in q["reason"]
    assert big in q["raw_line"]


def test_jsonl_syntax_error_at_line_5000_of_9868(tmp_path: Path, monkeypatch) -> None:
    recs = [
        json.dumps(
            {
                "cf_wsh": f"德市监罚〔2024〕{i}号",
                "cf_xdr_mc": f"某某店{i}",
                "cf_cflb": "罚款",
                "cf_jdrq": "2024-03-05",
                "cf_cfjg": "德州市局",
            },
            ensure_ascii=False,
        )
        for i in range(1, 9869)
    ]
    recs[4999] = recs[4999].replace('"cf_cflb": ', '"cf_cflb" ')
    data = ("\n".join(recs) + "\n").encode("utf-8")
    cols = {k: {"source": k} for k in ("cf_wsh", "cf_xdr_mc", "cf_cflb", "cf_jdrq", "cf_cfjg")}
    monkeypatch.setitem(LINE_FEED, "columns", cols)
    m, raw, rows, _ = load_lines(
        tmp_path, monkeypatch, {"a.jsonl": data}, type="jsonl", encoding="utf-8"
    )
    f = m.files[0]
    assert (f.status, f.rows_read, f.rows_kept, f.rows_quarantined) == ("loaded", 9868, 9867, 1)
    (q,) = rows
    offset = len("\n".join(recs[:4999]).encode("utf-8")) + 1
    assert q["_source_row"] == 5000
    assert q["reason"].startswith(f"line 5000 at byte {offset}: not valid JSON (Expecting ':'")
    assert q["raw_line"] == recs[4999]
    assert raw[4999]["cf_xdr_mc"] == "某某店5001" and raw[4999]["_source_row"] == 5001


def test_on_bad_line_reject_file_takes_a_file_whole_or_not_at_all(
    tmp_path: Path, monkeypatch
) -> None:
    good = (LINE_HEADER + "".join(line_row(i) for i in range(1, 6))).encode("gbk")
    lines = [line_row(i) for i in range(1, 72)]
    lines[29] = lines[29].replace(",罚款,", ",罚款,,")
    bad = (LINE_HEADER + "".join(lines)).encode("gbk")
    m, raw, rows, rejected = load_lines(
        tmp_path, monkeypatch, {"a.csv": bad, "b.csv": good}, on_bad_line="reject_file"
    )
    a, b = m.files
    assert (a.status, a.rows_read, a.rows_rejected, a.rows_kept) == ("rejected", 71, 71, 0)
    assert "1 malformed line(s), the first at row 30" in a.reason and "reject_file" in a.reason
    assert (b.status, b.rows_kept) == ("loaded", 5)
    assert m.totals["rows_read"] == 76 and m.totals["rows_rejected"] == 71
    assert len(raw) == 5 and rows == []
    assert rejected == [
        {
            "_feed": "penalty__lines",
            "_source_file": "penalty__lines/a.csv",
            "reason": a.reason,
            "sha256": hashlib.sha256(bad).hexdigest(),
            "size_bytes": len(bad),
        }
    ]


def test_on_bad_line_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_bad_line: only csv and jsonl"):
        FeedSpec.model_validate(
            {**LINE_FEED, "format": {"type": "excel", "on_bad_line": "reject_file"}}
        )
    with pytest.raises(ValueError, match="on_bad_line"):
        FeedSpec.model_validate({**LINE_FEED, "format": {"type": "csv", "on_bad_line": "skip"}})


@pytest.mark.parametrize("chunk", [1, 2, 5, 1 << 20])
def test_physical_lines_keep_exact_offsets(tmp_path: Path, monkeypatch, chunk: int) -> None:
    from panorama.ingest.connectors import lines as lines_mod

    monkeypatch.setattr(lines_mod, "_CHUNK", chunk)
    parts = ["表头,甲\r\n".encode("gbk"), b"a,1\r", "乙,2\n".encode("gbk"), b"\xff\xfe,3\n", b"z,4"]
    p = tmp_path / "a.csv"
    first = "表头,甲\r\n".encode()
    p.write_bytes(codecs.BOM_UTF8 + first + b"a,1\r" + "乙,2".encode())
    got = list(lines_mod.physical_lines(p, "utf-8-sig"))
    assert [ln.offset for ln in got] == [0, 3 + len(first), 3 + len(first) + 4]
    assert [ln.text for ln in got] == ["表头,甲\r\n", "a,1\r", "乙,2"]  # BOM not in the text
    p.write_bytes(b"".join(parts))
    got = list(lines_mod.physical_lines(p, "gbk"))
    offsets = [sum(len(x) for x in parts[:i]) for i in range(len(parts))]
    assert [(ln.offset, ln.raw) for ln in got] == list(zip(offsets, parts, strict=True))
    assert [ln.text for ln in got][:3] == ["表头,甲\r\n", "a,1\r", "乙,2\n"]
    assert got[3].bad_at == offsets[3] and got[3].text == "\\xff\\xfe,3\n"
    assert [ln.bad_at for ln in got if ln.bad_at is not None] == [offsets[3]]


def test_jsonl_reject_file_counts_every_line(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n{"a": \n{"a": 3}\n', "utf-8")
    fmt = FormatSpec(type="jsonl", on_bad_line="reject_file")
    with pytest.raises(SourceUnreadable, match="1 malformed line") as info:
        read_all(JsonLinesSource("a.jsonl", path=p, fmt=fmt))
    assert info.value.rows_read == 3 and "line 2 at byte 9" in info.value.reason

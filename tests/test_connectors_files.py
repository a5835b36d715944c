"""File connectors: encodings, Excel sheets with title rows, JSON lines and JSON documents."""

from __future__ import annotations

import codecs
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from panorama.connectors import SourceUnreadable
from panorama.connectors.files import CsvSource, ExcelSource, JsonLinesSource, detect_encoding
from panorama.extract import extract_feed
from panorama.feeds import FeedSpec, FormatSpec
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
    import panorama.connectors.files as files_mod

    monkeypatch.setattr(files_mod, "JSON_BLOCK_BYTES", 1024)
    p = tmp_path / "a.jsonl"
    recs = [{"k": f"v{i}", "n": "text"} for i in range(100)] + [{"k": "last", "n": 7}]
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n", "utf-8")
    # Nothing handed out yet when Arrow gives up: the Python reader takes over at once.
    rows = read_all(JsonLinesSource("a.jsonl", path=p, fmt=FormatSpec(type="jsonl")))
    assert len(rows) == 101 and rows[-1] == {"k": "last", "n": "7"}

    monkeypatch.setattr(files_mod, "BATCH_ROWS", 10)
    src = JsonLinesSource("a.jsonl", path=p, fmt=FormatSpec(type="jsonl"))
    from panorama.connectors import RestartSource

    with pytest.raises(RestartSource):
        read_all(src)
    rows = read_all(src)  # the second pass reads record by record
    assert len(rows) == 101 and rows[-1] == {"k": "last", "n": "7"}


def test_jsonl_key_first_seen_in_a_later_block(tmp_path: Path, monkeypatch) -> None:
    import panorama.connectors.files as files_mod

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

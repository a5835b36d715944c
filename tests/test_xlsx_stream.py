"""The streaming xlsx reader gives what python-calamine gives, without loading the sheet.

Workbooks are written by openpyxl (shared strings, styles, merged title rows) and by the
benchmark's streaming writer (inline strings); each is read both ways and compared."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import openpyxl
import pytest
from panorama.ingest.connectors import RestartSource
from panorama.ingest.connectors import xlsx as xlsx_mod
from panorama.ingest.connectors.files import ExcelSource
from panorama.ingest.connectors.xlsx import Unsupported, Workbook, _format_kind
from panorama.ingest.feeds import FormatSpec
from panorama_dev.bench.extract import write_xlsx

TEXTS = [
    "德州市德城区某某餐饮店",
    "  前后有空格  ",
    "a & b < c > d \"q\" 'a'",
    "多行\n文本",
    "ＡＢＣ１２３",
    "《中华人民共和国食品安全法》第一百二十四条",
    "=1+1",
    "0123",
    "𠀀罕见字",
]


def read(path: Path, header_row: int = 1, sheet: str | None = None, calamine: bool = False):
    src = ExcelSource(
        "x.xlsx", path=path, fmt=FormatSpec(type="excel", header_row=header_row, sheet=sheet)
    )
    src.use_calamine = calamine
    batches = list(src.batches())
    rows = [r for b in batches for r in b.table.to_pylist()]
    firsts = [b.first_row for b in batches]
    sizes = [b.table.num_rows for b in batches]
    assert firsts == [1 + sum(sizes[:i]) for i in range(len(sizes))]  # rows numbered in order
    return src.columns, rows, firsts


def both(path: Path, **kw):
    book = Workbook(path)  # the streaming reader takes this sheet itself (no fallback)
    list(book.cells(kw.get("sheet") or book.sheet_names[0]))
    book.close()
    streamed = read(path, **kw)
    whole = read(path, calamine=True, **kw)
    assert streamed[:2] == whole[:2]
    return streamed


def random_book(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(["德州市行政处罚信息（第一批）"])
    ws.merge_cells("A1:H1")
    ws.append(["文号", "名称", "金额", "日期", "是否", "数量", "备注", "代码"])
    for i in range(rng.randint(50, 400)):
        row = [
            f"德市监罚〔2024〕{i}号",
            rng.choice(TEXTS),
            rng.choice([5000, 1234.5, 0.1, 0.3, -7, 0, 1e-3, 12345678.9, None]),
            rng.choice([dt.date(2024, 3, 5), dt.date(2019, 12, 31), "2024/3/5", None]),
            rng.choice([True, False, None]),
            rng.choice([1, 25, 110108000000016, None]),
            rng.choice([None, "", "说明", "x" * 300]),
            rng.choice(["91371402MA1K3BTP2B", "9137 1402", None]),
        ]
        if rng.random() < 0.05:
            row = [None] * 8  # an empty row inside the data
        ws.append(row)
    wb.create_sheet("说明").append(["无关"])
    wb.save(path)


@pytest.mark.parametrize("seed", range(6))
def test_openpyxl_workbooks_read_the_same_as_calamine(tmp_path: Path, seed: int) -> None:
    p = tmp_path / "a.xlsx"
    random_book(p, seed)
    columns, rows, _ = both(p, header_row=2)
    assert columns == ["文号", "名称", "金额", "日期", "是否", "数量", "备注", "代码"]
    assert rows and all(r["文号"].startswith("德市监罚") for r in rows)
    both(p, sheet="说明")


def test_streaming_writer_workbook_and_its_batches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(xlsx_mod, "BLOCK_BYTES", 4096)  # many blocks, rows cut across them
    monkeypatch.setattr("panorama.ingest.connectors.files.BATCH_ROWS", 100)
    p = tmp_path / "b.xlsx"
    write_xlsx(p, 1000)
    columns, rows, firsts = both(p)
    assert len(rows) == 1000 and len(columns) == 21
    assert firsts[0] == 1 and firsts[1] > 100  # regrouped into batches of whole rows


def test_workbook_never_loads_the_sheet(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "b.xlsx"
    write_xlsx(p, 300)
    import python_calamine

    def refuse(*a, **k):
        raise AssertionError("calamine was used")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", refuse)
    _, rows, _ = read(p)
    assert len(rows) == 300


def test_unsupported_sheet_falls_back_to_calamine(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["日期", "名称"])
    for i in range(50):
        ws.append([dt.date(2024, 3, 5), f"店{i}"])
    ws.append([dt.datetime(2024, 3, 5, 14, 30), "末"])  # a time of day: calamine's job
    wb.save(p)
    book = Workbook(p)
    with pytest.raises(Unsupported, match="time"):
        list(book.cells(book.sheet_names[0]))
    book.close()
    columns, rows, _ = read(p)
    assert (columns, rows) == read(p, calamine=True)[:2]
    assert rows[0]["日期"] == "2024-03-05" and rows[-1]["日期"] == "2024-03-05 14:30:00"
    # Found only after rows were handed out: the source asks to be read again, with calamine.
    monkeypatch.setattr(xlsx_mod, "BLOCK_BYTES", 512)
    monkeypatch.setattr("panorama.ingest.connectors.files.BATCH_ROWS", 1)
    src = ExcelSource("t.xlsx", path=p, fmt=FormatSpec(type="excel"))
    with pytest.raises(RestartSource):
        list(src.batches())
    assert src.use_calamine and [r for b in src.batches() for r in b.table.to_pylist()] == rows


def test_number_formats() -> None:
    assert _format_kind(14, {}) == 1 and _format_kind(31, {}) == 1  # 31: yyyy"年"m"月"d"日"
    assert _format_kind(0, {}) == 0 and _format_kind(4, {}) == 0 and _format_kind(20, {}) == 2
    custom = {
        164: 'yyyy"年"m"月"d"日"',
        165: '#,##0.00"元"',
        166: "[h]:mm:ss",
        167: "[Red]0.00;[Blue]-0.00",
        168: "yyyy-mm-dd hh:mm",
        169: "General",
    }
    assert [_format_kind(i, custom) for i in range(164, 170)] == [1, 0, 2, 0, 2, 0]


def test_inline_strings_with_entities_and_line_breaks(tmp_path: Path, monkeypatch) -> None:
    import panorama_dev.bench.extract as bench

    values = ["a & b", "<标签>", 'say "hi"', "两行\n文本", "  空格 ", "&amp; literally", "&#20013;"]

    def rows(n: int, seed: int = 0):
        for i in range(n):
            yield [values[(i + k) % len(values)] if k < 7 else str(i) for k in range(21)]

    monkeypatch.setattr(bench, "_rows", rows)
    p = tmp_path / "e.xlsx"
    write_xlsx(p, 50)
    _, got, _ = both(p)
    first = list(got[0].values())
    assert first[:4] == ["a & b", "<标签>", 'say "hi"', "两行\n文本"]
    # Without xml:space="preserve" the spaces around a <t> text are not part of it.
    assert first[4:7] == ["空格", "&amp; literally", "&#20013;"]


def test_shared_strings_workbook_from_the_benchmark_writer(tmp_path: Path) -> None:
    p = tmp_path / "s.xlsx"
    write_xlsx(p, 500, shared=True)
    book = Workbook(p)
    assert len(book.shared_strings()) > 100  # the table was found through the relationships
    book.close()
    columns, rows, _ = both(p)
    write_xlsx(tmp_path / "i.xlsx", 500)  # the same rows as inline strings
    assert len(rows) == 500 and (columns, rows) == read(tmp_path / "i.xlsx")[:2]


def test_rich_phonetic_and_empty_shared_strings(tmp_path: Path) -> None:
    import zipfile

    base = tmp_path / "base.xlsx"
    write_xlsx(base, 1, shared=True)
    items = [
        "<si><t>名称</t></si>",
        "<si><t>备注</t></si>",
        '<si><r><t>德州</t></r><r><rPr><b/></rPr><t xml:space="preserve"> 市场 </t></r></si>',
        '<si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh></si>',
        "<si><t></t></si>",
        "<si><t>a &amp; b &#20013;</t></si>",
    ]
    sst = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main">' + "".join(items) + "</sst>"
    )
    rows = [(1, 0, 1), (2, 2, 3), (3, 4, 5)]
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
        '.org/spreadsheetml/2006/main"><sheetData>'
        + "".join(
            f'<row r="{r}"><c r="A{r}" t="s"><v>{a}</v></c><c r="B{r}" t="s"><v>{b}</v></c></row>'
            for r, a, b in rows
        )
        + "</sheetData></worksheet>"
    )
    p = tmp_path / "rich.xlsx"
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(p, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/sharedStrings.xml":
                data = sst.encode()
            elif item.filename == "xl/worksheets/sheet1.xml":
                data = sheet.encode()
            out.writestr(item.filename, data)
    columns, got, _ = both(p)
    assert columns == ["名称", "备注"]
    assert got == [{"名称": "德州 市场 ", "备注": "漢字"}, {"名称": "", "备注": "a & b 中"}]


def test_blocks_of_empty_rows_are_skipped(tmp_path: Path, monkeypatch) -> None:
    import panorama_dev.bench.extract as bench

    def rows(n: int, seed: int = 0):
        for i in range(n):  # a row of values, 200 of cells holding only spaces, values again
            yield [f"v{i}" if i in (0, n - 1) else "   " for k in range(21)]

    monkeypatch.setattr(bench, "_rows", rows)
    monkeypatch.setattr(xlsx_mod, "BLOCK_BYTES", 256)
    p = tmp_path / "gaps.xlsx"
    write_xlsx(p, 202)
    _, got, _ = both(p)
    assert [r["行政处罚决定书文号"] for r in got] == ["v0", "v201"]
    import python_calamine

    def refuse(*a, **k):
        raise AssertionError("calamine was used")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", refuse)
    assert read(p)[1] == got  # streamed, without falling back

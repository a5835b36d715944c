"""Extraction benchmark: rows/s and peak memory per delivery format, on one core.

Generates its own synthetic penalty deliveries (GBK CSV in the 双公示 format, JSON lines, xlsx),
then runs :func:`panorama.ingest.extract.extract_feed` in a fresh subprocess per run (pinned to one
CPU), three runs per format, and reports the median rows/s and the child's peak RSS. A second
size (a quarter of the rows) shows whether memory stays flat as files grow.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = [
    "行政处罚决定书文号",
    "行政相对人名称",
    "行政相对人类别",
    "统一社会信用代码",
    "工商注册号",
    "法定代表人",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额(万元)",
    "没收金额(万元)",
    "处罚决定日期",
    "处罚有效期",
    "公示截止期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
]
FIELDS = [
    "cf_wsh",
    "cf_xdr_mc",
    "cf_xdr_lb",
    "cf_xdr_shxym",
    "cf_xdr_gszc",
    "cf_frdb",
    "cf_wfxw",
    "cf_sy",
    "cf_yj",
    "cf_cflb",
    "cf_nr",
    "cf_nr_fk",
    "cf_nr_wfff",
    "cf_jdrq",
    "cf_yxq",
    "cf_gsjzq",
    "cf_cfjg",
    "cf_cfjgdm",
    "cf_sjly",
    "cf_sjlydm",
    "bz",
]
# format -> (feed format type, encoding, file extension)
FORMATS = {
    "csv": ("csv", "gbk", "csv"),
    "jsonl": ("jsonl", "utf-8", "jsonl"),
    "xlsx": ("excel", "utf-8", "xlsx"),
    "xlsx_shared": ("excel", "utf-8", "xlsx"),
}


def _rows(n: int, seed: int = 20240101):
    rng = random.Random(seed)
    shops = ["餐饮店", "超市", "有限公司", "药店", "便利店", "五金店"]
    reasons = ["销售超过保质期的食品", "未明码标价", "使用未经检定的计量器具", "发布虚假广告"]
    for i in range(n):
        d = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        yield [
            f"德市监罚〔2024〕{i + 1}号",
            f"德州市德城区{rng.randint(1, 99999)}{rng.choice(shops)}",
            "法人及非法人组织",
            f"91371402MA{rng.randint(10**7, 10**8 - 1)}",
            "",
            rng.choice(["张伟", "王芳", "李娜", "刘洋"]),
            rng.choice(reasons),
            f"经查，当事人{rng.choice(reasons)}，违法所得{rng.randint(0, 5000)}元。",
            "《中华人民共和国食品安全法》第一百二十四条第一款",
            rng.choice(["罚款", "警告", "没收违法所得"]),
            "罚款人民币五千元",
            f"{rng.randint(0, 500) / 100:.2f}",
            "0",
            d if i % 3 else d.replace("-", "/"),
            "",
            "2027-12-31",
            "德州市德城区市场监督管理局",
            "11371402MB2852345X",
            "德州市德城区市场监督管理局",
            "11371402MB2852345X",
            "",
        ]


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="gbk", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        for r in _rows(n):
            f.write(",".join(r) + "\n")


def write_jsonl(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in _rows(n):
            f.write(json.dumps(dict(zip(HEADER, r, strict=True)), ensure_ascii=False) + "\n")


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s


def write_xlsx(path: Path, n: int, shared: bool = False) -> None:
    """A minimal valid xlsx, streamed (openpyxl needs minutes for 1M rows). Text is written as
    inline strings, as streaming writers (Apache POI SXSSF, EasyExcel) write big exports, or
    with ``shared`` in a shared-strings table, as Excel saves a workbook."""
    cols = [_col(i) for i in range(len(HEADER))]
    strings: dict[str, int] = {}

    def cell(ref: str, v: str) -> str:
        if not shared:
            return f'<c r="{ref}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
        return f'<c r="{ref}" t="s"><v>{strings.setdefault(v, len(strings))}</v></c>'

    def row_xml(r: int, values: list[str]) -> str:
        cells = "".join(cell(f"{c}{r}", v) for c, v in zip(cols, values, strict=True) if v)
        return f'<row r="{r}">{cells}</row>'

    ct = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
        'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
        '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/'
        'workbook.xml"/></Relationships>'
    )
    wb = (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships"><sheets><sheet name="处罚" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
        '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/'
        'sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", wb_rels)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(
                b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
                b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            f.write(row_xml(1, HEADER).encode())
            buf = []
            for i, r in enumerate(_rows(n), start=2):
                buf.append(row_xml(i, r))
                if len(buf) >= 10_000:
                    f.write("".join(buf).encode())
                    buf = []
            f.write("".join(buf).encode())
            f.write(b"</sheetData></worksheet>")
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(
                b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats'
                b'.org/spreadsheetml/2006/main">'
            )
            items = [f"<si><t>{escape(v)}</t></si>" for v in strings]
            for start in range(0, len(items), 10_000):
                f.write("".join(items[start : start + 10_000]).encode())
            f.write(b"</sst>")


WRITERS = {
    "csv": write_csv,
    "jsonl": write_jsonl,
    "xlsx": write_xlsx,
    "xlsx_shared": lambda path, n: write_xlsx(path, n, shared=True),
}


def feed_yaml(fmt: str) -> str:
    ftype, encoding, ext = FORMATS[fmt]
    cols = "\n".join(
        f"  {f}: {{source: {json.dumps(h, ensure_ascii=False)}}}"
        for f, h in zip(FIELDS, HEADER, strict=True)
    )
    return (
        f"name: penalty__bench{fmt}\nkind: penalty\ndepartment: 基准测试\n"
        f'transport: {{type: file, path: "bench/*.{ext}"}}\n'
        f"format: {{type: {ftype}, encoding: {encoding}}}\n"
        f"columns:\n{cols}\nexpected_rows: {{min: 1}}\n"
    )


def _child(fmt: str, workdir: str) -> None:
    """Run one extract in this process (pinned to one CPU) and print its figures as JSON."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    from panorama.ingest.extract import extract_feed
    from panorama.settings import get_settings

    m = extract_feed(f"penalty__bench{fmt}", "2024-03-06", get_settings())
    print(
        json.dumps(
            {"rows": m.totals["rows_read"], "kept": m.totals["rows_kept"], "seconds": m.seconds}
        )
    )


def _run_child(fmt: str, workdir: Path, data_dir: Path) -> dict:
    env = dict(os.environ)
    env["PANORAMA_DATA_DIR"] = str(data_dir)
    env["PANORAMA_FEEDS_DIR"] = str(workdir / "feeds")
    plugins = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = plugins + os.pathsep + env.get("PYTHONPATH", "")
    code = f"from panorama_dev.bench.extract import _child; _child({fmt!r}, {str(workdir)!r})"
    out_path, err_path = workdir / "child.out", workdir / "child.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"benchmark child for {fmt} failed:\n{err_path.read_text()[-2000:]}")
    result = json.loads(out_path.read_text().strip().splitlines()[-1])
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is KiB on Linux
    return result


def _prepare(base: Path, fmt: str, rows: int) -> Path:
    work = base / f"{fmt}-{rows}"
    (work / "feeds").mkdir(parents=True)
    (work / "data" / "landing" / "bench").mkdir(parents=True)
    (work / "feeds" / f"penalty__bench{fmt}.yaml").write_text(feed_yaml(fmt), "utf-8")
    WRITERS[fmt](work / "data" / "landing" / "bench" / f"delivery.{FORMATS[fmt][2]}", rows)
    return work


def main(rows: int = 1_000_000, out: Path | None = None, runs: int = 3) -> dict:
    """Benchmark every format at ``rows`` rows (median of ``runs``) and at ``rows // 4``."""
    base = Path(tempfile.mkdtemp(prefix="panorama-bench-extract-"))
    report: dict = {"rows": rows, "runs": runs, "formats": {}}
    try:
        for fmt in FORMATS:
            small = max(rows // 4, 1)
            results = {}
            for n in (rows, small):
                work = _prepare(base, fmt, n)
                delivery = work / "data" / "landing" / "bench" / f"delivery.{FORMATS[fmt][2]}"
                size = delivery.stat().st_size
                times = []
                for _ in range(runs if n == rows else 1):
                    for landed in ("raw", "quarantine", "manifests"):  # else a re-run is a no-op
                        shutil.rmtree(work / "data" / landed, ignore_errors=True)
                    times.append(_run_child(fmt, work, work / "data"))
                results[n] = {
                    "file_mib": round(size / 2**20, 1),
                    "median_seconds": statistics.median(t["seconds"] for t in times),
                    "rows_per_s": round(n / statistics.median(t["seconds"] for t in times)),
                    "peak_rss_mib": max(t["peak_rss_mib"] for t in times),
                    "rows_kept": times[0]["kept"],
                }
                shutil.rmtree(work)
            report["formats"][fmt] = {
                **results[rows],
                f"peak_rss_mib_at_{small}": results[small]["peak_rss_mib"],
            }
            print(f"{fmt:6} {json.dumps(report['formats'][fmt], ensure_ascii=False)}", flush=True)
        csv_rate = report["formats"]["csv"]["rows_per_s"]
        report["xlsx_slower_than_csv"] = round(
            csv_rate / report["formats"]["xlsx"]["rows_per_s"], 2
        )
        jsonl_rate = report["formats"]["jsonl"]["rows_per_s"]
        print(
            f"targets (one core): GBK CSV {csv_rate:,} rows/s (>= 200,000), "
            f"JSON lines {jsonl_rate:,} rows/s (>= 100,000), "
            f"xlsx {report['xlsx_slower_than_csv']}x the CSV time (<= 5x)",
            flush=True,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if out is not None:
        Path(out).write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
    return report


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(main(n), ensure_ascii=False, indent=2))

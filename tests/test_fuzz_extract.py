"""Fuzz: random corruptions of every demo feed's delivery format through the real extract.

Small deliveries are written by the project's synth generator (GBK, GB18030, UTF-8 and
UTF-8-with-BOM CSV, an xlsx workbook with title rows, JSON lines) plus a JSON document made
from the JSON lines. Each case corrupts one delivered file (truncation at a random byte,
dropped or inserted bytes, a doubled delimiter, a stray quote, bytes that are not the encoding,
a field over the block size, binary garbage, an empty file, a JSON syntax error) and runs
``extract_feed`` on it. The cases run in a child process, so that a crash (a segfault in a
reader) fails this test instead of killing pytest; the child reports one JSON line per case
and the test checks, per case:

- the extract returned a manifest, or failed the feed naming the file (a header damaged so
  that a required column is gone); nothing else;
- every file of the manifest is either loaded with rows read = kept + quarantined (and that
  many rows in the raw partition and the quarantine), or rejected whole, listed in
  ``files.jsonl`` with its size and SHA-256 and its counted rows as rejected;
- a corruption of one line of a CSV or JSON-lines file changes the rows read by at most two
  (a line split or merged), so no good line was lost with the bad one.

Seeded and bounded: the same cases every run, about 15-30 seconds in all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

SEED = 20240306
DS = "2024-03-06"
ENTITIES = 40
CASE_TIMEOUT_S = 240
ROOT = Path(__file__).resolve().parents[1]

# Demo feeds delivered as files, and a JSON-document feed made from the complaint feed.
FILE_FEEDS = [
    "abnormal_list__amr",  # GBK CSV
    "annual_report__amr",  # UTF-8 CSV
    "complaint__12315",  # JSON lines
    "licence__amr",  # GB18030 CSV
    "penalty__amr",  # GBK CSV
    "penalty__env_legacy",  # xlsx with title rows
    "registration__amr",  # UTF-8 CSV
    "registration_change__amr",  # UTF-8 CSV with BOM
    "spot_check__amr",  # encoding: detect, one file per year
]
JSON_DOC_FEED = "complaint__doc"
LOCAL = {"drop", "insert", "dup_delimiter", "stray_quote", "bad_bytes", "huge_field", "json_syntax"}


# ----------------------------------------------------------------------------- corruptions


def _body_start(data: bytes) -> int:
    """Offset just after the first line (corruptions that must spare the header)."""
    nl = data.find(b"\n")
    return nl + 1 if 0 <= nl < len(data) - 1 else 0


def _pos(data: bytes, rng: random.Random, spare_header: bool = False) -> int:
    lo = _body_start(data) if spare_header else 0
    return rng.randrange(lo, max(lo + 1, len(data)))


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data))]


def drop(data: bytes, rng: random.Random) -> bytes:
    i = _pos(data, rng)
    return data[:i] + data[i + rng.randint(1, 6) :]


def insert(data: bytes, rng: random.Random) -> bytes:
    i = _pos(data, rng)
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 6))) + data[i:]


def dup_delimiter(data: bytes, rng: random.Random) -> bytes:
    commas = [i for i, b in enumerate(data) if b == ord(",")]
    i = rng.choice(commas) if commas else _pos(data, rng)
    return data[:i] + b"," + data[i:]


def stray_quote(data: bytes, rng: random.Random) -> bytes:
    starts = [i + 1 for i, b in enumerate(data) if b in b",\n"]  # a quote opening a value
    i = rng.choice(starts) if starts and rng.random() < 0.7 else _pos(data, rng)
    return data[:i] + b'"' + data[i:]


def bad_bytes(data: bytes, rng: random.Random) -> bytes:
    i = _pos(data, rng, spare_header=True)
    return data[:i] + rng.choice([b"\xff\xfe", b"\x81\x20", b"\x80", b"\xfe\xff\xfe"]) + data[i:]


def huge_field(data: bytes, rng: random.Random) -> bytes:
    from panorama.ingest.connectors.lines import MAX_FIELD_BYTES

    body = _body_start(data)
    ends = [i for i in range(body, len(data)) if data[i] == ord("\n")]
    i = rng.choice(ends) if ends else len(data)
    return data[:i] + b"x" * (MAX_FIELD_BYTES + 4096) + data[i:]


def garbage(data: bytes, rng: random.Random) -> bytes:
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(16, 4096)))
    if rng.random() < 0.5:
        return junk
    i = _pos(data, rng)
    return data[:i] + junk + data[i + len(junk) :]


def empty(data: bytes, rng: random.Random) -> bytes:
    return b"" if rng.random() < 0.5 else b"\r\n \n"


def json_syntax(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    k = rng.randrange(len(lines))
    line = lines[k]
    marks = [i for i, b in enumerate(line) if b in b'{}":,']
    if marks:
        i = rng.choice(marks)
        lines[k] = line[:i] + line[i + 1 :]
    return b"\n".join(lines)


TEXT_CORRUPTIONS = [
    truncate,
    drop,
    insert,
    dup_delimiter,
    stray_quote,
    bad_bytes,
    huge_field,
    garbage,
    empty,
]
CORRUPTIONS = {
    "csv": TEXT_CORRUPTIONS,
    "jsonl": [*TEXT_CORRUPTIONS, json_syntax, json_syntax],
    "json": [truncate, drop, insert, stray_quote, bad_bytes, garbage, empty, json_syntax],
    "excel": [truncate, drop, insert, garbage, empty],
}


# ----------------------------------------------------------------------------- child process


def _settings(data_dir: Path, feeds_dir: Path):
    from panorama.settings import get_settings

    return dataclasses.replace(get_settings(), data_dir=data_dir, feeds_dir=feeds_dir)


def _prepare(work: Path) -> tuple[Path, Path]:
    """The generated landing files and the feed YAMLs (min rows 0, a JSON-document feed)."""
    import datetime as dt

    import yaml
    from panorama_dev.synth.generate import generate

    base = work / "base"
    generate(base, ENTITIES, SEED, dt.date.fromisoformat(DS), progress=False)
    feeds = work / "feeds"
    feeds.mkdir()
    for name in FILE_FEEDS:
        doc = yaml.safe_load((ROOT / "feeds" / f"{name}.yaml").read_text("utf-8"))
        doc["expected_rows"] = {"min": 0}
        (feeds / f"{name}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    doc = yaml.safe_load((ROOT / "feeds" / "complaint__12315.yaml").read_text("utf-8"))
    doc.update(
        name=JSON_DOC_FEED,
        transport={"type": "file", "path": f"{JSON_DOC_FEED}/*.json"},
        format={"type": "json", "encoding": "utf-8"},
        expected_rows={"min": 0},
    )
    (feeds / f"{JSON_DOC_FEED}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    landing = base / "landing"
    src = next((landing / "complaint__12315").glob("*.jsonl"))
    records = [json.loads(x) for x in src.read_text("utf-8").splitlines() if x.strip()]
    (landing / JSON_DOC_FEED).mkdir()
    (landing / JSON_DOC_FEED / "complaints.json").write_text(
        json.dumps(records, ensure_ascii=False, indent=1), "utf-8"
    )
    return landing, feeds


def _outcome(settings, feed: str) -> dict:
    """What the load left: per source file, rows in the raw partition and the quarantine."""
    import pyarrow.parquet as pq

    raw_dir = settings.raw_dir / feed / f"load_date={DS}"
    q_dir = settings.quarantine_dir / feed / f"load_date={DS}"
    raw: dict[str, int] = {}
    if raw_dir.exists():
        for r in pq.read_table(raw_dir, columns=["_source_file"]).column(0).to_pylist():
            raw[r] = raw.get(r, 0) + 1
    quarantined: dict[str, int] = {}
    line_reasons_ok = True
    if (q_dir / "rows.parquet").exists():
        for r in pq.read_table(q_dir / "rows.parquet").to_pylist():
            quarantined[r["_source_file"]] = quarantined.get(r["_source_file"], 0) + 1
            if r["field"] is None:  # a whole line: offset and raw text
                line_reasons_ok &= " byte " in r["reason"] and r["raw_line"] is not None
    rejected = []
    if (q_dir / "files.jsonl").exists():
        rejected = [json.loads(x) for x in (q_dir / "files.jsonl").read_text("utf-8").splitlines()]
    return {"raw": raw, "quarantined": quarantined, "rejected": rejected, "ok": line_reasons_ok}


def _run_case(landing: Path, feeds: Path, work: Path, case: dict) -> dict:
    import shutil

    from panorama.ingest.extract import FeedError, extract_feed

    feed, name = case["feed"], case["file"]
    data_dir = work / f"case{case['id']:04d}"
    shutil.copytree(landing / feed, data_dir / "landing" / feed)
    target = data_dir / "landing" / feed / name
    target.write_bytes(case["bytes"])
    settings = _settings(data_dir, feeds)
    out = {k: v for k, v in case.items() if k != "bytes"}
    out["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    out["size"] = target.stat().st_size
    try:
        m = extract_feed(feed, DS, settings)
        out["outcome"] = "manifest"
        out["files"] = [dataclasses.asdict(f) for f in m.files]
    except FeedError as exc:
        out["outcome"], out["error"] = "feed_error", str(exc)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        out["outcome"], out["error"] = "exception", f"{type(exc).__name__}: {exc}"
    out.update(_outcome(settings, feed))
    shutil.rmtree(data_dir, ignore_errors=True)
    return out


def _clean_rows(landing: Path, feeds: Path, work: Path) -> dict[str, dict[str, int]]:
    """Rows read per file of each feed, uncorrupted."""
    from panorama.ingest.extract import extract_feed

    rows: dict[str, dict[str, int]] = {}
    for feed in [*FILE_FEEDS, JSON_DOC_FEED]:
        data_dir = work / f"clean-{feed}"
        (data_dir / "landing").mkdir(parents=True)
        os.symlink(landing / feed, data_dir / "landing" / feed)
        m = extract_feed(feed, DS, _settings(data_dir, feeds))
        rows[feed] = {f.name: f.rows_read for f in m.files}
    return rows


def _cases(landing: Path, feeds: Path, reps: int) -> list[dict]:
    from panorama.ingest.feeds import load_feed

    rng = random.Random(SEED)
    cases = []
    for feed in [*FILE_FEEDS, JSON_DOC_FEED]:
        fmt = load_feed(feeds / f"{feed}.yaml").format
        files = sorted(p for p in (landing / feed).iterdir() if p.is_file())
        for _ in range(reps):
            for corrupt in CORRUPTIONS[fmt.type]:
                path = rng.choice(files)
                data = path.read_bytes()
                bad = corrupt(data, rng)
                cases.append(
                    {
                        "id": len(cases),
                        "feed": feed,
                        "format": fmt.type,
                        "file": path.name,
                        "corruption": corrupt.__name__,
                        "header_lines": fmt.header_row,
                        "cut_lines": bad.count(b"\n") if corrupt is truncate else None,
                        "bytes": bad,
                    }
                )
    return cases


def worker(work: Path, reps: int) -> None:
    landing, feeds = _prepare(work)
    clean = _clean_rows(landing, feeds, work)
    print(json.dumps({"clean": clean}), flush=True)
    for case in _cases(landing, feeds, reps):
        # Announce the case first: if the child dies, the parent knows which one killed it.
        print(json.dumps({"start": case["id"], "feed": case["feed"], "kind": case["corruption"]}))
        sys.stdout.flush()
        result = _run_case(landing, feeds, work, case)
        print(json.dumps({"result": result}, ensure_ascii=False), flush=True)


def race_worker(work: Path, rows: int, runs: int) -> None:
    """A GBK file with a malformed line early on, read with small blocks and stream chunks so
    that Arrow's read-ahead thread is converting while the reader gives up on the file (this
    crashed the process when the stream freed its iconv handle under the running read)."""
    import functools

    import panorama.ingest.connectors.files as files_mod
    from panorama.ingest.connectors.transcode import Utf8Stream
    from panorama.ingest.extract import extract_feed

    files_mod.CSV_BLOCK_BYTES = 16 << 10
    files_mod.Utf8Stream = functools.partial(Utf8Stream, chunk_bytes=64 << 10)
    feeds, landing = work / "feeds", work / "data" / "landing" / "penalty__amr"
    feeds.mkdir(parents=True)
    landing.mkdir(parents=True)
    feed_yaml = (ROOT / "feeds" / "penalty__amr.yaml").read_text("utf-8")
    (feeds / "penalty__amr.yaml").write_text(feed_yaml, "utf-8")
    header = "行政处罚决定书文号,行政相对人名称,统一社会信用代码,处罚类别,处罚决定日期,处罚机关"
    row = (
        "德市监罚〔2024〕{}号,德州市某某餐饮店（个体）,91371402MA1K3BTP2B,罚款,2024-03-05,德州市局"
    )
    lines = [header] + [row.format(i) for i in range(rows)]
    lines.insert(200, "德市监罚〔2024〕x号,只有两列")
    (landing / "a.csv").write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    settings = _settings(work / "data", feeds)
    for _ in range(runs):
        m = extract_feed("penalty__amr", DS, settings)
        print(json.dumps(m.totals), flush=True)


# ----------------------------------------------------------------------------- the test


def _child(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    return subprocess.run(
        [sys.executable, __file__, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S,
        check=False,
    )


def _run_worker(tmp_path: Path, reps: int) -> tuple[dict, list[dict]]:
    proc = _child(str(tmp_path), str(reps))
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    started = [x for x in lines if "start" in x]
    results = [x["result"] for x in lines if "result" in x]
    assert proc.returncode == 0, (
        f"extract crashed (exit {proc.returncode}) in case {started[-1] if started else None}: "
        f"{proc.stderr[-2000:]}"
    )
    assert len(results) == len(started) > 0
    return lines[0]["clean"], results


def _check(case: dict, clean: dict) -> list[str]:
    """What is wrong with one case's outcome (empty: fine)."""
    where = f"case {case['id']} ({case['corruption']} of {case['feed']}/{case['file']})"
    name = f"{case['feed']}/{case['file']}"
    if case["outcome"] == "exception":
        return [f"{where}: unexpected {case['error']}"]
    if case["outcome"] == "feed_error":
        if name in case["error"] and "required column" in case["error"]:
            return []  # a damaged header lost a required column: the feed fails, naming it
        return [f"{where}: feed failed without naming the file's missing column: {case['error']}"]
    problems = []
    if not case["ok"]:
        problems.append(f"{where}: a quarantined line without its byte offset or raw text")
    rejected = {r["_source_file"]: r for r in case["rejected"]}
    for f in case["files"]:
        fname = f["name"]
        if f["status"] == "loaded":
            if f["rows_read"] != f["rows_kept"] + f["rows_quarantined"] or f["rows_rejected"]:
                problems.append(f"{where}: {fname}: accounting {f}")
            if case["raw"].get(fname, 0) != f["rows_kept"]:
                problems.append(f"{where}: {fname}: {case['raw'].get(fname, 0)} rows landed")
            if case["quarantined"].get(fname, 0) != f["rows_quarantined"]:
                problems.append(f"{where}: {fname}: quarantine rows differ from the manifest")
        else:
            entry = rejected.get(fname)
            if entry is None or not entry["reason"]:
                problems.append(f"{where}: {fname} rejected but not listed with a reason")
            elif fname == name and (entry["sha256"], entry["size_bytes"]) != (
                case["sha256"],
                case["size"],
            ):
                problems.append(f"{where}: {fname} listed without its size and hash")
            if f["rows_read"] != f["rows_rejected"] or f["rows_kept"] or f["rows_quarantined"]:
                problems.append(f"{where}: {fname}: rejected file's rows not counted: {f}")
            if case["raw"].get(fname) or case["quarantined"].get(fname):
                problems.append(f"{where}: {fname} rejected whole but rows of it landed")
    target = next((f for f in case["files"] if f["name"] == name), None)
    orig = clean[case["feed"]][name]
    if target and target["status"] == "loaded" and case["format"] in ("csv", "jsonl"):
        read = target["rows_read"]
        if case["corruption"] in LOCAL and not orig - 2 <= read <= orig + 2:
            problems.append(f"{where}: {read} rows read of {orig}: good lines were lost")
        if case["corruption"] == "truncate":
            whole = case["cut_lines"] - (case["header_lines"] if case["format"] == "csv" else 0)
            if not whole - 1 <= read <= orig:
                problems.append(f"{where}: {read} rows read, {whole} lines before the cut")
    return problems


def test_gbk_stream_closed_under_the_read_ahead_does_not_crash(tmp_path: Path) -> None:
    proc = _child("race", str(tmp_path), "20000", "3")
    assert proc.returncode == 0, f"extract crashed (exit {proc.returncode}): {proc.stderr[-2000:]}"
    totals = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(totals) == 3
    assert all(
        (t["rows_read"], t["rows_kept"], t["rows_quarantined"]) == (20001, 20000, 1) for t in totals
    )


def test_random_corruptions_of_every_demo_feed_format(tmp_path: Path) -> None:
    clean, results = _run_worker(tmp_path, reps=1)
    problems = [p for case in results for p in _check(case, clean)]
    assert not problems, "\n".join(problems[:20])
    # The cases exercised what they should: line-level quarantine, whole-file rejection and
    # clean loads all occur, for every feed.
    outcomes = {
        (c["feed"], f["status"], f["rows_quarantined"] > 0)
        for c in results
        if c["outcome"] == "manifest"
        for f in c["files"]
        if f["name"] == f"{c['feed']}/{c['file']}"
    }
    feeds = {c["feed"] for c in results}
    assert feeds == {*FILE_FEEDS, JSON_DOC_FEED}
    assert {s for _, s, _ in outcomes} == {"loaded", "rejected"}
    line_feeds = {f for f, s, q in outcomes if s == "loaded" and q}
    assert {"penalty__amr", "licence__amr", "complaint__12315", "spot_check__amr"} <= line_feeds


if __name__ == "__main__":
    if sys.argv[1] == "race":
        race_worker(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        worker(Path(sys.argv[1]), int(sys.argv[2]))

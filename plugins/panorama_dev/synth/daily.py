"""One day of department deliveries after a generated world: what a following day brings.

The generator writes a whole world as of one date. A following day ``day`` adds, in each
incremental feed that delivers daily, new records of that day (a deterministic sample of the
generated records, each given a new natural key and the day's date): penalties, licences,
complaints and registration changes; and a fresh full registration list (the whole list again,
the entities whose address changed that day with their new address, and a share of contact
phones updated). A day's share is ``DAY_SHARE`` of a feed's generated records, about a day's
worth of several years of history (a conservative size: more than an average day).

The files are written as ``<feed>/<feed>_<YYYYMMDD>_daily.<ext>`` beside the generated ones,
so the extract of that date takes them (and only them) like any other delivery.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

DAY_SHARE = 1 / 365
DAILY_MARK = "_daily"

# feed -> (key column made unique per day, date columns set to the day)
CSV_FEEDS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "penalty__amr": ("行政处罚决定书文号", ("处罚决定日期",)),
    "licence__amr": ("行政许可决定文书号", ("许可决定日期", "有效期自")),
    "registration_change__amr": (None, ("变更日期",)),
}
CSV_ENCODINGS = {
    "penalty__amr": "gbk",
    "licence__amr": "gb18030",
    "registration_change__amr": "utf-8-sig",
    "registration__amr": "utf-8",
}
COMPLAINT_FEED = "complaint__12315"
REGISTRATION_FEED = "registration__amr"


def _base_file(landing: Path, feed: str, ext: str) -> Path:
    """The generated (first) delivery of ``feed``: its one file without the daily mark."""
    found = sorted(p for p in (landing / feed).glob(f"{feed}_*.{ext}") if DAILY_MARK not in p.name)
    if not found:
        raise FileNotFoundError(f"no generated delivery of {feed} in {landing / feed}")
    return found[0]


def _daily_path(landing: Path, feed: str, day: dt.date, ext: str) -> Path:
    return landing / feed / f"{feed}_{day:%Y%m%d}{DAILY_MARK}.{ext}"


def _read_csv(path: Path, encoding: str) -> tuple[list[str], list[list[str]], str]:
    raw = path.read_bytes()
    eol = "\r\n" if b"\r\n" in raw[:4096] else "\n"
    text = raw.decode(encoding)
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:], eol


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str, eol: str):
    with open(path, "w", encoding=encoding, newline="", errors="strict") as fh:
        writer = csv.writer(fh, lineterminator=eol)
        writer.writerow(header)
        writer.writerows(rows)


def _sample(rng: random.Random, rows: list[Any]) -> list[Any]:
    k = min(len(rows), max(1, round(len(rows) * DAY_SHARE)))
    return [rows[i] for i in sorted(rng.sample(range(len(rows)), k))]


def _csv_feed(landing: Path, feed: str, day: dt.date, rng: random.Random) -> list[list[str]]:
    key, dates = CSV_FEEDS[feed]
    encoding = CSV_ENCODINGS[feed]
    header, rows, eol = _read_csv(_base_file(landing, feed, "csv"), encoding)
    at = {name: header.index(name) for name in (*dates, *([key] if key else []))}
    new = []
    for i, row in enumerate(_sample(rng, rows)):
        row = list(row)
        if key:
            row[at[key]] = f"{row[at[key]]}-{day:%Y%m%d}-{i + 1}"
        for name in dates:
            row[at[name]] = day.isoformat()
        new.append(row)
    _write_csv(_daily_path(landing, feed, day, "csv"), header, new, encoding, eol)
    return new


def _complaints(landing: Path, day: dt.date, rng: random.Random) -> int:
    lines = _base_file(landing, COMPLAINT_FEED, "jsonl").read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(_sample(rng, lines)):
        record = json.loads(line)
        record["tsbh"] = f"{record['tsbh']}-{day:%Y%m%d}-{i + 1}"
        record["djrq"] = day.isoformat()
        out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    _daily_path(landing, COMPLAINT_FEED, day, "jsonl").write_text(
        "".join(f"{line}\n" for line in out), encoding="utf-8"
    )
    return len(out)


def _registration(landing: Path, day: dt.date, rng: random.Random, changes: list[list[str]]) -> int:
    """The whole registration list again: the addresses changed today, a share of phones."""
    encoding = CSV_ENCODINGS[REGISTRATION_FEED]
    folder = landing / REGISTRATION_FEED
    previous = sorted(folder.glob(f"{REGISTRATION_FEED}_*.csv"))[-1]  # the newest list
    header, rows, eol = _read_csv(previous, encoding)
    code, address, phone = (header.index(c) for c in ("统一社会信用代码", "住所", "联系电话"))
    moved = {c[0]: c[5] for c in changes if c[0] and "住所" in c[3] and c[5]}
    for i in sorted(rng.sample(range(len(rows)), min(len(rows), max(1, len(rows) // 365)))):
        rows[i][phone] = f"1{rng.randrange(30, 99)}{rng.randrange(10**8):08d}"
    for row in rows:
        if row[code] in moved:
            row[address] = moved[row[code]]
    _write_csv(_daily_path(landing, REGISTRATION_FEED, day, "csv"), header, rows, encoding, eol)
    return len(rows)


def write_day(data_dir: Path, day: dt.date, seed: int) -> dict[str, int]:
    """Write the deliveries of ``day`` into ``data_dir/landing``; returns rows per feed."""
    landing = Path(data_dir) / "landing"
    counts: dict[str, int] = {}
    changes: list[list[str]] = []
    for feed in CSV_FEEDS:
        rows = _csv_feed(landing, feed, day, random.Random(f"{seed}|{feed}|{day}"))
        counts[feed] = len(rows)
        if feed == "registration_change__amr":
            changes = rows
    counts[COMPLAINT_FEED] = _complaints(landing, day, random.Random(f"{seed}|complaint|{day}"))
    counts[REGISTRATION_FEED] = _registration(
        landing, day, random.Random(f"{seed}|registration|{day}"), changes
    )
    return counts


def forget_days(data_dir: Path) -> None:
    """Remove every following day's deliveries (back to the generated world)."""
    landing = Path(data_dir) / "landing"
    for path in landing.glob(f"*/*{DAILY_MARK}.*"):
        path.unlink()

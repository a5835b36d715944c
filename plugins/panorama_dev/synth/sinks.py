"""Writers for department deliveries: CSV in a given encoding, Excel workbooks (streamed,
split, byte-reproducible), JSON lines and SQLite tables. Each write returns the record's
(source_file, source_row) as the extractor will see them."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class CsvSink:
    def __init__(
        self, path: Path, header: list[str], encoding: str, lineterminator: str = "\n"
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.name = path.name
        self._fh = open(path, "w", encoding=encoding, newline="", errors="strict")
        self._writer = csv.writer(self._fh, lineterminator=lineterminator)
        self._writer.writerow(header)
        self.rows = 0

    def write(self, row: list[Any]) -> tuple[str, int]:
        self._writer.writerow(row)
        self.rows += 1
        return self.name, self.rows

    def close(self) -> None:
        self._fh.close()


class JsonlSink:
    def __init__(self, path: Path, source_name: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.name = source_name or path.name
        self._fh = open(path, "w", encoding="utf-8", newline="\n")
        self.rows = 0

    def write(self, record: dict[str, Any]) -> tuple[str, int]:
        self._fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.rows += 1
        return self.name, self.rows

    def close(self) -> None:
        self._fh.close()


class SqliteSink:
    def __init__(self, path: Path, table: str, columns: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.path = path
        self.name = table
        self._db = sqlite3.connect(path)
        cols = ", ".join(f'"{c}" TEXT' for c in columns)
        self._db.execute(f'CREATE TABLE "{table}" ({cols})')
        self._insert = f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(columns))})'
        self._pending: list[list[Any]] = []
        self.rows = 0

    def write(self, row: list[Any]) -> tuple[str, int]:
        self._pending.append(row)
        self.rows += 1
        if len(self._pending) >= 10_000:
            self.flush()
        return self.name, self.rows

    def flush(self) -> None:
        if self._pending:
            self._db.executemany(self._insert, self._pending)
            self._db.commit()
            self._pending = []

    def close(self) -> None:
        self.flush()
        self._db.close()


class XlsxSink:
    """Streams rows into write-only workbooks of ``max_rows`` data rows each, with a merged
    title row and a note row above the header (header on row 3)."""

    def __init__(
        self,
        directory: Path,
        stem: str,
        title: str,
        note: str,
        header: list[str],
        max_rows: int,
        stamp: dt.datetime,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.stem = stem
        self.title = title
        self.note = note
        self.header = header
        self.max_rows = max_rows
        self.stamp = stamp
        self.files: list[Path] = []
        self._wb = None
        self._ws = None
        self.rows = 0  # rows in the current workbook
        self.total = 0
        self.name = ""

    def _open(self) -> None:
        from openpyxl import Workbook

        self._wb = Workbook(write_only=True)
        self._ws = self._wb.create_sheet("行政处罚")
        last = chr(ord("A") + len(self.header) - 1) if len(self.header) <= 26 else "Z"
        self._ws.merged_cells.add(f"A1:{last}1")
        self._ws.append([self.title])
        self._ws.append([self.note])
        self._ws.append(self.header)
        path = self.directory / f"{self.stem}_{len(self.files) + 1:02d}.xlsx"
        self.files.append(path)
        self.name = path.name
        self.rows = 0

    def write(self, row: list[Any]) -> tuple[str, int]:
        if self._wb is None or self.rows >= self.max_rows:
            self._save()
            self._open()
        self._ws.append(row)
        self.rows += 1
        self.total += 1
        return self.name, self.rows

    def _save(self) -> None:
        if self._wb is None:
            return
        self._wb.properties.created = self.stamp
        self._wb.properties.modified = self.stamp
        self._wb.properties.creator = "德州市生态环境局"
        path = self.files[-1]
        self._wb.save(path)  # openpyxl stamps "modified" with the wall clock on save
        self._wb = None
        normalize_zip(path, self.stamp)

    def close(self) -> None:
        if self._wb is None and not self.files:
            self._open()
        self._save()


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def normalize_zip(path: Path, stamp: dt.datetime) -> None:
    """Rewrite an xlsx with fixed member timestamps and document times, so that equal content
    gives equal bytes."""
    tmp = path.with_suffix(".tmp")
    when = stamp.isoformat(timespec="seconds").encode() + b"Z"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            if info.filename == "docProps/core.xml":
                xml = _MODIFIED.sub(rb"\g<1>" + when + rb"\g<2>", src.read(info))
                dst.writestr(fixed, xml)
                continue
            with src.open(info) as fin, dst.open(fixed, "w", force_zip64=True) as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
    tmp.replace(path)

"""Connectors turn a feed's transport into *sources* (a file, an API endpoint, a table), and each
source into batches of string columns named as delivered.

A source that cannot be read at all raises :class:`SourceUnreadable` (the file is quarantined
whole); a record that cannot be parsed (a malformed CSV line, a JSON-lines syntax error) is
handed out as a :class:`BadLine` with its batch, and the rest of the source lands; anything else
that goes wrong with the transport (an API page that keeps failing, a
database that refuses the connection) raises :class:`TransportError` and fails the feed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa

from panorama.ingest.feeds import FeedSpec
from panorama.settings import Settings

BATCH_ROWS = 65_536


class SourceUnreadable(Exception):
    """The source cannot be read as declared; ``reason`` says why (no personal data).

    ``rows_read``: the records the reader had counted when it gave up (all of them when it read
    to the end, e.g. a file rejected whole for one bad line), reported as rejected rows."""

    def __init__(self, reason: str, rows_read: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rows_read = rows_read


class RestartSource(Exception):
    """A reader gave up after handing out rows; discard them and iterate the source again."""


class TransportError(Exception):
    """The transport failed (HTTP, database): the feed fails."""


@dataclass
class BadLine:
    """A delivered record that could not be parsed: its 1-based row, why, and its raw text."""

    row: int
    reason: str  # names the byte offset of the line in the file
    raw_line: str


@dataclass
class SourceBatch:
    """Rows ``first_row`` .. ``first_row + len - 1`` (1-based) of a source, as strings.

    When records of the source could not be parsed, ``row_numbers`` gives the row of each table
    row (the unparsed ones keep their numbers) and ``bad_lines`` holds those records."""

    table: pa.Table
    first_row: int
    style: Literal["csv", "json"] = "csv"
    delimiter: str = ","
    row_numbers: np.ndarray | None = None
    bad_lines: list[BadLine] = field(default_factory=list)

    def raw_lines(self, indices: list[int]) -> list[str]:
        """The delivered record of each row, re-serialised (a CSV line or a JSON object)."""
        rows = self.table.take(pa.array(indices, pa.int64())).to_pylist()
        if self.style == "json":
            return [
                json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False)
                for r in rows
            ]
        out = []
        for r in rows:
            buf = io.StringIO()
            csv.writer(buf, delimiter=self.delimiter, lineterminator="").writerow(
                ["" if v is None else v for v in r.values()]
            )
            out.append(buf.getvalue())
        return out


@dataclass
class Source:
    """One unit of delivery: a file, an API endpoint or a table/query."""

    name: str  # written to ``_source_file``
    sha256: str | None = None  # set once fully read
    size_bytes: int | None = None
    columns: list[str] = field(default_factory=list)  # names as delivered, in order
    #: records carry their own keys (JSON, API): an absent key is only known from records
    keyed_records: bool = False

    def prepare(self) -> None:
        """Read what comes before the records (a header) so that ``columns`` can be checked."""

    def batches(self) -> Iterator[SourceBatch]:  # pragma: no cover - interface
        raise NotImplementedError


def dedupe_names(names: list[str]) -> list[str]:
    """Header names made unique (``x``, ``x`` -> ``x``, ``x.2``); blanks become ``column_N``."""
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names, start=1):
        name = (raw or "").replace("\ufeff", "").strip() or f"column_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def to_text(value: object) -> str | None:
    """A delivered cell/record value as text: numbers without a spurious ``.0``, dates as ISO,
    nested JSON as JSON text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e17 else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text.replace("T", " ")
    return str(value)


def records_to_table(records: list[dict], names: list[str] | None = None) -> pa.Table:
    """JSON-like records as a table of strings; keys in first-seen order (or ``names`` first)."""
    keys: dict[str, None] = dict.fromkeys(names or [])
    for r in records:
        for k in r:
            if k not in keys:
                keys[k] = None
    cols = {}
    for k in keys:
        values = [r.get(k) for r in records]
        cols[k] = pa.array(
            [v if v is None or v.__class__ is str else to_text(v) for v in values], pa.string()
        )
    if not cols:
        return pa.table({"__empty__": pa.nulls(len(records), pa.string())}).drop(["__empty__"])
    return pa.table(cols)


def open_sources(feed: FeedSpec, settings: Settings) -> Iterator[Source]:
    """The sources of a feed, in a stable order."""
    kind = feed.transport.type
    if kind == "file":
        from panorama.ingest.connectors.files import file_sources

        return file_sources(feed, settings)
    if kind == "http":
        from panorama.ingest.connectors.http import http_sources

        return http_sources(feed)
    from panorama.ingest.connectors.sql import sql_sources

    return sql_sources(feed, settings)

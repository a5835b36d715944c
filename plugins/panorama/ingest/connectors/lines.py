"""A delivered text file as physical lines with their byte offsets, and CSV records over them.

This is the careful path of the CSV and JSON-lines readers: a file the Arrow fast path cannot
parse is read again here, line by line, so that a malformed line is set aside with its byte
offset and raw text while every other line is kept.

A CSV record that does not parse (wrong column count, an unterminated quote, a field over
:data:`MAX_FIELD_BYTES`, bytes that are not the declared encoding) is reported on its own; when
it ran over several physical lines (a stray quote swallowing the lines after it), only its first
line is set aside and the following lines are parsed again as records of their own.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: A field over this many bytes makes its record malformed (Arrow's CSV block size is 1 MiB).
MAX_FIELD_BYTES = 1 << 20
_CHUNK = 4 << 20
_WIDE_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+")

# The csv module refuses fields over 128 KiB by default; the limit above is checked here instead.
csv.field_size_limit(max(csv.field_size_limit(), (1 << 31) - 1))


@dataclass(frozen=True)
class Line:
    """One physical line: its byte offset, its bytes (terminator included) and its text."""

    offset: int
    raw: bytes
    text: str  # bytes that are not the encoding shown as \\xNN
    bad_at: int | None = None  # file offset of the first byte that is not the encoding

    @property
    def non_ascii(self) -> bool:
        return not self.raw.isascii()


def physical_lines(path: Path, encoding: str) -> Iterator[Line]:
    """The lines of ``path`` (split at \\n, \\r\\n or \\r, which never occur inside a GBK,
    GB18030 or UTF-8 character), each decoded on its own."""
    codec = codecs.lookup(encoding).name
    if codec.startswith(("utf-16", "utf-32")):
        yield from _wide_lines(path, encoding)
        return
    decode_as = "utf-8" if codec == "utf-8-sig" else codec
    offset, carry = 0, b""
    with path.open("rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            data = carry + chunk if carry else chunk
            if not data:
                return
            parts = data.splitlines(keepends=True)
            # The last piece may continue in the next chunk (a "\r" may be half of "\r\n").
            carry = parts.pop() if chunk and not parts[-1].endswith(b"\n") else b""
            for raw in parts:
                yield _decoded(offset, raw, decode_as, bom=offset == 0 and codec == "utf-8-sig")
                offset += len(raw)
            if not chunk:
                return


def _decoded(offset: int, raw: bytes, encoding: str, bom: bool) -> Line:
    body = raw[len(codecs.BOM_UTF8) :] if bom and raw.startswith(codecs.BOM_UTF8) else raw
    skipped = len(raw) - len(body)
    try:
        return Line(offset, raw, body.decode(encoding))
    except UnicodeDecodeError as exc:
        return Line(
            offset, raw, body.decode(encoding, "backslashreplace"), offset + skipped + exc.start
        )


def _wide_lines(path: Path, encoding: str) -> Iterator[Line]:
    """UTF-16/32 (known by their BOM): decoded whole, offsets counted back in code units."""
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        yield Line(0, data, data.decode(encoding, "backslashreplace"), exc.start)
        return
    unit = "utf-16-le" if "16" in encoding else "utf-32-le"
    offset = len(data) - len(text.encode(unit))  # the BOM
    for m in _WIDE_LINE.finditer(text):
        raw = m.group().encode(unit)
        yield Line(offset, raw, m.group())
        offset += len(raw)


class _Feed:
    """The text of the lines for ``csv.reader``; remembers the lines each record was made of and
    can take lines back (the reader asks again after a StopIteration, so this can resume)."""

    def __init__(self, lines: Iterator[Line]) -> None:
        self._lines = lines
        self.pending: deque[Line] = deque()
        self.taken: list[Line] = []
        self.ran_out = False  # the file ended inside the current record (an open quote)

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.pending:
            line = self.pending.popleft()
        else:
            line = next(self._lines, None)
            if line is None:
                if self.taken:
                    self.ran_out = True
                raise StopIteration
        self.taken.append(line)
        return line.text


@dataclass
class Record:
    """A CSV record with the lines it came from; ``problem`` is set when it is malformed."""

    fields: list[str] | None
    lines: list[Line]
    problem: str | None = None

    @property
    def offset(self) -> int:
        return self.lines[0].offset

    @property
    def raw_text(self) -> str:
        return "".join(line.text for line in self.lines).rstrip("\r\n")

    @property
    def blank(self) -> bool:
        return len(self.lines) == 1 and not self.lines[0].text.strip()


class CsvRecords:
    """The records of a CSV file, malformed ones included (with their ``problem``)."""

    def __init__(
        self, lines: Iterator[Line], delimiter: str, quotechar: str, encoding: str
    ) -> None:
        self._feed = _Feed(lines)
        self._dialect = {"delimiter": delimiter, "quotechar": quotechar}
        self._reader = csv.reader(self._feed, **self._dialect)
        self.encoding = encoding

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        feed = self._feed
        feed.taken, feed.ran_out = [], False
        try:
            fields = next(self._reader)
            error = None
        except csv.Error as exc:
            fields, error = None, str(exc)
        if not feed.taken:
            raise StopIteration
        return Record(fields, feed.taken, error or ("unterminated quote" if feed.ran_out else None))

    def check(self, rec: Record, ncols: int) -> Record | None:
        """Set ``rec.problem`` when it is malformed; a malformed record over several lines is
        cut to its first line, the others are given back to be read again. Blank lines: None."""
        if rec.blank:
            return None
        structural = rec.problem is not None or (
            rec.fields is not None and len(rec.fields) != ncols
        )
        if structural:
            if len(rec.lines) > 1:
                self._feed.pending.extendleft(reversed(rec.lines[1:]))
                rec.lines = rec.lines[:1]
            rec.fields = None
            rec.problem = self._line_problem(rec.lines[0], ncols)
            return rec
        bad_at = next((ln.bad_at for ln in rec.lines if ln.bad_at is not None), None)
        if bad_at is not None:
            rec.problem = f"not valid {self.encoding} at byte {bad_at}"
        elif sum(len(ln.raw) for ln in rec.lines) > MAX_FIELD_BYTES:
            sizes = [len(v.encode("utf-8")) for v in rec.fields or []]
            big = [i for i, n in enumerate(sizes) if n > MAX_FIELD_BYTES]
            if big:
                rec.problem = (
                    f"field {big[0] + 1} is {sizes[big[0]]:,} bytes, over the "
                    f"{MAX_FIELD_BYTES:,}-byte limit"
                )
        return rec

    def _line_problem(self, line: Line, ncols: int) -> str:
        """Why one physical line is not a record, parsed on its own."""
        if line.bad_at is not None:
            return f"not valid {self.encoding} at byte {line.bad_at}"
        feed = _Feed(iter([line]))
        try:
            got = len(next(csv.reader(feed, **self._dialect)))
        except csv.Error as exc:
            return f"not parseable as CSV ({exc})"
        if feed.ran_out:
            return "unterminated quote"
        if got != ncols:
            return f"expected {ncols} columns, got {got}"
        return "malformed record"

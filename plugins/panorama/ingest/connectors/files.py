"""File deliveries in the landing dir: CSV, Excel (xlsx/xls), JSON documents and JSON lines.

CSV and JSON lines are streamed with pyarrow, so memory stays flat in the file size: Arrow
reads up to 32 blocks ahead, so blocks are small and batches are regrouped to ``BATCH_ROWS``.
GBK and GB18030 are decoded to UTF-8 by :class:`~panorama.ingest.connectors.transcode.Utf8Stream`.
A file Arrow does not parse cleanly is read again line by line
(:mod:`panorama.ingest.connectors.lines`): each malformed line is handed out as a
:class:`~panorama.ingest.connectors.BadLine` with its byte offset and raw text, the rest lands.
An xlsx sheet is streamed by :mod:`panorama.ingest.connectors.xlsx` (python-calamine reads xls, and
any sheet that reader declines); a JSON document is parsed whole (deliver JSON lines for big
files).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from panorama.ingest.connectors import (
    BATCH_ROWS,
    BadLine,
    RestartSource,
    Source,
    SourceBatch,
    SourceUnreadable,
    dedupe_names,
    records_to_table,
    to_text,
)
from panorama.ingest.connectors.lines import MAX_FIELD_BYTES, CsvRecords, Line, physical_lines
from panorama.ingest.connectors.transcode import Utf8Stream
from panorama.ingest.feeds import FeedSpec, FormatSpec
from panorama.settings import Settings

log = logging.getLogger(__name__)
CSV_BLOCK_BYTES = 1 << 20  # Arrow keeps up to 32 blocks in flight
JSON_BLOCK_BYTES = 2 << 20  # one record at most; records over it take the Python path
SNIFF_BYTES = 1 << 20
_MAGIC = {
    b"PK\x03\x04": "a zip archive (an xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an xls workbook",
}


def file_sources(feed: FeedSpec, settings: Settings) -> Iterator[Source]:
    """Every file matching the feed's path, in name order, with its content hash and size set
    before it is read: the extract lands a content once (which files a date takes is decided
    there, against the raw zone's bookkeeping; see ``feeds/README.md``, "Landing")."""
    landing = settings.landing_dir
    paths = sorted(p for p in landing.glob(feed.transport.path) if p.is_file())
    for path in paths:
        name = path.relative_to(landing).as_posix()
        fmt = feed.format
        if fmt.type == "csv":
            source: Source = CsvSource(name, path=path, fmt=fmt)
        elif fmt.type == "excel":
            source = ExcelSource(name, path=path, fmt=fmt)
        elif fmt.type == "jsonl":
            source = JsonLinesSource(name, path=path, fmt=fmt)
        else:
            source = JsonSource(name, path=path, fmt=fmt)
        source.size_bytes = path.stat().st_size
        source.sha256 = file_sha256(path)[0]
        yield source


def file_sha256(path: Path, probe: bytes | None = None) -> tuple[str, int]:
    """The file's SHA-256 and how often the byte ``probe`` (e.g. the quote) occurs in it."""
    h = hashlib.sha256()
    found = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            if probe:
                found += chunk.count(probe)
    return h.hexdigest(), found


def detect_encoding(head: bytes) -> str:
    """BOM, then UTF-8 when the sample's non-ASCII characters are (nearly all) valid UTF-8,
    else GB18030 (a superset of GBK). A few damaged bytes in a UTF-8 file are bad lines for the
    reader to quarantine, not a reason to read the whole file as GB18030 mojibake; GBK text
    is almost never valid UTF-8 (about one character in four by chance)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
    except UnicodeDecodeError:
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(head, final=False)
        bad = text.count("\ufffd") - head.count("\ufffd".encode())
        good = sum(1 for c in text if c > "\x7f") - bad
        return "utf-8" if good >= 20 * bad else "gb18030"
    return "utf-8"


def _first_bad_utf8(path: Path) -> tuple[int, str]:
    """Byte offset of the first invalid UTF-8 sequence, and a suggested encoding."""
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            try:
                dec.decode(chunk, final=False)
            except UnicodeDecodeError as exc:
                bad_at = offset + exc.start - len(dec.getstate()[0])
                sample = chunk[exc.start : exc.start + 8192]
                try:
                    codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
                    suggestion = "gbk"
                except UnicodeDecodeError:
                    suggestion = "detect"
                return max(bad_at, 0), suggestion
            offset += len(chunk)
    return offset, "detect"


class _FileSource(Source):
    def __init__(self, name: str, *, path: Path, fmt: FormatSpec) -> None:
        super().__init__(name=name)
        self.path = path
        self.fmt = fmt
        self.keyed_records = fmt.type in ("json", "jsonl")

    _has_quote = 1  # how many quote characters the file holds (0: no value spans lines)

    def _check_not_empty(self) -> bytes:
        self.size_bytes = self.path.stat().st_size
        self.sha256, self._has_quote = file_sha256(self.path, self.fmt.quotechar.encode())
        with self.path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
        if not head.strip():
            raise SourceUnreadable("empty file")
        return head

    def _encoding(self, head: bytes) -> str:
        enc = self.fmt.encoding
        return detect_encoding(head) if enc == "detect" else enc

    def _encoding_error(self, encoding: str, exc: Exception) -> SourceUnreadable:
        if codecs.lookup(encoding).name == "utf-8":
            at, suggestion = _first_bad_utf8(self.path)
            return SourceUnreadable(f"not valid utf-8 at byte {at}; try encoding {suggestion}")
        if isinstance(exc, UnicodeDecodeError):
            return SourceUnreadable(f"not valid {encoding} at byte {exc.start} ({exc.reason})")
        return SourceUnreadable(f"not valid {encoding}: {exc}")


class CsvSource(_FileSource):
    """A CSV file; the header is row ``header_row`` (title rows above it are skipped).

    Read by Arrow while the file parses cleanly; at the first problem (a malformed line, a
    field over the block size, bytes that are not the encoding) the file is read again line by
    line (:mod:`panorama.ingest.connectors.lines`), where each malformed line is handed out as a
    :class:`BadLine` and the rest of the file lands."""

    python_only = False
    _encoding_used: str | None = None

    def _records(self, encoding: str) -> CsvRecords:
        return CsvRecords(
            physical_lines(self.path, encoding),
            self.fmt.delimiter,
            self.fmt.quotechar,
            codecs.lookup(encoding).name,
        )

    def _read_header(self, head: bytes, encoding: str) -> list[str]:
        for magic, what in _MAGIC.items():
            if head.startswith(magic):
                raise SourceUnreadable(f"not a CSV file: looks like {what}")
        rows = []
        for rec in self._records(encoding):
            bad_at = next((ln.bad_at for ln in rec.lines if ln.bad_at is not None), None)
            if bad_at is not None:
                err = UnicodeDecodeError(encoding, b"", bad_at, bad_at + 1, "in the header")
                raise self._encoding_error(encoding, err)
            if rec.fields is None:
                raise SourceUnreadable(f"header row not readable: {rec.problem}")
            if len(rows) + 1 == self.fmt.header_row and len(rec.lines) > 1:
                # a quote left open in the header swallows the lines after it into a name
                raise SourceUnreadable(
                    f"header row spans {len(rec.lines)} lines: a quote in it is not closed"
                )
            rows.append(rec.fields)
            if len(rows) >= self.fmt.header_row:
                break
        if len(rows) < self.fmt.header_row or not any(c.strip() for c in rows[-1]):
            raise SourceUnreadable(f"no header at row {self.fmt.header_row}")
        return dedupe_names(rows[-1])

    def prepare(self) -> None:
        head = self._check_not_empty()
        self._encoding_used = self._encoding(head)
        self.columns = self._read_header(head, self._encoding_used)

    def batches(self) -> Iterator[SourceBatch]:
        if self._encoding_used is None:
            self.prepare()
        encoding = self._encoding_used
        if self._has_quote % 2 and not codecs.lookup(encoding).name.startswith("utf-16"):
            # Quotes come in pairs ("" inside a value too): an odd count means an unterminated
            # or stray quote, which Arrow would take as a value running to the end of the file.
            log.info("%s: read line by line (an odd number of quote characters)", self.name)
            self.python_only = True
        if not self.python_only:
            handed_out = False
            try:
                for batch in self._arrow_batches(encoding):
                    handed_out = True
                    yield batch
                return
            except _FastPathFailed as exc:
                log.info("%s: read line by line (%s)", self.name, exc)
                if handed_out:
                    self.python_only = True
                    raise RestartSource(self.name) from None
        yield from self._line_batches(encoding)

    def _arrow_batches(self, encoding: str) -> Iterator[SourceBatch]:
        """The whole file through Arrow's streaming CSV reader; raises :class:`_FastPathFailed`
        at anything it does not parse cleanly."""

        codec = codecs.lookup(encoding).name
        # Text decoded by Python is valid UTF-8 already; Arrow's own check costs a second a
        # million rows, so it runs only on bytes that no decoder has seen.
        check_utf8 = False
        if codec == "utf-8":
            stream, arrow_encoding, check_utf8 = str(self.path), "utf8", True
        elif codec in ("gbk", "gb18030"):
            stream, arrow_encoding = Utf8Stream(self.path, encoding), "utf8"
        else:
            stream, arrow_encoding = str(self.path), encoding
        reader = None
        try:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(
                    use_threads=False,
                    block_size=CSV_BLOCK_BYTES,
                    skip_rows=self.fmt.header_row,
                    column_names=self.columns,
                    encoding=arrow_encoding,
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=self.fmt.delimiter,
                    quote_char=self.fmt.quotechar,
                    # Without a quote character no value can hold a line break.
                    newlines_in_values=self._has_quote > 0,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types={c: pa.string() for c in self.columns},
                    strings_can_be_null=False,
                    check_utf8=check_utf8,
                ),
            )
            tables = (pa.Table.from_batches([batch]) for batch in reader)
            for table, row in _regrouped(tables):
                _check_field_sizes(table)
                yield SourceBatch(table, row, "csv", self.fmt.delimiter)
        except (pa.ArrowException, UnicodeDecodeError, ValueError) as exc:
            raise _FastPathFailed(_why(exc)) from exc
        finally:
            # The reader's read-ahead may still hold the stream: stop the reader first. The
            # stream itself refuses reads once closed (see transcode.Utf8Stream).
            if reader is not None:
                reader.close()
            if not isinstance(stream, str):
                stream.close()

    def _line_batches(self, encoding: str) -> Iterator[SourceBatch]:
        """The file record by record; malformed records become :class:`BadLine` s."""
        ncols = len(self.columns)
        reject_whole = self.fmt.on_bad_line == "reject_file"
        records = self._records(encoding)
        tally = _Tally()
        header_left = self.fmt.header_row
        out = _BatchBuilder(self.columns, self.fmt.delimiter)
        row = 0
        for rec in records:
            if header_left:
                header_left -= 1
                tally.count(rec.lines)
                continue
            rec = records.check(rec, ncols)  # may give lines back to be read again
            if rec is None:
                continue
            tally.count(rec.lines)
            row += 1
            if rec.problem is None:
                if not reject_whole:
                    out.add(row, rec.fields)
            else:
                if rec.problem.startswith("not valid"):
                    tally.bad_encoding += 1
                why = f"malformed line at byte {rec.offset}: {rec.problem}"
                bad = BadLine(row, why, rec.raw_text)
                tally.first_bad = tally.first_bad or bad
                tally.bad += 1
                if not reject_whole:
                    out.bad(bad)
            if out.full:
                yield out.flush()
        tally.check(self, encoding, row)
        if reject_whole and tally.bad:
            raise SourceUnreadable(tally.reject_reason(), rows_read=row)
        if out.pending:
            yield out.flush()


class _FastPathFailed(Exception):
    """Arrow could not read the file cleanly: it is read line by line instead."""


_ARROW_WHY = re.compile(r"expected \d+ columns, got \d+|straddl\w+|invalid utf-?8", re.IGNORECASE)


def _why(exc: BaseException) -> str:
    """What stopped Arrow, for the log: its messages quote the offending row, which may hold
    personal data, so only the kind of problem is kept."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not {exc.encoding} at byte {exc.start}"
    m = _ARROW_WHY.search(str(exc))
    return m.group() if m else type(exc).__name__


def _check_field_sizes(table: pa.Table) -> None:
    """Arrow takes a value over the block size when it straddles one block boundary only; the
    line-by-line reader quarantines every record with a field over ``MAX_FIELD_BYTES``."""
    for col in table.columns:
        for chunk in col.chunks:
            data = chunk.buffers()[2]
            if data is None or data.size <= MAX_FIELD_BYTES:  # one chunk per block: the rule
                continue
            longest = pc.max(pc.binary_length(chunk)).as_py()
            if longest is not None and longest > MAX_FIELD_BYTES:
                raise _FastPathFailed(f"a field of {longest:,} bytes")


class _Tally:
    """Lines that are not the declared encoding against lines that are (non-ASCII ones)."""

    def __init__(self) -> None:
        self.good_non_ascii = 0
        self.bad_encoding = 0
        self.bad = 0
        self.first_bad: BadLine | None = None
        self.first_bad_at: int | None = None

    def count(self, lines: list[Line]) -> None:
        for ln in lines:
            if ln.bad_at is not None:
                if self.first_bad_at is None:
                    self.first_bad_at = ln.bad_at
            elif ln.non_ascii:
                self.good_non_ascii += 1

    def check(self, source: _FileSource, encoding: str, rows: int) -> None:
        """A file whose non-ASCII lines are mostly not the encoding is in another encoding."""
        if self.first_bad_at is not None and self.bad_encoding > self.good_non_ascii:
            at = self.first_bad_at
            err = UnicodeDecodeError(encoding, b"", at, at + 1, "not the declared encoding")
            exc = source._encoding_error(encoding, err)
            raise SourceUnreadable(exc.reason, rows_read=rows)

    def reject_reason(self) -> str:
        first = self.first_bad
        assert first is not None
        return (
            f"{self.bad} malformed line(s), the first at row {first.row} ({first.reason}); "
            "format.on_bad_line: reject_file takes a file whole or not at all"
        )


class _BatchBuilder:
    """Good rows (with their row numbers) and bad lines, cut into batches of ``BATCH_ROWS``."""

    def __init__(self, columns: list[str], delimiter: str) -> None:
        self.columns = columns
        self.delimiter = delimiter
        self.rows: list[list[str]] = []
        self.numbers: list[int] = []
        self.bad_lines: list[BadLine] = []

    def add(self, row: int, fields: list[str]) -> None:
        self.rows.append(fields)
        self.numbers.append(row)

    def bad(self, line: BadLine) -> None:
        self.bad_lines.append(line)

    @property
    def full(self) -> bool:
        return len(self.rows) + len(self.bad_lines) >= BATCH_ROWS

    @property
    def pending(self) -> bool:
        return bool(self.rows or self.bad_lines)

    def flush(self) -> SourceBatch:
        cols = {
            name: pa.array([r[j] for r in self.rows], pa.string())
            for j, name in enumerate(self.columns)
        }
        numbers = np.array(self.numbers, dtype=np.int64)
        first = int(numbers[0]) if len(numbers) else self.bad_lines[0].row
        batch = SourceBatch(
            pa.table(cols, schema=pa.schema([(c, pa.string()) for c in self.columns])),
            first,
            "csv",
            self.delimiter,
            row_numbers=numbers,
            bad_lines=self.bad_lines,
        )
        self.rows, self.numbers, self.bad_lines = [], [], []
        return batch


def _cells_table(rows, cols, values: pa.Array, names: list[str]) -> pa.Table:
    """Cells (sheet row, 0-based column, text) of whole rows as a table, "" where empty."""
    _, at = np.unique(rows, return_inverse=True)
    n = int(at.max()) + 1
    out = {}
    for j, name in enumerate(names):
        idx = np.full(n, -1, dtype=np.int64)
        m = cols == j
        idx[at[m]] = np.flatnonzero(m)
        taken = values.take(pa.array(idx, mask=idx < 0))
        out[name] = pc.fill_null(taken, "")
    return pa.table(out)


def _cell_columns(rows: list[list], width: int) -> list[list[str | None]]:
    cols: list[list[str | None]] = []
    for col in zip(*rows, strict=True):
        cols.append([v if v.__class__ is str else to_text(v) for v in col])
    return cols[:width]


class ExcelSource(_FileSource):
    """A sheet of an xlsx/xls workbook; fully empty rows are skipped.

    An xlsx sheet is streamed by :mod:`panorama.ingest.connectors.xlsx`; an xls workbook, or a sheet
    using something that reader does not do, is read whole by python-calamine. Both give the
    same columns and text. The header is the ``header_row``-th row from the first row holding a
    value (title rows above it are skipped)."""

    use_calamine = False

    def batches(self) -> Iterator[SourceBatch]:
        head = self._check_not_empty()
        if not self.use_calamine and head.startswith(b"PK\x03\x04"):
            handed_out = False
            try:
                for batch in self._streamed_batches():
                    handed_out = True
                    yield batch
                return
            except SourceUnreadable:
                raise
            except Exception as exc:  # Unsupported, or a damaged workbook: calamine decides
                log.info("%s: read whole by calamine (%s)", self.name, exc)
                if handed_out:
                    self.use_calamine = True
                    raise RestartSource(self.name) from None
        yield from self._calamine_batches()

    def _streamed_batches(self) -> Iterator[SourceBatch]:
        from panorama.ingest.connectors.xlsx import Workbook

        wb = Workbook(self.path)
        try:
            sheet_name = self.fmt.sheet or wb.sheet_names[0]
            if sheet_name not in wb.sheets:
                raise SourceUnreadable(f"sheet {sheet_name!r} not found; sheets: {wb.sheet_names}")
            for table, row in _regrouped(self._data_tables(wb, sheet_name)):
                yield SourceBatch(table, row, "csv", ",")
        finally:
            wb.close()

    def _data_tables(self, wb, sheet_name: str) -> Iterator[pa.Table]:
        """The data rows of the sheet, a table per block of cells; sets the columns."""
        from panorama.ingest.connectors.xlsx import Unsupported

        header_at: int | None = None  # sheet row of the header
        top: list[tuple[int, int, str]] = []  # cells of the title rows and the header
        col0 = -1  # sheet column of the first column
        for block in wb.cells(sheet_name):
            rows, cols, values = block.rows, block.cols, block.values
            if not len(rows):  # rows whose cells are all empty
                continue
            if header_at is None:
                header_at = int(rows[0]) + self.fmt.header_row - 1
            if col0 < 0:
                upto = rows <= header_at
                top += zip(
                    rows[upto].tolist(),
                    cols[upto].tolist(),
                    values.filter(pa.array(upto)).to_pylist(),
                    strict=True,
                )
                if upto.all():
                    continue
                col0 = self._header(top, header_at, sheet_name)
                data = ~upto
                rows, cols, values = rows[data], cols[data], values.filter(pa.array(data))
            cols = cols - col0
            if (cols < 0).any():
                raise Unsupported("a value left of the header's first column")
            if cols.max() >= len(self.columns):
                extra = range(len(self.columns) + 1, int(cols.max()) + 2)
                self.columns = dedupe_names(self.columns + [f"column_{i}" for i in extra])
            yield _cells_table(rows, cols, values, self.columns)
        if col0 < 0:  # no data rows
            self._header(top, header_at, sheet_name)

    def _header(self, top: list[tuple[int, int, str]], header_at: int | None, sheet: str) -> int:
        """Set the columns from the header row's cells; returns the sheet column of the first."""
        cells = [(c, v) for r, c, v in top if r == header_at]
        if not cells:
            raise SourceUnreadable(f"no header at row {self.fmt.header_row} of {sheet!r}")
        col0 = min(c for _, c, _ in top)
        names = [""] * (max(c for c, _ in cells) - col0 + 1)
        for c, v in cells:
            names[c - col0] = v
        while names and not names[-1]:
            names.pop()
        self.columns = dedupe_names(names)
        return col0

    def _calamine_batches(self) -> Iterator[SourceBatch]:
        from python_calamine import CalamineWorkbook

        try:
            wb = CalamineWorkbook.from_path(str(self.path))
        except BaseException as exc:  # calamine raises its own error types per format problem
            _reraise_unless_reader_error(exc)
            raise SourceUnreadable(f"not a readable Excel workbook: {exc}") from exc
        sheet_name = self.fmt.sheet or wb.sheet_names[0]
        if sheet_name not in wb.sheet_names:
            raise SourceUnreadable(f"sheet {sheet_name!r} not found; sheets: {wb.sheet_names}")
        try:
            sheet = wb.get_sheet_by_name(sheet_name)
            rows = sheet.iter_rows()
            header = None
            for i, r in enumerate(rows, start=1):
                if i == self.fmt.header_row:
                    header = r
                    break
        except BaseException as exc:  # corrupt sheet XML surfaces here
            _reraise_unless_reader_error(exc)
            raise SourceUnreadable(f"sheet {sheet_name!r} not readable: {exc}") from exc
        if header is None or not any(to_text(c) for c in header):
            raise SourceUnreadable(f"no header at row {self.fmt.header_row} of {sheet_name!r}")
        names = [to_text(c) or "" for c in header]
        while names and not names[-1]:
            names.pop()
        self.columns = dedupe_names(names)
        width = len(self.columns)
        row_no = 1
        buf: list[list] = []
        for r in rows:
            if len(r) < width:
                r = list(r) + [""] * (width - len(r))
            if len(r) > width and any(c not in ("", None) for c in r[width:]):
                extra = [f"column_{i}" for i in range(width + 1, len(r) + 1)]
                self.columns = dedupe_names(self.columns + extra)
                width = len(self.columns)
            if all(c == "" or c is None for c in r):
                continue
            buf.append(r[:width] if len(r) >= width else list(r) + [""] * (width - len(r)))
            if len(buf) >= BATCH_ROWS:
                yield self._batch(buf, row_no)
                row_no += len(buf)
                buf = []
        if buf:
            yield self._batch(buf, row_no)

    def _batch(self, rows: list[list], first_row: int) -> SourceBatch:
        width = len(self.columns)
        rows = [r if len(r) == width else list(r) + [""] * (width - len(r)) for r in rows]
        cols = _cell_columns(rows, width)
        arrays = [pa.array(c, pa.string()) for c in cols]
        table = pa.table(dict(zip(self.columns, arrays, strict=True)))
        return SourceBatch(table, first_row, "csv", ",")


def _reraise_unless_reader_error(exc: BaseException) -> None:
    """Let an interrupt through; a reader's error, or a panic of a Rust reader (pyo3's
    ``PanicException`` derives from BaseException), means the file cannot be read."""
    if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
        raise exc


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table of blocks whose keys may differ (a key missing in a block is null there)."""
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


def _regrouped(tables: Iterator[pa.Table]) -> Iterator[tuple[pa.Table, int]]:
    """Small blocks (the readers' read-ahead is counted in blocks) as batches of about
    ``BATCH_ROWS`` rows, each with the 1-based number of its first row."""
    row, group, grouped = 1, [], 0
    for table in tables:
        group.append(table)
        grouped += table.num_rows
        if grouped >= BATCH_ROWS:
            yield _concat(group), row
            row, group, grouped = row + grouped, [], 0
    if group:
        yield _concat(group), row


class JsonLinesSource(_FileSource):
    """One JSON object per line. Streamed with pyarrow; if a key changes type between records,
    or anything does not parse (a line that is not JSON, bytes that are not the encoding), the
    file is re-read line by line in Python, where each bad line is handed out as a
    :class:`BadLine` and the rest of the file lands."""

    python_only = False

    def batches(self) -> Iterator[SourceBatch]:
        head = self._check_not_empty()
        encoding = self._encoding(head)
        if self.python_only:
            yield from self._python_batches(encoding)
            return
        rows_done = 0
        try:
            for b in self._arrow_batches(encoding):
                rows_done += b.table.num_rows
                yield b
            return
        except (pa.ArrowException, UnicodeDecodeError, ValueError) as exc:
            log.info("%s: read line by line (%s)", self.name, _why(exc))
            if rows_done:
                # Batches already handed out: the caller discards them and starts over.
                self.python_only = True
                raise RestartSource(self.name) from None
        yield from self._python_batches(encoding)

    def _stream(self, encoding: str) -> pa.NativeFile:
        stream = pa.input_stream(str(self.path))
        if codecs.lookup(encoding).name not in ("utf-8",):
            stream = pa.transcoding_input_stream(stream, encoding, "utf-8")
        return stream

    def _arrow_batches(self, encoding: str) -> Iterator[SourceBatch]:
        ropts = pa_json.ReadOptions(use_threads=False, block_size=JSON_BLOCK_BYTES)
        probe = pa_json.open_json(self._stream(encoding), read_options=ropts)
        schema = probe.schema
        probe.close()  # else its read-ahead lives as long as this generator
        explicit = pa.schema(
            [
                pa.field(f.name, f.type)
                if (
                    pa.types.is_integer(f.type)
                    or pa.types.is_floating(f.type)
                    or pa.types.is_boolean(f.type)
                    or pa.types.is_nested(f.type)
                )
                else pa.field(f.name, pa.string())
                for f in schema
            ]
        )
        reader = pa_json.open_json(
            self._stream(encoding),
            read_options=ropts,
            parse_options=pa_json.ParseOptions(
                explicit_schema=explicit, unexpected_field_behavior="infer"
            ),
        )
        try:
            for table, row in _regrouped(self._string_tables(reader)):
                yield SourceBatch(table, row, "json")
        finally:
            reader.close()

    def _string_tables(self, reader: pa.RecordBatchReader) -> Iterator[pa.Table]:
        """Each block of records with every value as text; new keys join the columns."""
        for batch in reader:
            cols = {}
            for name, col in zip(batch.schema.names, batch.columns, strict=False):
                if col.type == pa.string():
                    cols[name] = col
                elif pa.types.is_nested(col.type) or pa.types.is_null(col.type):
                    cols[name] = pa.array([to_text(v) for v in col.to_pylist()], pa.string())
                else:
                    cols[name] = col.cast(pa.string())
            table = pa.table(cols)
            # Arrow's JSON parser passes bytes that are not UTF-8 through inside strings: found
            # here (ArrowInvalid), the file is read line by line and such a line quarantined.
            table.validate(full=True)
            for name in cols:
                if name not in self.columns:
                    self.columns.append(name)
            yield table

    def _python_batches(self, encoding: str) -> Iterator[SourceBatch]:
        self.columns = []
        reject_whole = self.fmt.on_bad_line == "reject_file"
        tally = _Tally()
        row = 0
        buf: list[dict] = []
        numbers: list[int] = []
        bad_lines: list[BadLine] = []
        for line_no, line in enumerate(physical_lines(self.path, encoding), start=1):
            tally.count([line])
            if not line.text.strip():
                continue
            row += 1
            problem = None
            if line.bad_at is not None:
                tally.bad_encoding += 1
                problem = f"not valid {codecs.lookup(encoding).name} at byte {line.bad_at}"
            else:
                try:
                    rec = json.loads(line.text)
                except json.JSONDecodeError as exc:
                    problem = f"not valid JSON ({exc.msg}, column {exc.colno})"
                else:
                    if not isinstance(rec, dict):
                        problem = "not a JSON object"
            if problem is not None:
                bad = BadLine(
                    row, f"line {line_no} at byte {line.offset}: {problem}", _strip_eol(line.text)
                )
                tally.first_bad = tally.first_bad or bad
                tally.bad += 1
                if not reject_whole:
                    bad_lines.append(bad)
            elif not reject_whole:
                buf.append(rec)
                numbers.append(row)
            if len(buf) + len(bad_lines) >= BATCH_ROWS:
                yield self._records_batch(buf, numbers, bad_lines)
                buf, numbers, bad_lines = [], [], []
        tally.check(self, encoding, row)
        if reject_whole and tally.bad:
            raise SourceUnreadable(tally.reject_reason(), rows_read=row)
        if buf or bad_lines:
            yield self._records_batch(buf, numbers, bad_lines)

    def _records_batch(
        self, records: list[dict], numbers: list[int], bad_lines: list[BadLine]
    ) -> SourceBatch:
        table = records_to_table(records)
        for name in table.column_names:
            if name not in self.columns:
                self.columns.append(name)
        first = numbers[0] if numbers else bad_lines[0].row
        return SourceBatch(
            table,
            first,
            "json",
            row_numbers=np.array(numbers, dtype=np.int64),
            bad_lines=bad_lines,
        )


def _strip_eol(text: str) -> str:
    return text.rstrip("\r\n")


def _dig(doc: object, path: str | None) -> object:
    if not path:
        return doc
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            raise SourceUnreadable(f"records path {path!r} not found (at {key!r})")
        doc = doc[key]
    return doc


class JsonSource(_FileSource):
    """A JSON document: a list of objects, or an object holding one at ``records_path``."""

    def batches(self) -> Iterator[SourceBatch]:
        head = self._check_not_empty()
        encoding = self._encoding(head)
        try:
            doc = json.loads(self.path.read_bytes().decode(encoding))
        except UnicodeDecodeError as exc:
            raise self._encoding_error(encoding, exc) from exc
        except json.JSONDecodeError as exc:
            raise SourceUnreadable(
                f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from exc
        records = _dig(doc, self.fmt.records_path)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SourceUnreadable("expected a list of JSON objects")
        for start in range(0, len(records), BATCH_ROWS):
            table = records_to_table(records[start : start + BATCH_ROWS])
            for name in table.column_names:
                if name not in self.columns:
                    self.columns.append(name)
            yield SourceBatch(table, start + 1, "json")

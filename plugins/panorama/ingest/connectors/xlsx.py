"""A streaming reader for the cells of one xlsx sheet, vectorised with numpy.

python-calamine reads a whole sheet into memory before the first row comes out (about 2 GB
for a million rows of 21 columns). This reader inflates the sheet's XML in blocks, cuts each
block after a ``</row>``, and finds the cells of the block with array operations on its bytes:
memory stays flat in the number of rows and no Python code runs per cell.

Values come out as the text python-calamine plus :func:`panorama.ingest.connectors.to_text` give:
shared and inline strings (XML entities decoded), booleans as ``true``/``false``, numbers
without a spurious ``.0``, and whole-day date serials in date-formatted cells as ISO dates.
Anything outside that (cells without a reference, date cells holding a time of day, the 1904
date system, ISO date cells, ``_xHHHH_`` escapes) raises :class:`Unsupported`, and the caller
reads the sheet with calamine instead. The shared-strings table is held whole, as a compact
Arrow array: a sheet refers to it at random. Large exports from streaming writers (Apache POI's
SXSSF, EasyExcel, xlsxwriter's constant-memory mode) write inline strings and have none.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from panorama.ingest.connectors import to_text

BLOCK_BYTES = 8 << 20
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
# Built-in number formats that show a date (27-36 and 50-58 are the CJK date formats), and
# those that show a time of day or a duration.
_DATE_IDS = {14, 15, 16, 17, 22, *range(27, 37), *range(50, 59)}
_TIME_IDS = {18, 19, 20, 21, 45, 46, 47}
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")

LT, GT, QUOTE, SPACE, SLASH = 60, 62, 34, 32, 47
# Cell types: t="n" (or none), "s", "inlineStr", "str", "b", "e".
T_NUM, T_SHARED, T_INLINE, T_STR, T_BOOL, T_ERR = range(6)
_TYPES = {b"n": T_NUM, b"s": T_SHARED, b"inlineStr": T_INLINE, b"str": T_STR}
_TYPES |= {b"b": T_BOOL, b"e": T_ERR}


class Unsupported(Exception):
    """The sheet uses something this reader does not do; read it with calamine."""


@dataclass
class CellBlock:
    """The non-empty cells of whole rows: 1-based sheet row, 0-based column, text."""

    rows: np.ndarray
    cols: np.ndarray
    values: pa.Array


def _spans_to_strings(buf: bytes, dp: np.ndarray, start: np.ndarray, end: np.ndarray) -> pa.Array:
    """The byte ranges ``[start, end)`` of ``buf`` as a string array (``dp``: ``buf`` as bytes
    with 16 zero bytes after it). Built as Arrow string views into ``buf``, then cast: one copy
    of the value bytes, done by Arrow."""
    n = len(start)
    lengths = (end - start).astype(np.int32)
    views = np.zeros((n, 4), dtype=np.int32)  # length, prefix or inline bytes, buffer, offset
    views[:, 0] = lengths
    raw = views.view(np.uint8)
    window = dp[start[:, None] + np.arange(12)]
    short = lengths <= 12
    window[short] *= np.arange(12)[None, :] < lengths[short, None]
    raw[short, 4:16] = window[short]
    raw[~short, 4:8] = window[~short, :4]
    views[~short, 3] = start[~short]
    arr = pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views), pa.py_buffer(buf)])
    return pc.cast(arr, pa.string())


_XML_SPACE = np.zeros(256, dtype=bool)
_XML_SPACE[[9, 10, 13, SPACE]] = True


def _trim_spans(dp: np.ndarray, start: np.ndarray, end: np.ndarray, on: np.ndarray) -> None:
    """Narrow the spans ``on`` past XML white space at both ends, in place (a ``<t>`` without
    ``xml:space="preserve"`` loses it, as in Excel and calamine)."""
    while True:
        lead = on & (start < end) & _XML_SPACE[dp[start]]
        if not lead.any():
            break
        start[lead] += 1
    while True:
        trail = on & (start < end) & _XML_SPACE[dp[np.maximum(end - 1, 0)]]
        if not trail.any():
            break
        end[trail] -= 1


def _preserved(buf: bytes, tag_start: np.ndarray, tag_end: np.ndarray) -> np.ndarray:
    """Whether each ``<t ...>`` tag asks for its white space to be kept."""
    spans = zip(tag_start.tolist(), tag_end.tolist(), strict=True)
    return np.array([b"preserve" in buf[a:b] for a, b in spans], dtype=bool)


def _digits(dp: np.ndarray, start: np.ndarray, end: np.ndarray, most: int) -> np.ndarray:
    """The decimal numbers written at ``[start, end)``; -1 where that is not 1..most digits."""
    out = np.zeros(len(start), dtype=np.int64)
    width = end - start
    ok = (width >= 1) & (width <= most)
    for k in range(most):
        b = dp[np.minimum(start + k, len(dp) - 1)].astype(np.int64)
        on = k < width
        ok &= ~on | ((b >= 48) & (b <= 57))
        out = np.where(on, out * 10 + (b - 48), out)
    return np.where(ok, out, -1)


def _unescape(values: pa.Array) -> pa.Array:
    """XML character and entity references (values holding ``&``), decoded."""
    has = pc.fill_null(pc.match_substring(values, "&"), False)
    if not pc.any(has).as_py():
        return values
    fixed = [html.unescape(v) for v in pc.filter(values, has).to_pylist()]
    return pc.replace_with_mask(values, has, pa.array(fixed, pa.string()))


def _check_no_escapes(values: pa.Array) -> None:
    maybe = pc.fill_null(pc.match_substring(values, "_x"), False)
    if not pc.any(maybe).as_py():
        return
    found = pc.match_substring_regex(values.filter(maybe), "_x[0-9A-Fa-f]{4}_")
    if pc.any(found).as_py():
        raise Unsupported("_xHHHH_ escapes")


_BAD_AFTER_C = np.zeros(256, dtype=bool)  # "<c>", "<c/>", "<c" + line break or tab
_BAD_AFTER_C[[GT, SLASH, 9, 10, 13]] = True
# Tag kinds, by the bytes after the ``<``.
K_OTHER, K_C, K_V, K_T, K_IS, K_END_T, K_END_C, K_BAD_C = range(8)


class _Tags:
    """Every ``<`` of a block and the kind of tag it opens."""

    def __init__(self, buf: bytes) -> None:
        d = np.frombuffer(buf, dtype=np.uint8)
        self.d = d
        self.dp = np.concatenate((d, np.zeros(16, dtype=np.uint8)))
        self.lt = np.flatnonzero(d == LT)
        lt = self.lt
        b1, b2, b3 = self.dp[lt + 1], self.dp[lt + 2], self.dp[lt + 3]
        self.b1, self.b2, self.b3 = b1, b2, b3
        kind = np.zeros(len(lt) + 8, dtype=np.int8)  # padded: kind[i + k] needs no check
        c, t, slash = b1 == ord("c"), b1 == ord("t"), b1 == ord("/")
        kind[: len(lt)][c & (b2 == SPACE)] = K_C
        kind[: len(lt)][c & _BAD_AFTER_C[b2]] = K_BAD_C
        kind[: len(lt)][(b1 == ord("v")) & (b2 == GT)] = K_V
        kind[: len(lt)][t & ((b2 == GT) | (b2 == SPACE))] = K_T
        kind[: len(lt)][(b1 == ord("i")) & (b2 == ord("s")) & (b3 == GT)] = K_IS
        kind[: len(lt)][slash & (b2 == ord("t")) & (b3 == GT)] = K_END_T
        kind[: len(lt)][slash & (b2 == ord("c")) & (b3 == GT)] = K_END_C
        self.kind = kind
        self.ltp = np.append(lt, [len(d)] * 8)  # padded like ``kind``
        self._gts: np.ndarray | None = None

    def find(self, pattern: bytes) -> np.ndarray:
        """Positions of ``<`` + ``pattern`` (at most 15 bytes)."""
        m = self.b1 == pattern[0]
        if len(pattern) > 1:
            m &= self.b2 == pattern[1]
        if len(pattern) > 2:
            m &= self.b3 == pattern[2]
        at = self.lt[m]
        for k in range(3, len(pattern)):
            at = at[self.dp[at + k + 1] == pattern[k]]
        return at

    def tag_end(self, at: np.ndarray) -> np.ndarray:
        """The ``>`` closing each tag opened at ``at``."""
        if self._gts is None:
            self._gts = np.flatnonzero(self.d == GT)
        return self._gts[np.searchsorted(self._gts, at)]

    def next_lt(self, pos: np.ndarray) -> np.ndarray:
        return self.ltp[np.searchsorted(self.lt, pos)]


def _part(target: str | None) -> str:
    """A relationship target of the workbook as a path in the zip."""
    target = target or ""
    path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return posixpath.normpath(path)


class Workbook:
    """An xlsx workbook opened for streaming one sheet's cells."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path)
        names = set(self.zip.namelist())
        wb = ET.fromstring(self.zip.read("xl/workbook.xml"))
        pr = wb.find("m:workbookPr", _NS)
        self.date1904 = pr is not None and pr.get("date1904") in ("1", "true")
        rels = ET.fromstring(self.zip.read("xl/_rels/workbook.xml.rels"))
        links = rels.findall("rel:Relationship", _NS)
        targets = {r.get("Id"): _part(r.get("Target")) for r in links}
        by_type = {(r.get("Type") or "").rsplit("/", 1)[-1]: _part(r.get("Target")) for r in links}
        self.sheets: dict[str, str] = {
            s.get("name"): targets.get(s.get(f"{{{_NS['r']}}}id"), "")
            for s in wb.findall("m:sheets/m:sheet", _NS)
        }
        self._sst_part = by_type.get("sharedStrings", "xl/sharedStrings.xml")
        self._styles_part = by_type.get("styles", "xl/styles.xml")
        self._names = names
        self._styles: np.ndarray | None = None
        self._sst: pa.Array | None = None

    @property
    def sheet_names(self) -> list[str]:
        return list(self.sheets)

    def close(self) -> None:
        self.zip.close()

    # -- styles: which cell formats show dates ------------------------------------------
    def styles(self) -> np.ndarray:
        """Per cell format index: 0 plain, 1 date, 2 time or duration."""
        if self._styles is None:
            kinds = [0]
            if self._styles_part in self._names:
                st = ET.fromstring(self.zip.read(self._styles_part))
                custom = {
                    int(f.get("numFmtId")): f.get("formatCode") or ""
                    for f in st.findall("m:numFmts/m:numFmt", _NS)
                }
                xfs = st.findall("m:cellXfs/m:xf", _NS)
                kinds = [_format_kind(int(x.get("numFmtId") or 0), custom) for x in xfs] or [0]
            self._styles = np.array(kinds, dtype=np.int8)
        return self._styles

    # -- shared strings ------------------------------------------------------------------
    def shared_strings(self) -> pa.Array:
        if self._sst is None:
            parts: list[pa.Array] = []
            name = self._sst_part
            if name in self._names:
                with self.zip.open(name) as f:
                    for block in _blocks(f, b"</si>"):
                        parts.append(_si_block(block))
            self._sst = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
        return self._sst

    # -- cells ---------------------------------------------------------------------------
    def cells(self, sheet: str) -> Iterator[CellBlock]:
        """The non-empty cells of ``sheet``, a block of whole rows at a time."""
        if self.date1904:
            raise Unsupported("1904 date system")
        styles = self.styles()
        with self.zip.open(self.sheets[sheet]) as f:
            started = False
            for block in _blocks(f, b"</row>"):
                if not started:
                    at = block.find(b"<sheetData")
                    if at < 0:
                        continue
                    block = block[at:]
                    started = True
                cells = self._block_cells(block, styles)
                if cells is not None:
                    yield cells

    def _block_cells(self, buf: bytes, styles: np.ndarray) -> CellBlock | None:
        tags = _Tags(buf)
        d, dp, lt, ltp, kind = tags.d, tags.dp, tags.lt, tags.ltp, tags.kind
        if (kind == K_BAD_C).any():
            raise Unsupported("cell without attributes")
        ci = np.flatnonzero(kind == K_C)  # tag index of each cell
        n = len(ci)
        if not n:
            return None
        starts = lt[ci]
        # The start tag ends just before the next tag, unless there is text between them.
        gt = ltp[ci + 1] - 1
        odd = dp[gt] != GT
        if odd.any():
            gt[odd] = tags.tag_end(starts[odd])
        if (gt < starts).any():
            raise Unsupported("cell start tag not closed")

        # Attributes: the quotes inside each cell's start tag come in pairs.
        quotes = np.flatnonzero(d == QUOTE)
        cell_of_tag = np.full(len(lt) + 1, -1, dtype=np.int64)
        cell_of_tag[ci] = np.arange(n)
        owner = cell_of_tag[np.searchsorted(lt, quotes, side="right") - 1]
        inside = (owner >= 0) & (quotes < gt[owner])
        q, q_cell = quotes[inside], owner[inside]
        if len(q) % 2 or (len(q) and (q_cell[0::2] != q_cell[1::2]).any()):
            raise Unsupported("attribute quotes not understood")
        q_open, q_close, q_cell = q[0::2], q[1::2], q_cell[0::2]
        name = dp[q_open - 2]
        single = (dp[q_open - 1] == ord("=")) & (dp[q_open - 3] == SPACE)

        def attr(letter: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            m = single & (name == ord(letter))
            has = np.zeros(n, dtype=bool)
            lo = np.zeros(n, dtype=np.int64)
            hi = np.zeros(n, dtype=np.int64)
            has[q_cell[m]] = True
            lo[q_cell[m]] = q_open[m] + 1
            hi[q_cell[m]] = q_close[m]
            return has, lo, hi

        has_r, r_lo, r_hi = attr("r")
        if not has_r.all():
            raise Unsupported("cell without a reference")
        letters = np.zeros(n, dtype=np.int64)
        n_letters = np.zeros(n, dtype=np.int64)
        for k in range(3):
            b = dp[r_lo + k].astype(np.int64)
            on = (n_letters == k) & (b >= 65) & (b <= 90)
            letters = np.where(on, letters * 26 + (b - 64), letters)
            n_letters += on
        rows = _digits(dp, r_lo + n_letters, r_hi, 7)
        if (n_letters == 0).any() or (rows < 1).any():
            raise Unsupported("cell reference not understood")
        cols = letters - 1

        has_t, t_lo, t_hi = attr("t")
        ctype = np.full(n, T_NUM, dtype=np.int8)
        if has_t.any():
            t_len = np.where(has_t, t_hi - t_lo, 0)
            first = dp[t_lo]
            for text, code in _TYPES.items():
                m = has_t & (t_len == len(text)) & (first == text[0])
                for k in range(1, len(text)):
                    m &= dp[t_lo + k] == text[k]
                ctype[m] = code
            if ((ctype == T_NUM) & has_t & ~((t_len == 1) & (first == ord("n")))).any():
                raise Unsupported("cell type not understood")
        has_s, s_lo, s_hi = attr("s")
        style = np.where(has_s, _digits(dp, s_lo, s_hi, 6), 0)
        if (style < 0).any():
            raise Unsupported("style index not understood")

        # The value, from the tags after the start tag: <v>..</v> | <is><t>..</t></is> | none.
        closed = dp[gt - 1] == SLASH
        k1, k2, k3 = kind[ci + 1], kind[ci + 2], kind[ci + 3]
        inline = ctype == T_INLINE
        is_v = ~closed & ~inline & (k1 == K_V)
        is_t = ~closed & inline & (k1 == K_IS) & (k2 == K_T) & (k3 == K_END_T)
        empty = closed | (k1 == K_END_C)
        v_start = np.where(is_v, lt[np.minimum(ci + 1, len(lt) - 1)] + 3, gt)
        v_end = np.where(is_v, ltp[ci + 2], gt)
        if is_t.any():
            t_open = lt[ci[is_t] + 2]
            t_gt = np.where(dp[t_open + 2] == GT, t_open + 2, 0)
            long_tag = t_gt == 0
            trim = ~long_tag
            if long_tag.any():
                t_gt[long_tag] = tags.tag_end(t_open[long_tag])
                trim[long_tag] = ~_preserved(buf, t_open[long_tag], t_gt[long_tag])
            t_start, t_end = t_gt + 1, ltp[ci[is_t] + 3]
            _trim_spans(dp, t_start, t_end, trim)
            v_start[is_t] = t_start
            v_end[is_t] = t_end
        other = ~(is_v | is_t | empty)
        if other.any():  # a formula before the value, or rich text
            if (other & inline).any():
                raise Unsupported("rich text in an inline string")
            oi = ci[other]
            v_tags = np.flatnonzero(kind == K_V)
            end_tags = np.flatnonzero(kind == K_END_C)
            cell_end = end_tags[np.minimum(np.searchsorted(end_tags, oi), len(end_tags) - 1)]
            j = (
                v_tags[np.minimum(np.searchsorted(v_tags, oi), len(v_tags) - 1)]
                if len(v_tags)
                else np.full(len(oi), len(lt))
            )
            found = (j < cell_end) & (j > oi) if len(end_tags) else np.zeros(len(oi), bool)
            v_start[other] = np.where(found, lt[np.minimum(j, len(lt) - 1)] + 3, gt[other])
            v_end[other] = np.where(found, ltp[j + 1], gt[other])
        raw = _spans_to_strings(buf, dp, v_start, v_end)
        # Entity references and _xHHHH_ escapes can only be where the block has "&" or "_x".
        values = self._typed(raw, ctype, style, styles, b"&" in buf, b"_x" in buf)
        keep = pc.fill_null(pc.greater(pc.binary_length(values), 0), False).to_numpy(
            zero_copy_only=False
        )
        return CellBlock(rows[keep], cols[keep], values.filter(pa.array(keep)))

    def _typed(
        self,
        raw: pa.Array,
        ctype: np.ndarray,
        style: np.ndarray,
        styles: np.ndarray,
        entities: bool,
        escapes: bool,
    ) -> pa.Array:
        if (style >= len(styles)).any():
            raise Unsupported("style index out of range")
        out = raw
        text = (ctype == T_INLINE) | (ctype == T_STR) | (ctype == T_ERR)
        if text.any() and (entities or escapes):
            if escapes:
                _check_no_escapes(raw.filter(pa.array(text)))
            if entities:
                mask = pa.array(text)
                out = pc.replace_with_mask(out, mask, _unescape(raw.filter(mask)))
        shared = ctype == T_SHARED
        if shared.any():
            sst = self.shared_strings()
            idx = pc.cast(raw.filter(pa.array(shared)), pa.int64())
            if len(idx) and pc.max(idx).as_py() >= len(sst):
                raise Unsupported("shared string index out of range")
            out = pc.replace_with_mask(out, pa.array(shared), sst.take(idx))
        boolean = ctype == T_BOOL
        if boolean.any():
            b = raw.filter(pa.array(boolean))
            out = pc.replace_with_mask(
                out, pa.array(boolean), pc.if_else(pc.equal(b, "1"), "true", "false")
            )
        number = (ctype == T_NUM) & (pc.binary_length(raw).to_numpy(zero_copy_only=False) > 0)
        if number.any():
            kind = styles[style]
            if (number & (kind == 2)).any():
                raise Unsupported("time or duration cells")
            dates = number & (kind == 1)
            plain = number & (kind == 0)
            if plain.any():
                m = pa.array(plain)
                out = pc.replace_with_mask(out, m, _number_text(raw.filter(m)))
            if dates.any():
                m = pa.array(dates)
                out = pc.replace_with_mask(out, m, _date_text(raw.filter(m)))
        return out


def _number_text(raw: pa.Array) -> pa.Array:
    """As ``to_text(float(raw))``: integral values without ``.0``, others in shortest form."""
    integral = pc.match_substring_regex(raw, r"^(0|-?[1-9][0-9]{0,14})$")
    if pc.all(integral).as_py():
        return raw
    values = raw.to_pylist()
    ok = integral.to_pylist()
    out = []
    for v, fast in zip(values, ok, strict=True):
        if fast:
            out.append(v)
            continue
        try:
            out.append(to_text(float(v)))
        except ValueError as exc:
            raise Unsupported(f"number {v!r} not understood") from exc
    return pa.array(out, pa.string())


def _date_text(raw: pa.Array) -> pa.Array:
    """Whole-day serials (Excel's 1900 system, from 1900-03-01) as ISO dates."""
    try:
        serial = pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid as exc:
        raise Unsupported("date cell not a number") from exc
    if np.isnan(serial).any() or (serial != np.floor(serial)).any():
        raise Unsupported("date cells with a time of day")
    if (serial < 61).any() or (serial > 2958465).any():
        raise Unsupported("date serial outside 1900-03-01..9999-12-31")
    days = _EXCEL_EPOCH + serial.astype(np.int64).astype("timedelta64[D]")
    return pa.array(days.astype("datetime64[D]").astype(str), pa.string())


def _format_kind(num_fmt_id: int, custom: dict[int, str]) -> int:
    """0 plain, 1 date, 2 time of day or duration (by the number format)."""
    if num_fmt_id in _DATE_IDS:
        return 1
    if num_fmt_id in _TIME_IDS:
        return 2
    code = custom.get(num_fmt_id)
    if code is None:
        return 0
    code = re.sub(r'"[^"]*"|\\.|_.|\*.', "", code)  # quoted text, escapes, padding
    if re.search(r"\[(h+|m+|s+)\]", code, re.IGNORECASE):
        return 2
    code = re.sub(r"\[[^\]]*\]", "", code).split(";")[0].lower()
    if not re.search(r"[dmyhs]", code):
        return 0
    if re.search(r"[dy]", code) and not re.search(r"[hs]", code):
        return 1
    return 2


def _blocks(f, boundary: bytes) -> Iterator[bytes]:
    """The stream in blocks of about BLOCK_BYTES, each ending just after a ``boundary``."""
    carry = b""
    while True:
        raw = f.read(BLOCK_BYTES)
        if not raw:
            if carry:
                yield carry
            return
        data = carry + raw if carry else raw
        cut = data.rfind(boundary)
        if cut < 0:
            carry = data
            continue
        cut += len(boundary)
        carry = data[cut:]
        yield data[:cut]


def _si_block(buf: bytes) -> pa.Array:
    """The shared strings of a block of whole ``<si>`` items: the text of their ``<t>``
    elements (rich-text runs joined, phonetic ``<rPh>`` runs left out)."""
    tags = _Tags(buf)
    si = np.sort(np.concatenate((tags.find(b"si>"), tags.find(b"si "), tags.find(b"si/"))))
    if not len(si):
        return pa.array([], pa.string())
    t_open = tags.lt[tags.kind[: len(tags.lt)] == K_T]
    t_self = tags.find(b"t/")
    if len(t_self):
        raise Unsupported("empty <t/> in shared strings")
    ph_open, ph_close = tags.find(b"rPh"), tags.find(b"/rPh>")
    if len(ph_open):
        depth = np.searchsorted(ph_open, t_open) - np.searchsorted(ph_close, t_open)
        t_open = t_open[depth == 0]
    t_gt = tags.tag_end(t_open)
    t_start, t_end = t_gt + 1, tags.next_lt(t_gt)
    trim = t_gt == t_open + 2
    if not trim.all():
        trim[~trim] = ~_preserved(buf, t_open[~trim], t_gt[~trim])
    _trim_spans(tags.dp, t_start, t_end, trim)
    texts = _spans_to_strings(buf, tags.dp, t_start, t_end)
    owner = np.searchsorted(si, t_open, side="right") - 1
    if (owner < 0).any():
        raise Unsupported("text outside a shared string")
    # One string per <si>: the lengths of its runs add up; runs are in order, so the joined
    # bytes are the runs' bytes back to back.
    lengths = np.bincount(owner, weights=t_end - t_start, minlength=len(si)).astype(np.int64)
    offsets = np.zeros(len(si) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = texts.buffers()[2]
    joined = pa.Array.from_buffers(
        pa.string(),
        len(si),
        [None, pa.py_buffer(offsets.astype(np.int32)), data or pa.py_buffer(b"")],
    )
    if b"_x" in buf:
        _check_no_escapes(joined)
    return _unescape(joined) if b"&" in buf else joined

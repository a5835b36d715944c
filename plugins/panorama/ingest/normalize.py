"""Vectorised normalisation of delivered values, per canonical column type.

Every function takes an Arrow string array (nulls allowed) and returns a :class:`Normalized`:
the normalised strings and a mask of the values that could not be understood (those rows go
to quarantine with :func:`reason`). Work is done with ``pyarrow.compute`` over whole batches;
only the rare values that need Unicode folding go through Python.

- ``text``: full-width letters, digits, brackets （） and the ideographic space folded to ASCII,
  trimmed; Chinese text and other punctuation kept as delivered. Empty → null. Control
  characters (C0 other than tab, line feed and carriage return, and DEL) are removed and the
  value is marked ``cleaned``: the record keeps the text, the problem is reported.
- ``code``: :func:`panorama.identity.codes.normalize_code` (NFKC, no spaces or hyphens, upper case).
  A code holding a control character is not understood (a corrupted code is never guessed).
- ``date``: ISO ``YYYY-MM-DD`` from ISO input (a time part is dropped), the feed's
  ``date_formats`` and, when ``excel_serial`` is listed, Excel serial day numbers. Years
  before 1900 are not understood; with ``max_date``, a later date is flagged as implausible.
- ``amount``: decimal text in 万元; a cell may carry its own unit (元/万元/万/亿元/亿), which
  wins over the column's unit, thousands separators, a currency sign or full-width digits.
  With an ``amount_range``, a value outside it (negative, above the field's maximum, or a
  bare value in a 万元 column so large that it looks like 元) is flagged as implausible.
- ``int``: decimal integer text (``2023.0`` from a spreadsheet is accepted).

A flagged value is null in ``values``; ``bad`` marks it and ``why`` (when given) says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from panorama.identity.codes import normalize_code
from panorama.ingest.kinds import AmountRange

_NULL = pa.scalar(None, pa.string())

# Full-width ASCII block (！..～) and the ideographic space.
_FOLD_ALL = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}
_FW_ALL = "[\uff01-\uff5e\u3000]"
_FOLD_TEXT = (
    {0xFF10 + i: 0x30 + i for i in range(10)}
    | {0xFF21 + i: 0x41 + i for i in range(26)}
    | {0xFF41 + i: 0x61 + i for i in range(26)}
    | {0xFF08: 0x28, 0xFF09: 0x29, 0x3000: 0x20}
)
_FW_TEXT = "[\uff08\uff09\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]"

EXCEL_SERIAL_MIN = 10_000  # 1927-05-18
EXCEL_SERIAL_MAX = 73_050  # 2099-12-31
_EXCEL_EPOCH_OFFSET = 25_569  # serial of 1970-01-01 (Excel's 1900 system, after the 1900 bug)
YEAR_MIN, YEAR_MAX = 1900, 2100


@dataclass
class Normalized:
    values: pa.Array
    bad: pa.Array | None = None  # boolean; True where a non-empty value was not understood
    why: pa.Array | None = None  # string; the reason where ``bad`` has a specific one
    cleaned: pa.Array | None = None  # boolean; True where a value was kept after a clean-up


# C0 control characters except tab, line feed and carriage return, and DEL.
_CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CONTROL_REASON = "control characters removed"


def _layout(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int64, ``len + 1``) and the data bytes of a string array, without copying."""
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    return offsets.astype(np.int64), data


def _data_bytes(arr: pa.Array) -> bytes:
    """The bytes of all values of a string array (nulls may add stray bytes: use to rule out)."""
    bufs = arr.buffers()
    if len(arr) == 0 or bufs[2] is None:
        return b""
    offsets, _ = _layout(arr)
    return bufs[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()


def _empty_to_null(arr: pa.Array) -> pa.Array:
    offsets, _ = _layout(arr)
    empty = offsets[1:] == offsets[:-1]
    if not empty.any():
        return arr
    return pc.if_else(pc.greater(pc.binary_length(arr), 0), arr, _NULL)


def _third_bytes(codepoints: range | list[int], second: int) -> np.ndarray:
    """Which third bytes complete ``EF <second> ..`` to one of ``codepoints`` (U+FF00 block)."""
    table = np.zeros(256, dtype=bool)
    for cp in codepoints:
        enc = chr(cp).encode()
        if enc[1] == second:
            table[enc[2]] = True
    return table


def _fw_tables(codepoints: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return _third_bytes(codepoints, 0xBC), _third_bytes(codepoints, 0xBD)


_FW_ALL_BYTES = _fw_tables(list(range(0xFF01, 0xFF5F)))
_FW_TEXT_BYTES = _fw_tables([k for k in _FOLD_TEXT if k != 0x3000])


def _has_fullwidth(arr: pa.Array, tables: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether any value may hold a character to fold (a byte scan; no false negatives)."""
    if len(arr) == 0 or arr.buffers()[2] is None:
        return False
    offsets, data = _layout(arr)
    d = data[offsets[0] : offsets[-1]]
    at = np.flatnonzero(d[:-2] == 0xEF)
    second, third = d[at + 1], d[at + 2]
    if ((second == 0xBC) & tables[0][third] | (second == 0xBD) & tables[1][third]).any():
        return True
    at = np.flatnonzero(d[:-2] == 0xE3)
    return bool(((d[at + 1] == 0x80) & (d[at + 2] == 0x80)).any())


def _fold(arr: pa.Array, pattern: str, table: dict[int, int], tables) -> pa.Array:
    """Translate the (rare) values matching ``pattern`` through ``table`` in Python."""
    if not _has_fullwidth(arr, tables):
        return arr
    mask = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    if not pc.any(mask).as_py():
        return arr
    values = [v.translate(table) for v in pc.filter(arr, mask).to_pylist()]
    return pc.replace_with_mask(arr, mask, pa.array(values, pa.string()))


def fold_text(arr: pa.Array) -> pa.Array:
    return _fold(arr, _FW_TEXT, _FOLD_TEXT, _FW_TEXT_BYTES)


def fold_width(arr: pa.Array) -> pa.Array:
    return _fold(arr, _FW_ALL, _FOLD_ALL, _FW_ALL_BYTES)


# What ``utf8_trim_whitespace`` removes (found by running it over every code point).
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_WS_ASCII = np.zeros(256, dtype=bool)
_WS_ASCII[[ord(c) for c in _WHITESPACE if ord(c) < 0x80]] = True
_WS_WIDE = np.array(
    sorted(
        int.from_bytes(c.encode().rjust(3, b"\0"), "big") for c in _WHITESPACE if ord(c) >= 0x80
    ),
    dtype=np.int64,
)


def _needs_trim(arr: pa.Array) -> bool:
    """Whether any value starts or ends with whitespace (a byte scan of both ends)."""
    if len(arr) == 0 or arr.buffers()[2] is None:
        return False
    offsets, data = _layout(arr)
    lengths = offsets[1:] - offsets[:-1]
    starts, ends = offsets[:-1][lengths > 0], offsets[1:][lengths > 0]
    if starts.size == 0:
        return False
    if _WS_ASCII[data[starts]].any() or _WS_ASCII[data[ends - 1]].any():
        return True
    last = len(data) - 1

    def at(i: np.ndarray) -> np.ndarray:  # clipped reads can only add false alarms
        return data[np.clip(i, 0, last)].astype(np.int64)

    h0, h1, h2 = at(starts), at(starts + 1), at(starts + 2)
    t3, t2, t1 = at(ends - 3), at(ends - 2), at(ends - 1)
    keys = (h0 << 8 | h1, h0 << 16 | h1 << 8 | h2, t2 << 8 | t1, t3 << 16 | t2 << 8 | t1)
    return any(np.isin(k, _WS_WIDE).any() for k in keys)


_ALLOWED_C0 = np.array([0x09, 0x0A, 0x0D], dtype=np.uint8)


def _has_control(arr: pa.Array) -> bool:
    """Whether any value may hold a control character (a byte scan; no false negatives)."""
    if len(arr) == 0 or arr.buffers()[2] is None:
        return False
    offsets, data = _layout(arr)
    d = data[offsets[0] : offsets[-1]]
    # In cache-sized chunks: far faster than whole-column temporaries.
    chunk = 1 << 16
    buf = np.empty(chunk, dtype=bool)
    for start in range(0, len(d), chunk):
        part = d[start : start + chunk]
        hit = buf[: len(part)]
        np.less(part, 0x20, out=hit)
        if hit.any() and not np.isin(part[hit], _ALLOWED_C0).all():
            return True
        np.equal(part, 0x7F, out=hit)
        if hit.any():
            return True
    return False


def _control_mask(arr: pa.Array) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(arr, _CONTROL_RE), False)


def normalize_text(arr: pa.Array) -> Normalized:
    cleaned = None
    if _has_control(arr):
        cleaned = _control_mask(arr)
        if pc.any(cleaned).as_py():
            arr = pc.replace_substring_regex(arr, _CONTROL_RE, "")
        else:
            cleaned = None
    arr = fold_text(arr)
    if _needs_trim(arr):
        arr = pc.utf8_trim_whitespace(arr)
    return Normalized(_empty_to_null(arr), cleaned=cleaned)


_CODE_DROP = b"\t\n\x0b\f\r \x1c\x1d\x1e\x1f-"
_LOWER = bytes(range(ord("a"), ord("z") + 1))


def normalize_codes(arr: pa.Array) -> Normalized:
    """Same result as :func:`normalize_code` per value; ASCII values are done vectorised."""
    data = _data_bytes(arr)
    out = arr
    if len(data.translate(None, _CODE_DROP)) != len(data):
        out = pc.replace_substring_regex(out, r"[\t\n\x0b\f\r \x1c-\x1f-]+", "")
    if len(data.translate(None, _LOWER)) != len(data):
        out = pc.ascii_upper(out)
    non_ascii = pc.fill_null(pc.invert(pc.string_is_ascii(arr)), False)
    if pc.any(non_ascii).as_py():
        slow = [normalize_code(v) or "" for v in pc.filter(arr, non_ascii).to_pylist()]
        out = pc.replace_with_mask(out, non_ascii, pa.array(slow, pa.string()))
    if _has_control(arr):
        bad = _control_mask(arr)
        if pc.any(bad).as_py():
            why = pc.if_else(bad, pa.scalar("control characters in a code"), _NULL)
            return Normalized(pc.if_else(bad, _NULL, _empty_to_null(out)), bad, why)
    return Normalized(_empty_to_null(out))


_TIME_SUFFIX = r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"


@lru_cache(maxsize=64)
def _format_regex(fmt: str) -> str:
    """A strptime format (``%Y %m %d``, time parts ignored) as an anchored RE2 pattern."""
    parts = re.split(r"(%[YmdHMS])", fmt)
    out = []
    for part in parts:
        if part == "%Y":
            out.append(r"(?P<Y>\d{4})")
        elif part == "%m":
            out.append(r"(?P<m>\d{1,2})")
        elif part == "%d":
            out.append(r"(?P<d>\d{1,2})")
        elif part in ("%H", "%M", "%S"):
            out.append(r"\d{1,2}")
        else:
            out.append(re.escape(part))
    return "^" + "".join(out) + "$"


def _iso_candidate(arr: pa.Array, fmt: str) -> pa.Array:
    parts = pc.extract_regex(arr, _format_regex(fmt))
    y = pc.struct_field(parts, "Y")
    m = pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0")
    d = pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0")
    return pc.binary_join_element_wise(y, m, d, "-")


def _on_rest(
    arr: pa.Array, done: pa.Array, fast: pa.Array, slow_fn
) -> tuple[pa.Array, pa.Array | None]:
    """``fast`` where ``done``; elsewhere ``slow_fn`` applied to just those values.

    ``slow_fn`` returns (values, bad) for its subset; the result is scattered back."""
    done = pc.fill_null(done, False)
    rest = pc.invert(done)
    if not pc.any(rest).as_py():
        return fast, None
    values, bad = slow_fn(pc.filter(arr, rest))
    out = pc.replace_with_mask(pc.if_else(done, fast, _NULL), rest, values)
    full_bad = pc.replace_with_mask(pa.array([False] * len(arr), pa.bool_()), rest, bad)
    return out, full_bad


_DIM = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@lru_cache(maxsize=64)
def _templates(date_formats: tuple[str, ...]) -> list[tuple[np.ndarray, dict[str, int]]]:
    """Fixed-width byte templates of the date formats (ISO first), for the numpy fast path.

    ``%Y%m%d`` with zero-padded fields becomes e.g. ``YYYY/MM/DD``: a byte mask of the literal
    bytes and the position of each field. A format is left to the slow path when its literal
    bytes could be changed by the slow path's clean-up (digits, spaces, colons, full width) or
    an earlier format has the same literals (the earlier one must win, as in the slow path)."""
    out: list[tuple[np.ndarray, dict[str, int]]] = []
    seen_literals: set[bytes] = set()
    for fmt in dict.fromkeys(["%Y-%m-%d", *[f for f in date_formats if f != "excel_serial"]]):
        parts = re.split(r"(%[A-Za-z%])", fmt)
        fields = [p for p in parts if p.startswith("%") and len(p) == 2]
        literal = "".join(p for p in parts if not (p.startswith("%") and len(p) == 2))
        if sorted(fields) != ["%Y", "%d", "%m"] or re.search(
            r"[\d\s:\uff01-\uff5e\u3000]", literal
        ):
            continue
        lit_bytes = literal.encode()
        if lit_bytes in seen_literals:
            continue
        seen_literals.add(lit_bytes)
        template = bytearray()
        pos: dict[str, int] = {}
        for p in parts:
            if p in fields:
                pos[p[1]] = len(template)
                template += b"\x00" * (4 if p == "%Y" else 2)
            else:
                template += p.encode()
        out.append((np.frombuffer(bytes(template), dtype=np.uint8), pos))
    return out


def _dates_fast(arr: pa.Array, date_formats: tuple[str, ...]) -> tuple[pa.Array, np.ndarray]:
    """Values exactly in one of the formats with zero-padded fields, parsed in numpy.

    Returns the ISO dates (null elsewhere) and the mask of rows done (valid date or empty)."""
    n = len(arr)
    offsets, data = _layout(arr)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    valid = np.ones(n, dtype=bool) if arr.null_count == 0 else pc.is_valid(arr).to_numpy(False)
    done = (lengths == 0) | ~valid
    ok = np.zeros(n, dtype=bool)
    iso = np.zeros((n, 10), dtype=np.uint8)
    for template, pos in _templates(date_formats):
        width = len(template)
        rows = np.flatnonzero((lengths == width) & ~done)
        if rows.size == 0:
            continue
        block = data[starts[rows, None] + np.arange(width)]
        digit_at = template == 0
        digits = block.astype(np.int16) - 48
        shape = ((block == template) | digit_at).all(axis=1)
        shape &= ((digits >= 0) & (digits <= 9) | ~digit_at).all(axis=1)
        rows, block, digits = rows[shape], block[shape], digits[shape]
        yi, mi, di = pos["Y"], pos["m"], pos["d"]
        y = digits[:, yi] * 1000 + digits[:, yi + 1] * 100 + digits[:, yi + 2] * 10
        y = y + digits[:, yi + 3]
        m = digits[:, mi] * 10 + digits[:, mi + 1]
        d = digits[:, di] * 10 + digits[:, di + 1]
        leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
        dim = _DIM[np.clip(m, 0, 12)] + ((m == 2) & leap)
        good = (y >= YEAR_MIN) & (y <= YEAR_MAX) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= dim)
        # Shaped like this format but not a date: the slow path decides (and flags it).
        done[rows] = True
        done[rows[~good]] = False
        rows, block = rows[good], block[good]
        ok[rows] = True
        cols = [yi, yi + 1, yi + 2, yi + 3, None, mi, mi + 1, None, di, di + 1]
        for j, c in enumerate(cols):
            iso[rows, j] = 0x2D if c is None else block[:, c]
    bitmap = pa.py_buffer(np.packbits(ok, bitorder="little"))
    offs = pa.py_buffer(np.arange(0, 10 * n + 1, 10, dtype=np.int32))
    values = pa.Array.from_buffers(pa.string(), n, [bitmap, offs, pa.py_buffer(iso)])
    return values, done


def normalize_dates(
    arr: pa.Array, date_formats: list[str] | tuple[str, ...], max_date: str | None = None
) -> Normalized:
    """Values exactly in a listed format (zero-padded) are parsed in numpy; the rest (other
    widths, time parts, spaces, full-width digits, Excel serials) take the slow path.

    ``max_date`` (ISO): a later date is implausible and flagged like a value not understood."""
    fast, done = _dates_fast(arr, tuple(date_formats))
    # Blank (whitespace-only) values are null, not bad: the slow path sees them trimmed.
    values, bad = _on_rest(arr, pa.array(done), fast, lambda a: _dates_slow(a, date_formats))
    why = None
    if bad is not None and pc.any(bad).as_py():
        early = pc.and_(bad, pc.fill_null(pc.match_substring_regex(arr, _EARLY_YEAR), False))
        if pc.any(early).as_py():
            why = pc.if_else(early, pa.scalar("date before 1900"), _NULL)
    if max_date is not None:
        late = pc.fill_null(pc.greater(values, pa.scalar(max_date)), False)
        if pc.any(late).as_py():
            late_why = pa.scalar(f"date after {max_date}, too far after the logical date")
            why = pc.if_else(late, late_why, why if why is not None else _NULL)
            values = pc.if_else(late, _NULL, values)
            bad = late if bad is None else pc.or_(bad, late)
    return Normalized(values, bad, why)


_EARLY_YEAR = r"^\s*1[0-8]\d{2}\D"


def _dates_slow(arr: pa.Array, date_formats) -> tuple[pa.Array, pa.Array]:
    src = _empty_to_null(pc.utf8_trim_whitespace(fold_width(arr)))
    src = pc.replace_substring_regex(src, _TIME_SUFFIX, "")
    formats = ["%Y-%m-%d", *[f for f in date_formats if f != "excel_serial"]]
    cand = None
    for fmt in dict.fromkeys(formats):
        c = _iso_candidate(src, fmt)
        cand = c if cand is None else pc.coalesce(cand, c)
    parsed = pc.strptime(cand, format="%Y-%m-%d", unit="s", error_is_null=True)
    year = pc.year(parsed)
    # strptime rolls 2024-02-30 over to 2024-03-01: keep only dates that format back unchanged.
    valid = pc.and_(
        pc.equal(pc.cast(pc.cast(parsed, pa.date32()), pa.string()), cand),
        pc.and_(pc.greater_equal(year, YEAR_MIN), pc.less_equal(year, YEAR_MAX)),
    )
    out = pc.if_else(pc.fill_null(valid, False), cand, _NULL)
    if "excel_serial" in date_formats:
        serial_mask = pc.fill_null(pc.match_substring_regex(src, r"^\d{5}(\.\d+)?$"), False)
        if pc.any(serial_mask).as_py():
            digits = pc.if_else(serial_mask, pc.replace_substring_regex(src, r"\..*$", ""), _NULL)
            whole = pc.cast(digits, pa.int64())
            plausible = pc.and_(
                pc.greater_equal(whole, EXCEL_SERIAL_MIN), pc.less_equal(whole, EXCEL_SERIAL_MAX)
            )
            days = pc.cast(pc.subtract(whole, _EXCEL_EPOCH_OFFSET), pa.int32())
            as_date = pc.cast(pc.cast(days, pa.date32()), pa.string())
            use = pc.fill_null(pc.and_(serial_mask, plausible), False)
            out = pc.if_else(pc.and_(use, pc.is_null(out)), as_date, out)
    bad = pc.and_(pc.is_valid(src), pc.is_null(out))
    return out, bad


_AMOUNT = r"^(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?(?P<unit>万元|万|亿元|亿|元)?$"
_UNIT_OF = {"万": "万元", "亿": "亿元"}


_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[0x30:0x3A] = True


def _amounts_fast(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Plain decimals (``12``, ``0.50``, ``3.``) made canonical in numpy: spare zeros at the
    end of the fraction and a bare point are dropped. Returns the values (null elsewhere) and
    the mask of rows done (canonical or empty); anything else takes the slow path."""
    n = len(arr)
    offsets, data = _layout(arr)
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    valid = np.ones(n, dtype=bool) if arr.null_count == 0 else pc.is_valid(arr).to_numpy(False)
    lo, hi = int(offsets[0]), int(offsets[-1])
    d = data[lo:hi]
    rel = starts - lo
    nonempty = (lengths > 0) & valid
    # Per value: count of bytes that are not digits, count of points, position of the point.
    other = np.concatenate(([0], np.cumsum(~_DIGIT[d] & (d != 0x2E))))
    points = np.concatenate(([0], np.cumsum(d == 0x2E)))
    n_other = other[rel + lengths] - other[rel]
    n_points = points[rel + lengths] - points[rel]
    first = d[np.clip(rel, 0, max(len(d) - 1, 0))] if len(d) else np.zeros(n, np.uint8)
    second = d[np.clip(rel + 1, 0, max(len(d) - 1, 0))] if len(d) else np.zeros(n, np.uint8)
    plain = nonempty & (n_other == 0) & (n_points <= 1) & _DIGIT[first]
    # No leading zero on the integer part ("0" and "0.x" are fine).
    plain &= ~((first == 0x30) & (lengths > 1) & (second != 0x2E))
    if not plain.any():
        return pa.nulls(n, pa.string()), ~nonempty
    # New end of each value: after its last byte that is not a '0', and before a bare point.
    not_zero = np.where(d != 0x30, np.arange(len(d)), -1)
    last_nz = np.maximum.accumulate(not_zero) if len(d) else not_zero
    end = rel + lengths
    new_end = end.copy()
    dotted = plain & (n_points == 1)
    lnz = last_nz[np.clip(end - 1, 0, None)]
    new_end[dotted] = lnz[dotted] + 1
    bare = dotted & (d[np.clip(new_end - 1, 0, None)] == 0x2E)
    new_end[bare] -= 1
    new_len = np.where(plain, new_end - rel, 0)
    keep = np.zeros(len(d) + 1, dtype=np.int32)
    # Values do not overlap, so each index list is free of repeats and ``+=`` is exact.
    keep[rel[plain]] += 1
    keep[new_end[plain]] -= 1
    out = d[np.cumsum(keep[:-1]) > 0]
    offs = np.concatenate(([0], np.cumsum(new_len))).astype(np.int32)
    bitmap = pa.py_buffer(np.packbits(plain, bitorder="little"))
    values = pa.Array.from_buffers(
        pa.string(), n, [bitmap, pa.py_buffer(offs), pa.py_buffer(out.tobytes())]
    )
    return values, plain | ~nonempty


def normalize_amounts(
    arr: pa.Array, unit: str = "万元", amount_range: AmountRange | None = None
) -> Normalized:
    """Amounts as decimal text in 万元 (exact: the decimal point is moved, never rounded).

    Values already canonical (plain decimals in 万元 without spare zeros) skip the work.
    With ``amount_range``, implausible values are flagged (see :func:`_implausible`)."""
    if unit == "万元":
        fast, done = _amounts_fast(arr)
        values, bad = _on_rest(arr, pa.array(done), fast, lambda a: _amounts_slow(a, unit))
    else:
        values, bad = _amounts_slow(arr, unit)
    if amount_range is None:
        return Normalized(values, bad)
    flagged = _implausible(arr, values, unit, amount_range)
    if flagged is None:
        return Normalized(values, bad)
    rows, reasons = flagged
    n = len(arr)
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    why_list: list[str | None] = [None] * n
    for r, text in zip(rows.tolist(), reasons, strict=True):
        why_list[r] = text
    flag = pa.array(mask)
    values = pc.if_else(flag, _NULL, values)
    bad = flag if bad is None else pc.or_(pc.fill_null(bad, False), flag)
    return Normalized(values, bad, pa.array(why_list, pa.string()))


def _implausible(
    arr: pa.Array, values: pa.Array, unit: str, rng: AmountRange
) -> tuple[np.ndarray, list[str]] | None:
    """Rows whose amount (in 万元) is outside ``rng``, with the reason of each."""
    num = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        low = num < rng.min if rng.min is not None else np.zeros(len(num), bool)
        high = num > rng.max if rng.max is not None else np.zeros(len(num), bool)
        bare = np.zeros(len(num), bool)
        if rng.bare_max is not None and unit == "万元":
            bare = num >= rng.bare_max
    rows = np.flatnonzero(low | high | bare)
    if rows.size == 0:
        return None
    raw = pc.take(arr, pa.array(rows)).to_pylist()
    out_rows, reasons = [], []
    for r, text in zip(rows.tolist(), raw, strict=True):
        has_unit = text is not None and any(u in text for u in "元万亿")
        if low[r]:
            why = "negative amount" if rng.min == 0 else f"amount below {rng.min:g} 万元"
        elif high[r]:
            why = f"amount above the plausible maximum of {rng.max:g} 万元 for this field"
        elif not has_unit:
            why = f"amount >= {rng.bare_max:g} without a unit in a 万元 column looks like 元"
        else:
            continue
        out_rows.append(r)
        reasons.append(why)
    if not out_rows:
        return None
    return np.array(out_rows, dtype=np.int64), reasons


def _amounts_slow(arr: pa.Array, unit: str) -> tuple[pa.Array, pa.Array]:
    src = _empty_to_null(pc.utf8_trim_whitespace(fold_width(arr)))
    cleaned = pc.replace_substring_regex(src, r"[,\s，¥￥]|人民币", "")
    parts = pc.extract_regex(cleaned, _AMOUNT)
    sign = pc.struct_field(parts, "sign")
    ipart = pc.struct_field(parts, "int")
    frac = pc.struct_field(parts, "frac")
    cell_unit = pc.struct_field(parts, "unit")
    has_digits = pc.greater(pc.add(pc.utf8_length(ipart), pc.utf8_length(frac)), 0)
    # A unit written in the cell wins over the column's.
    eff_unit = pc.if_else(pc.equal(cell_unit, ""), unit, cell_unit)
    for short, full in _UNIT_OF.items():
        eff_unit = pc.if_else(pc.equal(eff_unit, short), full, eff_unit)
    in_yuan = pc.equal(eff_unit, "元")
    in_yi = pc.equal(eff_unit, "亿元")
    # 元 -> 万元: move the decimal point four places left.
    padded = pc.utf8_lpad(ipart, 5, "0")
    y_int = pc.utf8_slice_codeunits(padded, 0, -4)
    y_frac = pc.binary_join_element_wise(pc.utf8_slice_codeunits(padded, -4), frac, "")
    # 亿元 -> 万元: move it four places right.
    fpad = pc.utf8_rpad(frac, 4, "0")
    e_int = pc.binary_join_element_wise(ipart, pc.utf8_slice_codeunits(fpad, 0, 4), "")
    e_frac = pc.utf8_slice_codeunits(fpad, 4)
    ipart, frac = pc.if_else(in_yuan, y_int, ipart), pc.if_else(in_yuan, y_frac, frac)
    ipart, frac = pc.if_else(in_yi, e_int, ipart), pc.if_else(in_yi, e_frac, frac)
    ipart = pc.replace_substring_regex(ipart, r"^0+", "")
    ipart = pc.if_else(pc.equal(ipart, ""), "0", ipart)
    frac = pc.replace_substring_regex(frac, r"0+$", "")
    sign = pc.if_else(pc.equal(sign, "-"), "-", "")
    number = pc.if_else(pc.equal(frac, ""), ipart, pc.binary_join_element_wise(ipart, frac, "."))
    sign = pc.if_else(pc.equal(number, "0"), "", sign)
    out = pc.binary_join_element_wise(sign, number, "")
    out = pc.if_else(pc.fill_null(has_digits, False), out, _NULL)
    bad = pc.and_(pc.is_valid(src), pc.is_null(out))
    return out, bad


def normalize_ints(arr: pa.Array) -> Normalized:
    src = _empty_to_null(pc.utf8_trim_whitespace(fold_width(arr)))
    cleaned = pc.replace_substring_regex(src, r"[,\s]", "")
    ok = pc.fill_null(pc.match_substring_regex(cleaned, r"^[+-]?\d+(\.0+)?$"), False)
    out = pc.if_else(ok, pc.replace_substring_regex(cleaned, r"\.0+$|^\+", ""), _NULL)
    bad = pc.and_(pc.is_valid(src), pc.is_null(out))
    return Normalized(out, bad)


def normalize(
    arr: pa.Array,
    ftype: str,
    *,
    date_formats: list[str] | tuple[str, ...] = ("%Y-%m-%d",),
    unit: str = "万元",
    amount_range: AmountRange | None = None,
    max_date: str | None = None,
) -> Normalized:
    """Normalise one column of a batch according to its canonical type.

    ``amount_range`` (amounts) and ``max_date`` (dates) turn on the plausibility checks."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    if ftype == "text":
        return normalize_text(arr)
    if ftype == "code":
        return normalize_codes(arr)
    if ftype == "date":
        return normalize_dates(arr, date_formats, max_date)
    if ftype == "amount":
        return normalize_amounts(arr, unit, amount_range)
    if ftype == "int":
        return normalize_ints(arr)
    raise ValueError(f"unknown column type {ftype!r}")


_LABEL = {"date": "date", "amount": "amount", "int": "integer", "code": "code", "text": "text"}


def reason(ftype: str, value: str | None, *, pii: bool = False, why: str | None = None) -> str:
    """Why ``value`` was rejected (``why``, or: not understood); personal data is described,
    never echoed, and neither are control characters."""
    what = why or f"{_LABEL[ftype]} not understood"
    if pii:
        return f"{what} (personal data, {len(value or '')} characters)"
    if value is not None:
        value = re.sub(_CONTROL_RE, "\ufffd", value)
    shown = value if value is None or len(value) <= 60 else value[:57] + "..."
    return f"{what}: {shown!r}"


def bad_indices(bad: pa.Array | None) -> np.ndarray:
    if bad is None:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False))

"""Vectorised normalisation of delivered values, per canonical column type.

Every function takes an Arrow string array (nulls allowed) and returns a :class:`Normalized`:
the normalised strings and a mask of the values that could not be understood (those rows go
to quarantine with :func:`reason`). Work is done with ``pyarrow.compute`` over whole batches;
only the rare values that need Unicode folding go through Python.

- ``text``: full-width letters, digits, brackets （） and the ideographic space folded to ASCII,
  trimmed; Chinese text and other punctuation kept as delivered. Empty → null.
- ``code``: :func:`panorama.identity.normalize_code` (NFKC, no spaces or hyphens, upper case).
- ``date``: ISO ``YYYY-MM-DD`` from ISO input (a time part is dropped), the feed's
  ``date_formats`` and, when ``excel_serial`` is listed, Excel serial day numbers.
- ``amount``: decimal text in 万元; a cell may carry its own unit (元/万元/万), thousands
  separators, a currency sign or full-width digits.
- ``int``: decimal integer text (``2023.0`` from a spreadsheet is accepted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from panorama.identity import normalize_code

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


def _empty_to_null(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.greater(pc.binary_length(arr), 0), arr, _NULL)


def _blank(arr: pa.Array) -> pa.Array:
    return pc.fill_null(pc.equal(pc.binary_length(arr), 0), True)


def _fold(arr: pa.Array, pattern: str, table: dict[int, int]) -> pa.Array:
    """Translate the (rare) values matching ``pattern`` through ``table`` in Python."""
    mask = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    if not pc.any(mask).as_py():
        return arr
    values = [v.translate(table) for v in pc.filter(arr, mask).to_pylist()]
    return pc.replace_with_mask(arr, mask, pa.array(values, pa.string()))


def fold_text(arr: pa.Array) -> pa.Array:
    return _fold(arr, _FW_TEXT, _FOLD_TEXT)


def fold_width(arr: pa.Array) -> pa.Array:
    return _fold(arr, _FW_ALL, _FOLD_ALL)


def normalize_text(arr: pa.Array) -> Normalized:
    return Normalized(_empty_to_null(pc.utf8_trim_whitespace(fold_text(arr))))


def normalize_codes(arr: pa.Array) -> Normalized:
    """Same result as :func:`normalize_code` per value; ASCII values are done vectorised."""
    out = pc.ascii_upper(pc.replace_substring_regex(arr, r"[\t\n\x0b\f\r \x1c-\x1f-]+", ""))
    non_ascii = pc.fill_null(pc.invert(pc.string_is_ascii(arr)), False)
    if pc.any(non_ascii).as_py():
        slow = [normalize_code(v) or "" for v in pc.filter(arr, non_ascii).to_pylist()]
        out = pc.replace_with_mask(out, non_ascii, pa.array(slow, pa.string()))
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


def normalize_dates(arr: pa.Array, date_formats: list[str] | tuple[str, ...]) -> Normalized:
    """Values already in strict ISO form skip the format search."""
    iso = pc.match_substring_regex(arr, r"^\d{4}-\d{2}-\d{2}$")
    parsed = pc.strptime(
        pc.if_else(iso, arr, _NULL), format="%Y-%m-%d", unit="s", error_is_null=True
    )
    ok = pc.and_(iso, pc.equal(pc.cast(pc.cast(parsed, pa.date32()), pa.string()), arr))
    year = pc.year(parsed)
    ok = pc.and_(ok, pc.and_(pc.greater_equal(year, YEAR_MIN), pc.less_equal(year, YEAR_MAX)))
    done = pc.or_(pc.fill_null(ok, False), _blank(arr))
    values, bad = _on_rest(
        arr, done, pc.if_else(ok, arr, _NULL), lambda a: _dates_slow(a, date_formats)
    )
    return Normalized(values, bad)


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


_AMOUNT = r"^(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?(?P<unit>万元|万|元)?$"


def normalize_amounts(arr: pa.Array, unit: str = "万元") -> Normalized:
    """Amounts as decimal text in 万元 (exact: the decimal point is moved, never rounded).

    Values already canonical (plain decimals in 万元 without spare zeros) skip the work."""
    if unit == "万元":
        canonical = pc.match_substring_regex(arr, r"^(0|[1-9]\d*)(\.\d*[1-9])?$")
        done = pc.or_(pc.fill_null(canonical, False), _blank(arr))
        fast = pc.if_else(canonical, arr, _NULL)
        values, bad = _on_rest(arr, done, fast, lambda a: _amounts_slow(a, unit))
        return Normalized(values, bad)
    values, bad = _amounts_slow(arr, unit)
    return Normalized(values, bad)


def _amounts_slow(arr: pa.Array, unit: str) -> tuple[pa.Array, pa.Array]:
    src = _empty_to_null(pc.utf8_trim_whitespace(fold_width(arr)))
    cleaned = pc.replace_substring_regex(src, r"[,\s，¥￥]|人民币", "")
    parts = pc.extract_regex(cleaned, _AMOUNT)
    sign = pc.struct_field(parts, "sign")
    ipart = pc.struct_field(parts, "int")
    frac = pc.struct_field(parts, "frac")
    cell_unit = pc.struct_field(parts, "unit")
    has_digits = pc.greater(pc.add(pc.utf8_length(ipart), pc.utf8_length(frac)), 0)
    in_yuan = pc.equal(pc.if_else(pc.equal(cell_unit, ""), unit, cell_unit), "元")
    # 元 -> 万元: move the decimal point four places left.
    padded = pc.utf8_lpad(ipart, 5, "0")
    y_int = pc.utf8_slice_codeunits(padded, 0, -4)
    y_frac = pc.binary_join_element_wise(pc.utf8_slice_codeunits(padded, -4), frac, "")
    ipart = pc.if_else(in_yuan, y_int, ipart)
    frac = pc.if_else(in_yuan, y_frac, frac)
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
) -> Normalized:
    """Normalise one column of a batch according to its canonical type."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    if ftype == "text":
        return normalize_text(arr)
    if ftype == "code":
        return normalize_codes(arr)
    if ftype == "date":
        return normalize_dates(arr, date_formats)
    if ftype == "amount":
        return normalize_amounts(arr, unit)
    if ftype == "int":
        return normalize_ints(arr)
    raise ValueError(f"unknown column type {ftype!r}")


_LABEL = {"date": "date", "amount": "amount", "int": "integer", "code": "code", "text": "text"}


def reason(ftype: str, value: str | None, *, pii: bool = False) -> str:
    """Why ``value`` was rejected; personal data is described, never echoed."""
    if pii:
        return f"{_LABEL[ftype]} not understood (personal data, {len(value or '')} characters)"
    shown = value if value is None or len(value) <= 60 else value[:57] + "..."
    return f"{_LABEL[ftype]} not understood: {shown!r}"


def bad_indices(bad: pa.Array | None) -> np.ndarray:
    if bad is None:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False))

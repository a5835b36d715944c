"""Personal data that must never leave the internal tables: ID-card numbers and mobile numbers.

Two forms of each rule, kept side by side so that they cannot drift apart:

- Python, for masking text before it reaches a report or a log line;
- DuckDB SQL, for scanning and masking millions of values inside the warehouse.

Resident identity card (GB 11643-1999): 18 characters, a 6-digit division code, the birth date
YYYYMMDD, a 3-digit sequence and an ISO 7064 MOD 11-2 check character (0-9 or X).
Mainland mobile numbers: 11 digits ``1[3-9]x xxxx xxxx``, optionally after +86 and written
with spaces or hyphens between the groups.

Matches are anchored on letter-or-digit boundaries so that the digit runs inside USCCs,
decision numbers, amounts and hexadecimal record ids are not mistaken for either; Chinese
text, spaces and punctuation around a number count as boundaries.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.cn import ric

# The shape of an ID-card number: division, birth date (1800-2099), sequence, check character.
ID_CARD_SHAPE = (
    r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx]"
)
MOBILE_SHAPE = r"(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}"

_ID_CARD = re.compile(rf"(?<![0-9A-Za-z])({ID_CARD_SHAPE})(?![0-9A-Za-z])")
_MOBILE = re.compile(rf"(?<![0-9A-Za-z])({MOBILE_SHAPE})(?![0-9A-Za-z])")
_ID_CARD_FULL = re.compile(rf"^{ID_CARD_SHAPE}$")

ID_CARD_MASK = "[ID-card number masked]"
MOBILE_MASK = "[phone number masked]"

# ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 and the check characters indexed by sum mod 11.
ID_CARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CARD_CHECKS = "10X98765432"


def is_id_card_number(value: str) -> bool:
    """An ID-card number: the shape above and a valid MOD 11-2 check character.

    The birth place is not looked up: divisions are renamed and renumbered over the years and
    a number from a retired division is still personal data.
    """
    return bool(_ID_CARD_FULL.match(value)) and _id_check_ok(value)


# Provinces (GB/T 2260 first two digits) that issue resident ID numbers.
ID_CARD_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split()
)


def is_resident_id_number(value: str | None) -> bool:
    """A resident ID number for classifying an identifier (stricter than detection): 18
    characters, a province's division code, a real birth date from 1900 on and a valid
    MOD 11-2 check character. Such a value is a person's even when it also passes the USCC
    check. SQL twin: the dbt macro ``is_resident_id_number``.
    """
    if not value or len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        return False
    if value[:2] not in ID_CARD_PROVINCES or value[6:10] < "1900":
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return _id_check_ok(value)


def find_id_card_numbers(text: str) -> list[str]:
    """ID-card numbers (shape and check character valid) appearing in ``text``."""
    return [m for m in _ID_CARD.findall(text) if _id_check_ok(m)]


def find_mobile_numbers(text: str) -> list[str]:
    return _MOBILE.findall(text)


def _id_check_ok(value: str) -> bool:
    return ric.calc_check_digit(value) == value[17].upper()


def mask_personal_data(value: object) -> object:
    """``value`` with every ID-card-shaped or mobile-shaped part replaced by a fixed label.

    Masking is deliberately broader than detection: the shape alone is enough (no check
    character needed). Non-strings are returned unchanged.
    """
    if not isinstance(value, str):
        return value
    return _MOBILE.sub(MOBILE_MASK, _ID_CARD.sub(ID_CARD_MASK, value))


# ---------------------------------------------------------------------------- DuckDB (RE2) twins
# RE2 has no look-around: boundaries are matched as (^|[^0-9A-Za-z]) ... ($|[^0-9A-Za-z]) and kept.

_SQL_ID_CARD = rf"(^|[^0-9A-Za-z]){ID_CARD_SHAPE}($|[^0-9A-Za-z])"
_SQL_MOBILE = rf"(^|[^0-9A-Za-z]){MOBILE_SHAPE}($|[^0-9A-Za-z])"
_SQL_DIGIT_RUNS = r"[0-9]+[Xx]?"
# Either shape, with its boundaries: values without a match skip the replacements.
_SQL_GUARD = rf"(^|[^0-9A-Za-z])({ID_CARD_SHAPE}|{MOBILE_SHAPE})($|[^0-9A-Za-z])"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_mask(expr: str) -> str:
    """SQL expression: ``expr`` (VARCHAR) with ID-card-shaped and mobile-shaped parts masked.

    The replacement runs twice so that two numbers separated by one character are both masked
    (the first match consumes the shared boundary character).
    """

    def once(inner: str, pattern: str, label: str) -> str:
        replacement = _sql_str("\\1" + label + "\\2")
        return f"regexp_replace({inner}, {_sql_str(pattern)}, {replacement}, 'g')"

    masked = expr
    for _ in range(2):
        masked = once(masked, _SQL_ID_CARD, ID_CARD_MASK)
    for _ in range(2):
        masked = once(masked, _SQL_MOBILE, MOBILE_MASK)
    return (
        f"(case when regexp_matches({expr}, {_sql_str(_SQL_GUARD)}) then {masked} else {expr} end)"
    )


def sql_has_id_card_number(expr: str) -> str:
    """SQL boolean: ``expr`` holds an ID-card number whose MOD 11-2 check character is valid.

    A cheap shape test guards the check computation, which runs only on candidate values.
    """
    weights = "[" + ", ".join(str(w) for w in ID_CARD_WEIGHTS) + "]"
    check = (
        f"substr('{ID_CARD_CHECKS}', "
        f"list_sum(list_transform(range(1, 18), lambda i: cast(substr(x, i, 1) as integer) "
        f"* {weights}[i]))::integer % 11 + 1, 1) = upper(substr(x, 18, 1))"
    )
    runs = f"regexp_extract_all({expr}, {_sql_str(_SQL_DIGIT_RUNS)})"
    shape = _sql_str(f"^{ID_CARD_SHAPE}$")
    candidates = f"list_filter({runs}, lambda x: regexp_full_match(x, {shape}))"
    return (
        f"coalesce(case when regexp_matches({expr}, {_sql_str(_SQL_ID_CARD)}) "
        f"then list_bool_or(list_transform({candidates}, lambda x: {check})) end, false)"
    )


def sql_has_mobile_number(expr: str) -> str:
    """SQL boolean: ``expr`` holds a mainland mobile number."""
    return f"coalesce(regexp_matches({expr}, {_sql_str(_SQL_MOBILE)}), false)"

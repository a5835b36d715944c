"""Identifiers of market entities: USCC (GB 32100-2015), organisation code (GB 11714),
the old 15-digit registration number (GS 15-2006, ISO 7064 MOD 11,10).

Pure functions with no dependencies; the dbt macros in ``dbt_project/macros/identity`` are
the SQL twin of this module and are cross-checked against it by the tests.
"""

from __future__ import annotations

import re
import unicodedata

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
USCC_WEIGHTS = tuple(
    pow(3, i, 31) for i in range(17)
)  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_ORG_SHAPE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")
_REGNO_SHAPE = re.compile(r"^[0-9]{15}$")
_SPACES = re.compile(r"[\s\u3000]+")


def normalize_code(value: str | None) -> str | None:
    """Trim, fold full-width to half-width (NFKC), drop inner spaces and hyphens, upper-case.

    Returns None for None or an empty result.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value))
    text = _SPACES.sub("", text).replace("-", "").upper()
    return text or None


def uscc_check_char(body17: str) -> str:
    """The 18th character of a USCC for its first 17 characters."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def _org_char_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def org_check_char(body8: str) -> str:
    """The 9th character of an organisation code (GB 11714) for its first 8 characters."""
    total = sum(_org_char_value(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_problem(code: str | None) -> str | None:
    """Why ``code`` (already normalised) is not a valid USCC, or None when it is.

    Reasons: ``missing``, ``length``, ``charset``, ``org_check`` (embedded GB 11714 check),
    ``check`` (outer GB 32100 check).
    """
    if not code:
        return "missing"
    if len(code) != 18:
        return "length"
    if not _USCC_SHAPE.fullmatch(code):
        return "charset"
    if org_check_char(code[8:16]) != code[16]:
        return "org_check"
    if uscc_check_char(code[:17]) != code[17]:
        return "check"
    return None


def is_valid_uscc(code: str | None) -> bool:
    return uscc_problem(code) is None


def org_code_problem(code: str | None) -> str | None:
    """Why ``code`` (normalised, 9 chars) is not a valid organisation code, or None."""
    if not code:
        return "missing"
    if not _ORG_SHAPE.fullmatch(code):
        return "format"
    if org_check_char(code[:8]) != code[8]:
        return "check"
    return None


def is_valid_org_code(code: str | None) -> bool:
    return org_code_problem(code) is None


def uscc_org_code(uscc: str) -> str:
    """The embedded organisation code: positions 9-17."""
    return uscc[8:17]


def uscc_division(uscc: str) -> str:
    """Administrative division (GB/T 2260): positions 3-8."""
    return uscc[2:8]


def uscc_entity_type(uscc: str) -> str | None:
    """enterprise / individual / cooperative for codes registered by market regulation ('9')."""
    if len(uscc) < 2 or uscc[0] != "9":
        return None
    return {"1": "enterprise", "2": "individual", "3": "cooperative"}.get(uscc[1])


def regno_check_digit(body14: str) -> str:
    """ISO 7064 MOD 11,10 check digit for the first 14 digits of a registration number."""
    p = 10
    for ch in body14:
        s = (int(ch) + p) % 10 or 10
        p = (2 * s) % 11
    return str((11 - p) % 10)


def regno_problem(code: str | None) -> str | None:
    if not code:
        return "missing"
    if not _REGNO_SHAPE.fullmatch(code):
        return "format"
    if regno_check_digit(code[:14]) != code[14]:
        return "check"
    return None


def is_valid_regno(code: str | None) -> bool:
    return regno_problem(code) is None


def make_uscc(authority: str, kind: str, division: str, org_body8: str) -> str:
    """Assemble a valid USCC from its parts, computing both check characters."""
    org = org_body8 + org_check_char(org_body8)
    body = f"{authority}{kind}{division}{org}"
    return body + uscc_check_char(body)


def make_regno(body14: str) -> str:
    return body14 + regno_check_digit(body14)

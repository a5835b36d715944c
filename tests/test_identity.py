"""panorama.identity.codes against the worked examples of DOMAIN.md and, over a seeded corpus of
valid and corrupted codes, against python-stdnum and an independent GB 11714 reference.

``make_corpus`` is also the input of tests/test_identity_sql.py, which holds the dbt macros
to the same answers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import pytest
from panorama.identity.codes import (
    USCC_CHARSET,
    is_valid_org_code,
    is_valid_regno,
    is_valid_uscc,
    make_regno,
    make_uscc,
    normalize_code,
    org_check_char,
    org_code_problem,
    regno_check_digit,
    regno_problem,
    uscc_check_char,
    uscc_division,
    uscc_entity_type,
    uscc_org_code,
    uscc_problem,
)
from stdnum.cn import uscc as stdnum_uscc
from stdnum.iso7064 import mod_11_10

CORPUS_SIZE = 120_000
CORPUS_SEED = 20240101

VALID_USCC = [
    "91110000600037341L",
    "91310115MA1K3BTP2B",
    "91371082775260043P",
    "92340602MA2PBMEM24",
    "91350100M000100Y43",
    "91620105L015101280",  # weighted sum a multiple of 31: check character '0'
    "91152201078382010M",  # embedded org check 11 - sum mod 11 = 11: '0'
]
INVALID_USCC = {
    "91110000600037341N": "check",
    "9111000060003IOZSV": "charset",
}
VALID_REGNO = "110108000000016"


# --- worked examples -------------------------------------------------------------------------


@pytest.mark.parametrize("code", VALID_USCC)
def test_domain_valid_uscc(code: str) -> None:
    assert uscc_problem(code) is None
    assert is_valid_uscc(code)
    assert stdnum_uscc.is_valid(code)
    assert uscc_check_char(code[:17]) == code[17]
    assert org_code_problem(uscc_org_code(code)) is None


@pytest.mark.parametrize(("code", "problem"), sorted(INVALID_USCC.items()))
def test_domain_invalid_uscc(code: str, problem: str) -> None:
    assert uscc_problem(code) == problem
    assert not is_valid_uscc(code)
    assert not stdnum_uscc.is_valid(code)


def test_check_character_zero_when_sum_is_multiple_of_31() -> None:
    code = "91620105L015101280"
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    assert total % 31 == 0
    assert uscc_check_char(code[:17]) == "0"


def test_org_check_zero_when_eleven() -> None:
    body = "91152201078382010M"[8:16]
    total = sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    assert 11 - total % 11 == 11
    assert org_check_char(body) == "0"


def test_org_check_x_when_ten() -> None:
    body = next(f"{n:08d}" for n in range(1000) if org_check_char(f"{n:08d}") == "X")
    assert org_code_problem(body + "X") is None
    assert org_code_problem(body + "0") == "check"


def test_uscc_problem_order() -> None:
    assert uscc_problem(None) == "missing"
    assert uscc_problem("") == "missing"
    assert uscc_problem("9111000060003734") == "length"
    assert uscc_problem("91110000600037341LL") == "length"
    assert uscc_problem("91110000600037341l") == "charset"
    assert uscc_problem("91110000600037351L") == "org_check"  # pos 16 changed
    # both checks broken: the embedded one is reported first
    assert uscc_problem("91110000600037351N") == "org_check"


def test_uscc_parts() -> None:
    code = "91371082775260043P"
    assert uscc_division(code) == "371082"
    assert uscc_org_code(code) == "775260043"
    assert uscc_entity_type(code) == "enterprise"
    assert uscc_entity_type("92340602MA2PBMEM24") == "individual"
    assert uscc_entity_type("93" + code[2:]) == "cooperative"
    assert uscc_entity_type("12" + code[2:]) is None
    assert uscc_entity_type("9Y" + code[2:]) is None


def test_make_uscc_rebuilds_examples() -> None:
    for code in VALID_USCC:
        assert make_uscc(code[0], code[1], code[2:8], code[8:16]) == code


def test_registration_number_example() -> None:
    assert regno_problem(VALID_REGNO) is None
    assert is_valid_regno(VALID_REGNO)
    assert mod_11_10.is_valid(VALID_REGNO)
    assert make_regno(VALID_REGNO[:14]) == VALID_REGNO
    assert regno_problem("110108000000017") == "check"
    assert regno_problem("11010800000001") == "format"
    assert regno_problem("11010800000001X") == "format"
    assert regno_problem("") == "missing"


def test_org_code_examples() -> None:
    assert is_valid_org_code("600037341")
    assert org_code_problem("MA1K3BTP2") is None
    assert org_code_problem("600037342") == "check"
    assert org_code_problem("60003734") == "format"
    assert org_code_problem("60003734Y") == "format"
    assert org_code_problem(None) == "missing"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("91110000600037341L", "91110000600037341L"),
        ("  91110000600037341l\t", "91110000600037341L"),
        ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L"),
        ("９１３１０１１５ｍａ１Ｋ３ＢＴＰ２Ｂ", "91310115MA1K3BTP2B"),
        ("9131 0115\u3000MA1K-3BTP-2B", "91310115MA1K3BTP2B"),
        ("913101 15MA1K3BTP2B\r\n", "91310115MA1K3BTP2B"),
        ("110108\xa0000000016", "110108000000016"),
        ("60003734－1", "600037341"),
        ("", None),
        (" \t\u3000 - ", None),
        (None, None),
    ],
)
def test_normalize_code(raw: str | None, normal: str | None) -> None:
    assert normalize_code(raw) == normal


# --- seeded corpus -------------------------------------------------------------------------

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FORBIDDEN = "IOSVZ"
_SEPARATORS = [" ", "  ", "\t", "\u3000", "-", "\uff0d", "\ufe63", "\xa0", "\n", " - ", "\u2002"]
# Characters found around codes in delivered spreadsheets; all stable under NFKC.
_GARBAGE = (
    "".join(chr(c) for c in range(0x21, 0x7F))
    + "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    + "有限公司（）·—–、，。éØ"
)
_DIVISIONS = ["371402", "371403", "371422", "371423", "371424", "371425", "371481", "110108"]


@dataclass(frozen=True)
class Case:
    """One raw code of the corpus.

    ``normal`` is the normalised code the raw value must give when it was built as a
    formatting variant of a clean code (``None`` otherwise); ``must_fail`` marks single
    substitutions and transpositions that the check character is proven to catch.
    """

    raw: str | None
    kind: str
    normal: str | None = None
    must_fail: bool = False


def _random_uscc(rng: random.Random) -> str:
    authority = rng.choice("999999915Y" + rng.choice(USCC_CHARSET))
    kind = rng.choice("1112233" + rng.choice(USCC_CHARSET))
    division = rng.choice(_DIVISIONS) if rng.random() < 0.8 else f"{rng.randrange(10**6):06d}"
    body8 = "".join(rng.choice(USCC_CHARSET) for _ in range(8))
    if rng.random() < 0.5:
        body8 = "".join(rng.choice("0123456789") for _ in range(8))
    return make_uscc(authority, kind, division, body8)


def _random_org(rng: random.Random) -> str:
    body8 = "".join(rng.choice(_ORG_ALPHABET) for _ in range(8))
    return body8 + org_check_char(body8)


def _random_regno(rng: random.Random) -> str:
    return make_regno("".join(rng.choice("0123456789") for _ in range(14)))


def _formatting_variant(rng: random.Random, code: str) -> str:
    """A spelling of ``code`` that normalises back to it."""
    chars = list(code)
    if rng.random() < 0.5:
        chars = [c.lower() if rng.random() < 0.5 else c for c in chars]
    if rng.random() < 0.5:
        chars = [chr(ord(c) + 0xFEE0) if rng.random() < 0.5 else c for c in chars]
    for _ in range(rng.choice([0, 0, 1, 2, 4])):
        chars.insert(rng.randrange(len(chars) + 1), rng.choice(_SEPARATORS))
    text = "".join(chars)
    if rng.random() < 0.3:
        text = rng.choice(_SEPARATORS) + text + rng.choice(_SEPARATORS)
    return text


_DAMAGES = (
    ("substitute",) * 3
    + ("transpose",) * 2
    + ("check", "forbidden", "garbage", "delete", "insert", "truncate", "extend")
    + ("lower_unnormalised",)
)


def _corrupt(rng: random.Random, code: str, alphabet: str) -> tuple[str, str]:
    """A damaged ``code`` and the name of the damage."""
    i = rng.randrange(len(code))
    how = rng.choice(_DAMAGES)
    if how == "substitute":
        new = rng.choice([c for c in alphabet if c != code[i]])
        return code[:i] + new + code[i + 1 :], how
    if how == "transpose":
        i = rng.randrange(len(code) - 1)
        return code[:i] + code[i + 1] + code[i] + code[i + 2 :], how
    if how == "check":
        return code[:-1] + rng.choice(alphabet), how
    if how == "forbidden":
        return code[:i] + rng.choice(_FORBIDDEN) + code[i + 1 :], how
    if how == "garbage":
        return code[:i] + rng.choice(_GARBAGE) + code[i + 1 :], how
    if how == "delete":
        return code[:i] + code[i + 1 :], how
    if how == "insert":
        return code[:i] + rng.choice(alphabet) + code[i:], how
    if how == "truncate":
        return code[: rng.randrange(len(code))], how
    if how == "extend":
        return code + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))), how
    return code.lower(), how  # lower case survives only when not normalised


def make_corpus(size: int = CORPUS_SIZE, seed: int = CORPUS_SEED) -> list[Case]:
    """``size`` raw codes: valid, reformatted and corrupted USCCs, organisation codes and
    registration numbers, plus empty and junk values. Deterministic for a seed."""
    rng = random.Random(seed)
    makers = {
        "uscc": (_random_uscc, USCC_CHARSET),
        "org": (_random_org, _ORG_ALPHABET),
        "regno": (_random_regno, "0123456789"),
    }
    cases: list[Case] = []
    while len(cases) < size:
        roll = rng.random()
        if roll < 0.03:
            junk_len = rng.randint(0, 22)
            junk = "".join(rng.choice(_GARBAGE + "".join(_SEPARATORS)) for _ in range(junk_len))
            cases.append(Case(rng.choice([None, "", " ", "\u3000\t", junk, junk]), "junk"))
            continue
        kind = "uscc" if roll < 0.55 else "org" if roll < 0.80 else "regno"
        make, alphabet = makers[kind]
        code = make(rng)
        action = rng.random()
        if action < 0.25:
            cases.append(Case(code, kind, normal=code))
        elif action < 0.50:
            cases.append(Case(_formatting_variant(rng, code), kind, normal=code))
        else:
            bad, how = _corrupt(rng, code, alphabet)
            if how in ("lower_unnormalised", "garbage"):
                cases.append(Case(bad, kind))
                continue
            caught = how == "substitute" or (how == "transpose" and kind == "uscc")
            must_fail = caught and kind != "org" and bad != code
            if bad and rng.random() < 0.3:
                cases.append(Case(_formatting_variant(rng, bad), kind, bad, must_fail))
            else:
                cases.append(Case(bad, kind, bad or None, must_fail))
    return cases


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    return make_corpus()


def test_corpus_is_deterministic_and_mixed(corpus: list[Case]) -> None:
    assert make_corpus(500) == corpus[:500]
    problems = {uscc_problem(normalize_code(c.raw)) for c in corpus if c.kind == "uscc"}
    assert problems == {None, "missing", "length", "charset", "org_check", "check"}
    valid = [c.normal for c in corpus if c.kind == "uscc" and is_valid_uscc(c.normal)]
    assert {code[17] for code in valid} >= {"0"}  # weighted sum a multiple of 31
    assert {code[16] for code in valid} >= {"0", "X"}  # org check values 11 and 10


def test_normalize_code_on_corpus(corpus: list[Case]) -> None:
    for case in corpus:
        normal = normalize_code(case.raw)
        if case.normal is not None:
            assert normal == case.normal, case
        assert normalize_code(normal) == normal
        if normal is not None:
            assert normal == normal.upper()
            assert not re.search(r"[\s\u3000\-]", normal)


def _reference_org_problem(code: str | None) -> str | None:
    """GB 11714 written independently of panorama.identity.codes."""
    if not code:
        return "missing"
    if not re.fullmatch(r"[0-9A-Z]{8}[0-9X]", code):
        return "format"
    total = sum(int(c, 36) * w for c, w in zip(code[:8], (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    return None if "0123456789X"[(11 - total % 11) % 11] == code[8] else "check"


def test_uscc_against_stdnum(corpus: list[Case]) -> None:
    checked = 0
    for case in corpus:
        code = normalize_code(case.raw)
        problem = uscc_problem(code)
        assert is_valid_uscc(code) == (problem is None)
        if case.must_fail and case.kind == "uscc":
            assert problem is not None, case
        if problem in ("missing", "length", "charset"):
            assert not stdnum_uscc.is_valid(code or ""), case
            continue
        # 18 characters of the charset from here on
        assert (problem == "org_check") == (_reference_org_problem(code[8:17]) is not None), case
        outer_ok = problem is None or (
            problem == "org_check" and uscc_check_char(code[:17]) == code[17]
        )
        # stdnum checks the outer character and wants digits in positions 1-8
        assert stdnum_uscc.is_valid(code) == (outer_ok and code[:8].isdigit()), case
        if outer_ok:
            assert stdnum_uscc.calc_check_digit(code[:17]) == code[17]
        checked += 1
    assert checked > 30_000


def test_org_code_against_reference(corpus: list[Case]) -> None:
    for case in corpus:
        code = normalize_code(case.raw)
        assert org_code_problem(code) == _reference_org_problem(code), case
        if code is not None and uscc_problem(code) in (None, "check"):
            assert org_code_problem(uscc_org_code(code)) is None


def test_regno_against_stdnum(corpus: list[Case]) -> None:
    checked = 0
    for case in corpus:
        code = normalize_code(case.raw)
        problem = regno_problem(code)
        shape_ok = code is not None and len(code) == 15 and code.isascii() and code.isdigit()
        assert (problem in ("missing", "format")) == (not shape_ok), case
        if case.must_fail and case.kind == "regno":
            assert problem is not None, case
        if shape_ok:
            assert (problem is None) == mod_11_10.is_valid(code), case
            assert regno_check_digit(code[:14]) == mod_11_10.calc_check_digit(code[:14])
            checked += 1
    assert checked > 10_000

"""Chinese names, addresses and personal identifiers of the synthetic population.

Identifiers that must never collide (USCC bodies, registration numbers, ID-card numbers) are
derived from global indices through affine permutations, so they look random but are unique
without keeping any global state.
"""

from __future__ import annotations

import datetime as dt
import random

from panorama.identity.codes import USCC_CHARSET, make_regno, make_uscc

from panorama_dev.synth import vocab
from panorama_dev.synth.vocab import Division, Industry

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

MA_SPACE = 31**6  # bodies "MA" + 6 chars (entities registered since the 2015 reform)
DIGIT_SPACE = 10**8  # bodies of 8 digits (older organisation codes)
REGNO_SPACE = 10**7
PERSON_DAYS = 48 * 365  # legal representatives aged 20..68
PERSON_SPACE = PERSON_DAYS * 1000


def permute(index: int, space: int, salt: int) -> int:
    """A bijection of [0, space): a 4-round Feistel network over the next even power of two,
    cycle-walking until the value falls inside ``space``."""
    half = max(1, ((space - 1).bit_length() + 1) // 2)
    mask = (1 << half) - 1
    value = index
    while True:
        left, right = value >> half, value & mask
        for rnd in range(4):
            mixed = (right * 0x9E3779B1 + salt * 0x85EBCA6B + rnd * 0xC2B2AE35) & 0xFFFFFFFF
            mixed ^= mixed >> 15
            mixed = (mixed * 0x2C1B3C6D) & 0xFFFFFFFF
            mixed ^= mixed >> 13
            left, right = right, left ^ (mixed & mask)
        value = (left << half) | right
        if value < space:
            return value


def _base31(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, r = divmod(value, 31)
        chars.append(USCC_CHARSET[r])
    return "".join(reversed(chars))


def uscc_for(index: int, kind: str, division: str, reformed: bool) -> str:
    """Unique valid USCC for entity ``index``: post-reform bodies "MA"+6, older 8 digits."""
    if reformed:
        body = "MA" + _base31(permute(index, MA_SPACE, 1), 6)
    else:
        body = f"{permute(index, DIGIT_SPACE, 2):08d}"
    return make_uscc("9", kind, division, body)


def regno_for(index: int, kind: str, division: str, rng: random.Random) -> str:
    """Unique valid 15-digit registration number; digit 7 by GS 15-2006 (6-9 individual)."""
    lead = rng.choice("6789") if kind == "2" else rng.choice("0123")
    return make_regno(f"{division}{lead}{permute(index, REGNO_SPACE, 3):07d}")


def id_card_check(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID-card number."""
    total = sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


# Region codes of people born before the 1994 reorganisation of 德州地区 into 德州市.
_OLD_REGION = {
    "371402": "372401",
    "371403": "372421",
    "371422": "372431",
    "371423": "372432",
    "371424": "372428",
    "371425": "372425",
    "371426": "372422",
    "371427": "372423",
    "371428": "372424",
}


def id_region(division: str, birth_year: int) -> str:
    """The address code an ID card issued to someone born in ``birth_year`` carries."""
    if birth_year >= 1994:
        if division == "371403" and birth_year < 2014:
            return "371421"  # 陵县 until 2014
        return division
    if division == "371481":
        return "372402" if birth_year >= 1988 else "372427"
    if division == "371482":
        return "372403" if birth_year >= 1993 else "372426"
    return _OLD_REGION[division]


def id_card_for(person_index: int, division: str, as_of: dt.date) -> str:
    """Unique valid 18-digit ID-card number; birth date and sequence (odd = male) from the
    person index."""
    days, seq = divmod(permute(person_index, PERSON_SPACE, 4), 1000)
    birth = dt.date(as_of.year - 20, 1, 1) - dt.timedelta(days=days)
    body = f"{id_region(division, birth.year)}{birth:%Y%m%d}{seq:03d}"
    return body + id_card_check(body)


def is_male(id_card: str) -> bool:
    return int(id_card[16]) % 2 == 1


def birth_of(id_card: str) -> dt.date:
    return dt.date(int(id_card[6:10]), int(id_card[10:12]), int(id_card[12:14]))


def person_name(rng: random.Random, male: bool) -> str:
    surname = rng.choices(vocab.SURNAMES, vocab.SURNAME_WEIGHTS)[0]
    return surname + rng.choice(vocab.GIVEN_MALE if male else vocab.GIVEN_FEMALE)


def mobile(rng: random.Random) -> str:
    prefix = rng.choice(
        (
            "134",
            "135",
            "136",
            "137",
            "138",
            "139",
            "150",
            "151",
            "152",
            "158",
            "159",
            "176",
            "177",
            "180",
            "181",
            "186",
            "187",
            "188",
            "189",
            "199",
        )
    )
    return f"{prefix}{rng.randrange(10**8):08d}"


def address(rng: random.Random, division: Division) -> str:
    town = rng.choice(division.towns)
    head = f"山东省德州市{division.name}{town}"
    if town.endswith("镇") and rng.random() < 0.6:
        return f"{head}{rng.choice(vocab.VILLAGES)}{rng.randrange(1, 300)}号"
    return f"{head}{rng.choice(vocab.ROADS)}{rng.randrange(1, 999)}号"


def individual_name(
    rng: random.Random, division: Division, industry: Industry, operator: str
) -> str:
    word = rng.choice(industry.shop_words)
    surname = operator[0]
    style = rng.random()
    if style < 0.3:
        trade = surname + "记"
    elif style < 0.45:
        trade = "老" + surname
    elif style < 0.55:
        trade = operator[:2] if len(operator) > 2 else operator
    elif style < 0.6:
        return f"{division.name}{operator}（个体工商户）"
    else:
        trade = rng.choice(vocab.SHOP_PREFIXES)
    return f"{division.name}{trade}{word}"


def enterprise_name(
    rng: random.Random, division: Division, industry: Industry, suffix: str | None
) -> str:
    brand = rng.choice(vocab.BRAND_FIRST) + rng.choice(vocab.BRAND_SECOND)
    word = rng.choice(industry.company_words)
    if suffix is None:  # sole proprietorship
        return f"{division.name}{brand}{word}{rng.choice(('经营部', '商行', '中心'))}"
    style = rng.random()
    if style < 0.45:
        return f"德州{brand}{word}{suffix}"
    if style < 0.7:
        return f"山东{brand}{word}{suffix}"
    if style < 0.9:
        return f"德州市{division.short}{brand}{word}{suffix}"
    return f"{brand}（德州）{word}{suffix}"


def coop_name(rng: random.Random, division: Division, industry: Industry) -> str:
    brand = rng.choice(vocab.SHOP_PREFIXES)
    town = rng.choice(division.towns)[:-2] if rng.random() < 0.4 else ""
    return f"{division.name}{town}{brand}{vocab.COOP_WORDS.get(industry.code, '种植')}专业合作社"


def shop_sign(name: str, division: Division) -> str:
    """What a consumer writes: the sign over the door, not the registered name."""
    core = name.removeprefix(division.name).removeprefix("德州市").removeprefix("德州")
    core = core.removeprefix("山东").removeprefix(division.short)
    for tail in ("股份有限公司", "有限公司", "专业合作社", "（个体工商户）", "经营部", "商行"):
        core = core.removesuffix(tail)
    return core or name

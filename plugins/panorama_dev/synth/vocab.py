"""Fixed vocabularies of the Dezhou-like population: divisions, industries, names, places,
authorities. Plain data, no randomness.

The lists live in ``data/`` beside this module and are read once, at import:
``divisions.tsv`` and ``industries.tsv`` (one row per division or industry, lists joined by
``|``), ``words.json`` (name parts, places, complaint texts, inspectors, entity types,
authorities). Numbers keep their written type (``7`` is an int, ``0.5`` a float), so the
generator's draws do not change with the storage.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from panorama.identity.codes import make_uscc

_DATA = resources.files(__package__) / "data"


@dataclass(frozen=True)
class Division:
    code: str
    name: str  # 德城区
    short: str  # 德城
    weight: float
    towns: tuple[str, ...]
    court: str  # court code in case numbers: 鲁1402


@dataclass(frozen=True)
class Industry:
    code: str  # GB/T 4754-2017 class: section letter + 4 digits
    label: str
    shop_words: tuple[str, ...]  # individual-business name endings
    company_words: tuple[str, ...]  # enterprise name middles (before 有限公司)
    food: bool = False
    special_equipment: bool = False
    consumer: bool = False  # faces consumers: complaints
    risk: float = 0.0  # inherent risk loading
    w_individual: float = 0.0
    w_enterprise: float = 0.0
    w_coop: float = 0.0


@dataclass(frozen=True)
class Authority:
    name: str
    uscc: str


def _rows(name: str) -> list[dict[str, str]]:
    with (_DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split("|")) if text else ()


def _flag(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"industries.tsv: expected true or false, got {text!r}")
    return text == "true"


def _division(row: dict[str, str]) -> Division:
    return Division(
        row["code"],
        row["name"],
        row["short"],
        _number(row["weight"]),
        _words(row["towns"]),
        row["court"],
    )


def _industry(row: dict[str, str]) -> Industry:
    return Industry(
        row["code"],
        row["label"],
        _words(row["shop_words"]),
        _words(row["company_words"]),
        food=_flag(row["food"]),
        special_equipment=_flag(row["special_equipment"]),
        consumer=_flag(row["consumer"]),
        risk=_number(row["risk"]),
        w_individual=_number(row["w_individual"]),
        w_enterprise=_number(row["w_enterprise"]),
        w_coop=_number(row["w_coop"]),
    )


def _authority(name: str, division: str, body: str) -> Authority:
    return Authority(name, make_uscc("1", "1", division, body))


_W: dict[str, Any] = json.loads((_DATA / "words.json").read_text(encoding="utf-8"))

CITY_CODE = "371400"
DIVISIONS: tuple[Division, ...] = tuple(_division(r) for r in _rows("divisions.tsv"))
INDUSTRIES: tuple[Industry, ...] = tuple(_industry(r) for r in _rows("industries.tsv"))
COOP_WORDS: dict[str, str] = _W["coop_words"]

# Common Shandong surnames, most frequent first (weights roughly by frequency).
SURNAMES: tuple[str, ...] = tuple(_W["surnames"])
SURNAME_WEIGHTS = tuple(1.0 / (1 + i * 0.25) for i in range(len(SURNAMES)))
GIVEN_MALE: tuple[str, ...] = tuple(_W["given_male"])
GIVEN_FEMALE: tuple[str, ...] = tuple(_W["given_female"])
SHOP_PREFIXES: tuple[str, ...] = tuple(_W["shop_prefixes"])
BRAND_FIRST: tuple[str, ...] = tuple(_W["brand_first"])
BRAND_SECOND: tuple[str, ...] = tuple(_W["brand_second"])
ROADS: tuple[str, ...] = tuple(_W["roads"])
VILLAGES: tuple[str, ...] = tuple(_W["villages"])
COMPLAINT_CATEGORIES: tuple[str, ...] = tuple(_W["complaint_categories"])
COMPLAINT_CONTENT: dict[str, tuple[str, ...]] = {
    k: tuple(v) for k, v in _W["complaint_content"].items()
}
COMPLAINT_RESULTS: tuple[str, ...] = tuple(_W["complaint_results"])
INSPECTORS: tuple[str, ...] = tuple(_W["inspectors"])
SPOT_TOPICS: tuple[str, ...] = tuple(_W["spot_topics"])

# (registered type, share among enterprises, name suffix or None)
ENTERPRISE_TYPES: tuple[tuple[str, float, str | None], ...] = tuple(
    (name, share, suffix) for name, share, suffix in _W["enterprise_types"]
)
INDIVIDUAL_TYPE: str = _W["individual_type"]
COOP_TYPE: str = _W["coop_type"]

CITY_AMR = _authority(*_W["authorities"]["city_amr"])
DIVISION_AMR = {
    d.code: _authority(
        f"德州市{d.name}市场监督管理局" if d.name.endswith("区") else f"{d.name}市场监督管理局",
        d.code,
        f"MB2856{i + 10:02d}",
    )
    for i, d in enumerate(DIVISIONS)
}
ENV_BUREAU = _authority(*_W["authorities"]["env_bureau"])
EMERGENCY_BUREAU = _authority(*_W["authorities"]["emergency_bureau"])
TAX_BUREAU = _authority(*_W["authorities"]["tax_bureau"])

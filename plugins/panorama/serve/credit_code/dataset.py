"""The public dataset as the service reads it: one read-only snapshot per publication.

Every request resolves ``serving/public.duckdb`` (a link through ``serving/current``); when a
publication has moved it, the next request reads the new file (read-only, into memory: the
tables the pages show, a few MB at the demo size), so a switch takes effect at once. Only
schema ``public_record`` of that file exists for the service: the internal warehouse
(``panorama.duckdb``, with grades) is never opened.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from panorama.serve.credit_code.records import RECORD_KINDS, RecordKind
from panorama.settings import Settings

SCHEMA = "public_record"
CODE_PATTERN = re.compile(r"[0-9a-f]{20}")
DIVISION_PATTERN = re.compile(r"[0-9]{6}")
ACTIVE_STATUSES = ("存续", "在业")
PAGE_CACHE_LIMIT = 50_000

# 公共信用指数: public facts only (never the internal grade). Shown on the street page.
INDEX_BASE = 100
INDEX_RULES: tuple[tuple[str, int, int], ...] = (
    # (fact, points each, cap): the index is the base plus the sum, kept within 0..100
    ("penalties", -10, -40),
    ("abnormal_listed", -20, -20),
    ("serious_listed", -40, -40),
    ("spot_check_problems", -10, -20),
    ("model_shop", 10, 10),
)
INDEX_FORMULA = (
    "信用指数 = 100 − 10 × 公示期内行政处罚条数（最多扣 40）− 20（正列入经营异常名录）"
    " − 40（正列入严重违法失信名单）− 10 × 公示期内发现问题的抽查检查结果条数（最多扣 20）"
    " + 10（放心消费示范店），结果限于 0 至 100。只用公示信息，不用内部信用风险分类结果。"
)


class NotPublished(RuntimeError):
    """No public dataset is in place yet."""


@dataclass
class Entity:
    uscc: str
    code: str
    name: str
    type_name: str | None
    status: str | None
    address: str | None
    division_code: str | None
    division_name: str | None
    established: str | None
    model_shop: dict[str, Any] | None
    records: list[tuple[RecordKind, list[tuple[str, ...]], list[str]]]
    index: int


@dataclass
class StreetShop:
    code: str
    name: str
    type_name: str | None
    address: str | None
    model_shop: bool
    index: int
    facts: dict[str, int]


ENTITY_COLUMNS = (
    "entity_name",
    "entity_type_name",
    "status",
    "address",
    "division_code",
    "division_name",
    "established_date",
)


@dataclass
class Snapshot:
    """One publication's public file, read once into memory (a page is then a few dictionary
    look-ups), with the pages rendered from it."""

    path: Path
    version: str
    columns: dict[str, list[str]]
    codes: dict[str, str]  # credit code -> uscc
    uscc_codes: dict[str, str]  # uscc -> credit code
    facts: dict[str, dict[str, int]]
    entities: dict[str, tuple]  # uscc -> ENTITY_COLUMNS
    model_shops: dict[str, dict[str, Any]]
    records: dict[str, dict[str, list[tuple]]]  # kind key -> uscc -> rows, newest first
    labels: dict[str, list[str]]  # kind key -> labels of a row's values
    pages: dict[str, Any] = field(default_factory=dict)  # rendered outputs, per key

    def has(self, table: str) -> bool:
        return table in self.columns

    def cached(self, key: str, make: Any) -> Any:
        value = self.pages.get(key)
        if value is None:
            value = make()
            if len(self.pages) < PAGE_CACHE_LIMIT:
                self.pages[key] = value
        return value

    # -- entity page -------------------------------------------------------------------------

    def entity_uscc(self, code: str) -> str | None:
        return self.codes.get(code) if CODE_PATTERN.fullmatch(code) else None

    def entity(self, code: str) -> Entity | None:
        uscc = self.entity_uscc(code)
        row = self.entities.get(uscc) if uscc else None
        if uscc is None or row is None:
            return None
        name, type_name, status, address, division_code, division_name, established = row
        return Entity(
            uscc=uscc,
            code=code,
            name=name,
            type_name=type_name,
            status=status,
            address=address,
            division_code=division_code,
            division_name=division_name,
            established=established,
            model_shop=self.model_shops.get(uscc),
            records=[
                (kind, self.records[kind.key].get(uscc, []), self.labels[kind.key])
                for kind in RECORD_KINDS
                if kind.key in self.records
            ],
            index=credit_index(self.facts.get(uscc, {})),
        )

    # -- street page -------------------------------------------------------------------------

    def divisions(self) -> list[tuple[str, str]]:
        return self.cached(
            "divisions",
            lambda: sorted({(r[4], r[5]) for r in self.entities.values() if r[4] is not None}),
        )

    def street(self, division: str) -> tuple[str, list[StreetShop]] | None:
        if not DIVISION_PATTERN.fullmatch(division):
            return None
        names = dict(self.divisions())
        if division not in names:
            return None
        return names[division], self.cached(f"street:{division}", lambda: self._rank(division))

    def _rank(self, division: str) -> list[StreetShop]:
        shops = []
        for uscc, row in self.entities.items():
            code = self.uscc_codes.get(uscc)
            if row[4] != division or row[2] not in ACTIVE_STATUSES or code is None:
                continue
            facts = self.facts.get(uscc, {})
            shops.append(
                StreetShop(
                    code=code,
                    name=row[0],
                    type_name=row[1],
                    address=row[3],
                    model_shop=bool(facts.get("model_shop")),
                    index=credit_index(facts),
                    facts=facts,
                )
            )
        shops.sort(key=lambda s: (-s.index, not s.model_shop, s.name, s.code))
        return shops


def credit_index(facts: dict[str, int]) -> int:
    """The public credit index of one entity from its counts of public facts (INDEX_RULES)."""
    total = INDEX_BASE
    for fact, points, cap in INDEX_RULES:
        value = points * facts.get(fact, 0)
        total += max(value, cap) if points < 0 else min(value, cap)
    return max(0, min(100, total))


def _listed(columns: list[str]) -> str:
    return "is_listed" if "is_listed" in columns else "remove_date is null"


def _facts(con: duckdb.DuckDBPyConnection, columns: dict[str, list[str]]) -> dict:
    """Per USCC, the counts INDEX_RULES weighs, from the public tables present."""
    parts = []
    if "pub_penalty" in columns:
        parts.append(f"select uscc, 'penalties' as fact from {SCHEMA}.pub_penalty")
    for table, fact in (
        ("pub_abnormal_list", "abnormal_listed"),
        ("pub_serious_dishonest", "serious_listed"),
    ):
        if table in columns:
            parts.append(
                f"select distinct uscc, '{fact}' as fact from {SCHEMA}.{table} "
                f"where {_listed(columns[table])}"
            )
    spot = columns.get("pub_spot_check_result", [])
    result = next((c for c in ("check_result", "result") if c in spot), None)
    if result:
        parts.append(
            f"select uscc, 'spot_check_problems' as fact from {SCHEMA}.pub_spot_check_result "
            f"where {result} like '%发现问题%' and {result} not like '%未发现问题%'"
        )
    if "pub_model_shop" in columns:
        parts.append(f"select distinct uscc, 'model_shop' as fact from {SCHEMA}.pub_model_shop")
    facts: dict[str, dict[str, int]] = {}
    if not parts:
        return facts
    sql = " union all ".join(parts)
    for uscc, fact, n in con.execute(
        f"select uscc, fact, count(*) from ({sql}) where uscc is not null group by all"
    ).fetchall():
        facts.setdefault(uscc, {})[fact] = n
    return facts


def _load_records(
    con: duckdb.DuckDBPyConnection, kind: RecordKind, have: list[str]
) -> tuple[dict[str, list[tuple]], list[str]]:
    shown = [(c, label) for c, label in kind.columns if c in have]
    date = kind.date_column if kind.date_column in have else None
    values = ([date] if date else []) + [c for c, _ in shown]
    select = ", ".join(f'cast("{c}" as varchar)' for c in values)
    order = f', "{date}" desc nulls last' if date else ""
    by_uscc: dict[str, list[tuple]] = {}
    for uscc, *row in con.execute(
        f"select uscc, {select} from {SCHEMA}.{kind.table} where uscc is not null "
        f"order by uscc{order}"
    ).fetchall():
        by_uscc.setdefault(uscc, []).append(tuple(row))
    return by_uscc, (["日期"] if date else []) + [label for _, label in shown]


def open_snapshot(path: Path) -> Snapshot:
    """Read the public tables the service shows from ``path`` (read-only) into memory."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = ? order by table_name, ordinal_position",
            [SCHEMA],
        ).fetchall():
            columns.setdefault(table, []).append(column)
        if "pub_entity" not in columns or "pub_credit_code" not in columns:
            raise NotPublished(f"{path.name} has no {SCHEMA}.pub_entity / pub_credit_code")
        pairs = con.execute(f"select credit_code, uscc from {SCHEMA}.pub_credit_code").fetchall()
        select = ", ".join(f'cast("{c}" as varchar)' for c in ENTITY_COLUMNS)
        entities = {
            uscc: tuple(row)
            for uscc, *row in con.execute(
                f"select uscc, {select} from {SCHEMA}.pub_entity"
            ).fetchall()
        }
        model_shops: dict[str, dict[str, Any]] = {}
        if "pub_model_shop" in columns:
            for uscc, *row in con.execute(
                f"select uscc, title, cast(award_date as varchar), cast(valid_until as varchar),"
                f" award_org from {SCHEMA}.pub_model_shop order by uscc, award_date"
            ).fetchall():
                keys = ("title", "award_date", "valid_until", "award_org")
                model_shops[uscc] = dict(zip(keys, row, strict=True))  # the latest award
        records: dict[str, dict[str, list[tuple]]] = {}
        labels: dict[str, list[str]] = {}
        for kind in RECORD_KINDS:
            if kind.table in columns:
                records[kind.key], labels[kind.key] = _load_records(con, kind, columns[kind.table])
        facts = _facts(con, columns)
    return Snapshot(
        path=path,
        version=path.parent.name,
        columns=columns,
        codes=dict(pairs),
        uscc_codes={u: c for c, u in pairs},
        facts=facts,
        entities=entities,
        model_shops=model_shops,
        records=records,
        labels=labels,
    )


class PublicStore:
    """Hands out the snapshot of the publication in place, re-opening on a switch."""

    def __init__(self, settings: Settings) -> None:
        self.link = settings.public_path
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def current(self) -> Snapshot:
        target = Path(os.path.realpath(self.link))
        snap = self._snapshot
        if snap is not None and snap.path == target:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is None or snap.path != target:
                if not target.is_file():
                    raise NotPublished("nothing is published yet")
                snap = self._snapshot = open_snapshot(target)
            return snap

"""Fair assignment of inspectors to a plan's checks (双随机: random inspectors).

For each drawn entity: two inspectors of its division, never one with a declared conflict
with the entity (回避) nor one who checked it in the previous plan; one of them a specialist
when the entity's industry needs one (food, special equipment). Load is balanced: checks that
need a specialist are assigned first, then each pick takes the eligible inspector with the
fewest checks so far, ties broken by md5(seed|plan|entity|inspector). The city bureau's staff
back up a division whose own eligible staff are too few or hold no specialist needed.
Deterministic: the same plan, seed and reference data give the same assignment.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

CITY_DIVISION = "371400"
SPECIALISMS = ("food", "special_equipment")


@dataclass(frozen=True)
class Inspector:
    inspector_id: str
    division_code: str
    specialisms: frozenset[str]


@dataclass(frozen=True)
class Check:
    entity_id: str
    uscc: str | None
    division_code: str
    needs: str | None  # food / special_equipment / None
    draw_key: str


@dataclass(frozen=True)
class Assignment:
    entity_id: str
    division_code: str
    needs: str | None
    inspector_1: str
    inspector_2: str
    specialist: str | None
    city_backup: bool


class AssignmentError(ValueError):
    """A check cannot get two eligible inspectors even with the city bureau's staff."""


def check_of(row: dict) -> Check:
    """The check of one drawn entity, from a plan or snapshot row (entity_id, uscc,
    division_code, industry_model, draw_key): a specialist is needed where the industry's
    model is one of ``SPECIALISMS``."""
    model = row["industry_model"]
    return Check(
        row["entity_id"],
        row["uscc"],
        row["division_code"],
        model if model in SPECIALISMS else None,
        row["draw_key"],
    )


def parse_specialisms(text: str | None) -> frozenset[str]:
    return frozenset(s.strip() for s in (text or "").split(";") if s.strip())


def _key(seed: str, plan_id: str, entity_id: str, inspector_id: str) -> str:
    return hashlib.md5(f"{seed}|{plan_id}|{entity_id}|{inspector_id}".encode()).hexdigest()


def assign(
    checks: Iterable[Check],
    inspectors: Iterable[Inspector],
    conflicts: set[tuple[str, str]],
    previous: Mapping[str, set[str]],
    seed: str,
    plan_id: str,
) -> list[Assignment]:
    """Assign two inspectors to every check; ``conflicts`` holds (inspector_id, uscc) pairs,
    ``previous`` the inspectors of each entity's check in the previous plan."""
    pools: dict[str, list[Inspector]] = defaultdict(list)
    for inspector in sorted(inspectors, key=lambda i: i.inspector_id):
        pools[inspector.division_code].append(inspector)
    load: dict[str, int] = defaultdict(int)
    ordered = sorted(checks, key=lambda c: (c.needs is None, c.division_code, c.draw_key))
    out = []
    for check in ordered:
        out.append(_assign_one(check, pools, conflicts, previous, load, seed, plan_id))
    return sorted(out, key=lambda a: a.entity_id)


def assign_plans(
    drawn: Iterable[dict],
    inspectors: Iterable[dict],
    conflicts: Iterable[dict],
    done: Iterable[dict],
) -> Iterator[tuple[str, Assignment]]:
    """``(plan_id, assignment)`` for every plan of ``drawn`` not yet assigned, in plan order:
    the rows as the build holds them, whatever the engine (the DuckDB target's Python model,
    the Spark target's table function). ``drawn``: the snapshot's drawn entities (plan_id,
    draw_seed and what :func:`check_of` reads); ``inspectors``: inspector_id, division_code,
    specialisms; ``conflicts``: inspector_id, uscc; ``done``: the assignments kept from
    earlier builds (plan_id, entity_id, inspector_1, inspector_2), whose plans are skipped and
    whose inspectors an entity's next plan avoids."""
    staff = [
        Inspector(r["inspector_id"], r["division_code"], parse_specialisms(r["specialisms"]))
        for r in inspectors
    ]
    avoid = {(r["inspector_id"], r["uscc"]) for r in conflicts}
    history: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for r in done:
        history[r["plan_id"]][r["entity_id"]] = {r["inspector_1"], r["inspector_2"]}
    assigned_plans = set(history)
    by_plan: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(drawn, key=lambda r: (r["plan_id"], r["entity_id"])):
        by_plan[r["plan_id"]].append(r)
    for plan_id in sorted(by_plan):
        if plan_id in assigned_plans:
            continue
        earlier = [p for p in history if p < plan_id]
        previous = history[max(earlier)] if earlier else {}
        rows = by_plan[plan_id]
        checks = [check_of(r) for r in rows]
        result = assign(checks, staff, avoid, previous, rows[0]["draw_seed"], plan_id)
        history[plan_id] = {a.entity_id: {a.inspector_1, a.inspector_2} for a in result}
        for a in result:
            yield plan_id, a


def _eligible(
    pool: list[Inspector], check: Check, conflicts: set[tuple[str, str]], before: set[str]
) -> list[Inspector]:
    return [
        i
        for i in pool
        if (i.inspector_id, check.uscc or "") not in conflicts and i.inspector_id not in before
    ]


def _assign_one(
    check: Check,
    pools: Mapping[str, list[Inspector]],
    conflicts: set[tuple[str, str]],
    previous: Mapping[str, set[str]],
    load: dict[str, int],
    seed: str,
    plan_id: str,
) -> Assignment:
    before = previous.get(check.entity_id, set())
    own = _eligible(pools.get(check.division_code, []), check, conflicts, before)
    has_specialist = check.needs is None or any(check.needs in i.specialisms for i in own)
    candidates, backup = own, False
    if (len(own) < 2 or not has_specialist) and check.division_code != CITY_DIVISION:
        candidates = own + _eligible(pools.get(CITY_DIVISION, []), check, conflicts, before)
        backup = True

    def rank(i: Inspector) -> tuple[bool, int, str]:
        # own division first, then the least loaded, then the seeded key
        return (
            i.division_code != check.division_code,
            load[i.inspector_id],
            _key(seed, plan_id, check.entity_id, i.inspector_id),
        )

    specialists = [i for i in candidates if check.needs and check.needs in i.specialisms]
    if check.needs and not specialists:
        raise AssignmentError(
            f"no eligible {check.needs} specialist for a check in "
            f"division {check.division_code} of plan {plan_id}"
        )
    first = min(specialists or candidates, key=rank, default=None)
    rest = [i for i in candidates if first is not None and i.inspector_id != first.inspector_id]
    second = min(rest, key=rank, default=None)
    if first is None or second is None:
        raise AssignmentError(
            f"fewer than two eligible inspectors for a check in division "
            f"{check.division_code} of plan {plan_id}"
        )
    for i in (first, second):
        load[i.inspector_id] += 1
    return Assignment(
        entity_id=check.entity_id,
        division_code=check.division_code,
        needs=check.needs,
        inspector_1=first.inspector_id,
        inspector_2=second.inspector_id,
        specialist=first.inspector_id if check.needs else None,
        city_backup=backup
        and (first.division_code, second.division_code) != (check.division_code,) * 2,
    )


def workload_spread(assignments: Iterable[Assignment], inspectors: Iterable[Inspector]) -> dict:
    """Per division: checks per inspector of the division's own staff, min, max, max/min."""
    inspectors = list(inspectors)
    counts: dict[str, int] = defaultdict(int)
    for a in assignments:
        counts[a.inspector_1] += 1
        counts[a.inspector_2] += 1
    out: dict[str, dict] = {}
    for division in sorted({i.division_code for i in inspectors}):
        staff = [counts[i.inspector_id] for i in inspectors if i.division_code == division]
        lo, hi = min(staff), max(staff)
        out[division] = {"min": lo, "max": hi, "spread": (hi / lo) if lo else None}
    return out

"""The spot-check draw, recomputed in Python from a plan's stored snapshot.

The same rules as the dbt models ``fct_spot_check_population`` and
``fct_spot_check_commitment``: an entity goes to the active stratum with the highest ratio
among those it meets (ties: the lower priority number); each stratum draws
ceil(ratio × population) entities, those with the smallest md5(seed|plan|stratum|entity).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Stratum:
    stratum: str
    stratum_type: str  # grade / targeted
    grade: str | None
    min_years_missed: int | None
    min_score: float | None
    ratio: Decimal
    priority: int

    def admits(self, grade: str, score: float, years_missed: int) -> bool:
        """As the SQL: a grade stratum needs the grade, a targeted one at least one threshold;
        every threshold given must be met."""
        if self.stratum_type == "grade" and grade != self.grade:
            return False
        if self.stratum_type != "grade" and self.min_years_missed is None:
            if self.min_score is None:
                return False
        if self.min_years_missed is not None and years_missed < self.min_years_missed:
            return False
        return self.min_score is None or score >= self.min_score


@dataclass(frozen=True)
class Member:
    entity_id: str
    grade: str
    score: float
    years_missed: int


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def draw_key(seed: str, plan_id: str, *parts: str) -> str:
    return hashlib.md5("|".join([seed, plan_id, *parts]).encode()).hexdigest()


def stratum_of(member: Member, strata: Iterable[Stratum]) -> str | None:
    """The stratum an entity is drawn in: the highest ratio among those it meets."""
    met = [s for s in strata if s.admits(member.grade, member.score, member.years_missed)]
    if not met:
        return None
    return min(met, key=lambda s: (-s.ratio, s.priority)).stratum


def draw(
    members_by_stratum: Mapping[str, list[str]],
    ratios: Mapping[str, Decimal],
    seed: str,
    plan_id: str,
) -> set[str]:
    """The entity ids drawn: per stratum the ceil(ratio × n) smallest draw keys."""
    drawn: set[str] = set()
    for stratum, members in members_by_stratum.items():
        take = math.ceil(ratios[stratum] * len(members))
        ranked = sorted(members, key=lambda e: (draw_key(seed, plan_id, stratum, e), e))
        drawn.update(ranked[:take])
    return drawn


def population_hash(entity_ids: Iterable[str]) -> str:
    return sha256(",".join(sorted(entity_ids)))


def plan_commitment(seed: str, members_by_stratum: Mapping[str, list[str]]) -> str:
    """sha256 of the seed's hash and every stratum's ``stratum:count:hash``, in stratum order."""
    parts = [
        f"{stratum}:{len(members)}:{population_hash(members)}"
        for stratum, members in sorted(members_by_stratum.items())
    ]
    return sha256(sha256(seed) + "|" + "|".join(parts))

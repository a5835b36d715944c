"""``panorama spot-check verify PLAN``: recompute a plan's draw from its stored snapshot and seed.

Reads supervision.fct_spot_check_population (the snapshot), supervision.fct_spot_check_commitment
(the rules, counts and hashes committed at the draw) and supervision.fct_spot_check_plan, and
checks that: the seed matches its committed hash; every entity's stratum follows from its
attributes at the draw and the committed rules; each stratum's population list matches its
committed count and hash, and the plan commitment matches; the entities drawn are those the
seeded md5 order gives; the plan holds exactly those; and the inspectors are the ones the
assignment gives from the current reference data. Differences name entity ids and the kind of
difference only, never a grade.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from panorama.supervision import assign as fa
from panorama.supervision import draw

MAX_LISTED = 20


class PlanNotFound(LookupError):
    """No snapshot or commitment stored for the plan."""


@dataclass
class Verification:
    plan_id: str
    entities: int = 0
    strata: int = 0
    drawn: int = 0
    commitment: str = ""
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def lines(self) -> list[str]:
        head = (
            f"plan {self.plan_id}: {self.entities:,} entities in the snapshot, "
            f"{self.strata} strata, {self.drawn:,} drawn; commitment {self.commitment}"
        )
        if self.ok:
            return [head, "verified: the stored draw is the one its snapshot and seed give"]
        return [head, f"{len(self.differences)} difference(s):"] + [
            f"  {d}" for d in self.differences
        ]


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _listed(kind: str, ids: set[str]) -> str:
    shown = ", ".join(sorted(ids)[:MAX_LISTED])
    more = f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else ""
    return f"{kind}: {len(ids)} entit{'y' if len(ids) == 1 else 'ies'} ({shown}{more})"


def verify_plan(db_path: Path, plan_id: str) -> Verification:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return _verify(con, plan_id)
    finally:
        con.close()


def _verify(con: duckdb.DuckDBPyConnection, plan_id: str) -> Verification:
    committed = _query(
        con, "select * from supervision.fct_spot_check_commitment where plan_id = ?", [plan_id]
    )
    snapshot = _query(
        con,
        "select entity_id, uscc, division_code, industry_model, grade_at_draw, score_at_draw, "
        "years_missed_at_draw, status_at_draw, stratum, drawn, draw_key, draw_seed "
        "from supervision.fct_spot_check_population where plan_id = ?",
        [plan_id],
    )
    if not committed or not snapshot:
        raise PlanNotFound(f"no stored snapshot and commitment for plan {plan_id!r}")
    out = Verification(plan_id, entities=len(snapshot), strata=len(committed))
    out.commitment = committed[0]["plan_commitment"]
    seeds = {r["draw_seed"] for r in snapshot}
    if len(seeds) != 1:
        out.differences.append(f"the snapshot holds {len(seeds)} seeds, not one")
    seed = sorted(seeds)[0]
    if {r["seed_sha256"] for r in committed} != {draw.sha256(seed)}:
        out.differences.append("the seed does not match its committed hash")

    rules = [
        draw.Stratum(
            r["stratum"],
            r["stratum_type"],
            r["grade"],
            r["min_years_missed"],
            None if r["min_score"] is None else float(r["min_score"]),
            Decimal(str(r["ratio"])),
            r["priority"],
        )
        for r in committed
    ]
    _check_strata(out, snapshot, rules)
    members: dict[str, list[str]] = defaultdict(list)
    for r in snapshot:
        members[r["stratum"]].append(r["entity_id"])
    _check_commitment(out, committed, members, seed)

    expected = draw.draw(members, {s.stratum: s.ratio for s in rules}, seed, plan_id)
    stored = {r["entity_id"] for r in snapshot if r["drawn"]}
    out.drawn = len(stored)
    if expected - stored:
        out.differences.append(_listed("should have been drawn but were not", expected - stored))
    if stored - expected:
        out.differences.append(_listed("drawn but should not have been", stored - expected))
    plan = _query(
        con,
        "select entity_id, inspector_1, inspector_2 from supervision.fct_spot_check_plan "
        "where plan_id = ?",
        [plan_id],
    )
    in_plan = {r["entity_id"] for r in plan}
    if in_plan != stored:
        out.differences.append(
            _listed("in the plan but not drawn, or drawn but not in the plan", in_plan ^ stored)
        )
    _check_assignment(out, con, plan_id, snapshot, plan, seed)
    return out


def _check_strata(out: Verification, snapshot: list[dict], rules: list[draw.Stratum]) -> None:
    wrong = set()
    ineligible = set()
    for r in snapshot:
        if r["status_at_draw"] not in ("存续", "在业"):
            ineligible.add(r["entity_id"])
        member = draw.Member(
            r["entity_id"],
            r["grade_at_draw"],
            float(r["score_at_draw"]),
            int(r["years_missed_at_draw"] or 0),
        )
        if draw.stratum_of(member, rules) != r["stratum"]:
            wrong.add(r["entity_id"])
    if ineligible:
        out.differences.append(_listed("not in business at the draw", ineligible))
    if wrong:
        out.differences.append(_listed("stratum does not follow from the attributes", wrong))


def _check_commitment(
    out: Verification, committed: list[dict], members: dict[str, list[str]], seed: str
) -> None:
    by_stratum = {r["stratum"]: r for r in committed}
    for stratum in sorted(set(by_stratum) | set(members)):
        row, ids = by_stratum.get(stratum), members.get(stratum, [])
        if row is None:
            out.differences.append(f"stratum {stratum}: in the snapshot, not in the commitment")
        elif row["population"] != len(ids) or row["population_sha256"] != draw.population_hash(ids):
            out.differences.append(
                f"stratum {stratum}: population list differs from the commitment "
                f"({len(ids)} in the snapshot, {row['population']} committed)"
            )
    if draw.plan_commitment(seed, members) != out.commitment:
        out.differences.append("the plan commitment does not match the snapshot")


def _policy(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A spot-check policy table: in ``supervision`` in the regulators' served file, in
    ``reference`` (the seeds) in a whole build."""
    found = con.execute(
        "select schema_name from duckdb_tables() where table_name = ? "
        "and schema_name in ('supervision', 'reference') order by schema_name desc limit 1",
        [table],
    ).fetchone()
    return f"{found[0] if found else 'reference'}.{table}"


def _check_assignment(
    out: Verification,
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    snapshot: list[dict],
    plan: list[dict],
    seed: str,
) -> None:
    inspectors = [
        fa.Inspector(r["inspector_id"], r["division_code"], fa.parse_specialisms(r["specialisms"]))
        for r in _query(con, f"select * from {_policy(con, 'supervision_inspectors')}", [])
    ]
    conflicts = {
        (r["inspector_id"], r["uscc"])
        for r in _query(con, f"select * from {_policy(con, 'supervision_inspector_conflicts')}", [])
    }
    previous_plan = _query(
        con,
        "select max(plan_id) as p from supervision.fct_spot_check_plan where plan_id < ?",
        [plan_id],
    )[0]["p"]
    previous: dict[str, set[str]] = defaultdict(set)
    if previous_plan is not None:
        for r in _query(
            con,
            "select entity_id, inspector_1, inspector_2 from supervision.fct_spot_check_plan "
            "where plan_id = ?",
            [previous_plan],
        ):
            previous[r["entity_id"]] = {r["inspector_1"], r["inspector_2"]}
    checks = [fa.check_of(r) for r in snapshot if r["drawn"]]
    try:
        expected = fa.assign(checks, inspectors, conflicts, previous, seed, plan_id)
    except fa.AssignmentError as exc:
        out.differences.append(f"assignment cannot be recomputed: {exc}")
        return
    want = {a.entity_id: (a.inspector_1, a.inspector_2) for a in expected}
    have = {r["entity_id"]: (r["inspector_1"], r["inspector_2"]) for r in plan}
    differ = {e for e in want if have.get(e) != want[e]}
    if differ:
        out.differences.append(
            _listed("inspectors differ from the assignment the reference data give", differ)
        )

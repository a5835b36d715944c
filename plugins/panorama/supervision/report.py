"""Plain-text summary of the spot-check outputs of a warehouse file: the latest plan per
stratum, its commitment, the completion report, the inspectors' workload spread, the
problem-found rate by grade and the listing proposals. Aggregates only."""

from __future__ import annotations

from pathlib import Path

import duckdb


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def summary_lines(db_path: Path, plan_id: str | None = None) -> list[str]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        plan_id = (
            plan_id or _rows(con, "select max(plan_id) from supervision.fct_spot_check_plan")[0][0]
        )
        if plan_id is None:
            return ["no spot-check plan drawn yet"]
        return [
            *_plan(con, plan_id),
            *_completion(con, plan_id),
            *_workload(con, plan_id),
            *_problem_rate(con),
            *_proposals(con),
        ]


def _plan(con: duckdb.DuckDBPyConnection, plan_id: str) -> list[str]:
    rows = _rows(
        con,
        "select stratum, ratio, population, drawn, plan_commitment "
        "from supervision.fct_spot_check_commitment where plan_id = ? order by priority",
        [plan_id],
    )
    out = [f"spot-check plan {plan_id} (commitment {rows[0][4][:16]}…)" if rows else ""]
    out.append(f"  {'stratum':<22} {'ratio':>7} {'population':>11} {'drawn':>7}")
    for stratum, ratio, population, drawn, _ in rows:
        out.append(f"  {stratum:<22} {float(ratio):>7.2%} {population:>11,} {drawn:>7,}")
    return out


def _completion(con: duckdb.DuckDBPyConnection, plan_id: str) -> list[str]:
    rows = _rows(
        con,
        "select stratum, sum(drawn), sum(checked), sum(not_reachable), sum(not_operating), "
        "sum(operating_checked), sum(problems_found) from supervision.rpt_spot_check_completion "
        "where plan_id = ? group by stratum order by stratum",
        [plan_id],
    )
    out = [
        f"completion of {plan_id}:",
        f"  {'stratum':<22} {'drawn':>7} {'checked':>8} {'lost':>6} {'idle':>6} "
        f"{'operating':>10} {'problems':>9}",
    ]
    for stratum, *n in rows:
        out.append(
            f"  {stratum:<22} {n[0]:>7,} {n[1]:>8,} {n[2]:>6,} {n[3]:>6,} {n[4]:>10,} {n[5]:>9,}"
        )
    return out


def _workload(con: duckdb.DuckDBPyConnection, plan_id: str) -> list[str]:
    ((lo, hi, worst, backups),) = _rows(
        con,
        "select min(min_checks_per_inspector), max(max_checks_per_inspector), max(spread), "
        "sum(city_backup_checks) from supervision.rpt_spot_check_workload where plan_id = ?",
        [plan_id],
    )
    if lo is None:
        return []
    spread = "n/a" if worst is None else f"{worst:.2f}"
    return [
        f"inspectors' workload: {lo}-{hi} checks per inspector, worst division spread "
        f"max/min {spread}, {backups} check(s) with city-bureau staff"
    ]


def _problem_rate(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = _rows(
        con,
        "select grade, checked, problems_found, problem_rate, ci_low, ci_high "
        "from supervision.rpt_spot_check_problem_rate where period = 'all' order by grade",
    )
    out = ["problem-found rate among operating checked entities, by grade (internal):"]
    for grade, checked, found, rate, low, high in rows:
        out.append(
            f"  {grade}: {found:>5,} / {checked:>6,} = {rate:6.1%}  95% CI [{low:.1%}, {high:.1%}]"
        )
    checked = sum(r[1] for r in rows)
    found = sum(r[2] for r in rows)
    if checked:
        out.append(f"  all: {found:>5,} / {checked:>6,} = {found / checked:6.1%}")
    return out


def _proposals(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = _rows(
        con,
        "select ground, count(*) from supervision.rpt_listing_proposals group by ground "
        "order by ground",
    )
    total = sum(n for _, n in rows)
    detail = ", ".join(f"{g} {n}" for g, n in rows)
    return [
        f"listing proposals (serious-illegal-and-dishonest list): {total}"
        + (f" ({detail})" if rows else "")
    ]

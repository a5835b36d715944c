"""Double-random spot checks: the stratum rule, inspectors' fair assignment (conflicts, previous
plan, specialists, workload) on tiny inputs; on the session's generated population (the one
shared publication) `panorama spot-check verify` on the stored plan and on tampered copies,
the workload spread and the problem-found rate by grade. The dbt rules on tiny inputs (the
stratum inversion, the completion report on planted results, a listing proposal from each
ground) are dbt unit tests in models/marts/supervision/_supervision__unit_tests.yml, run by
every `dbt build` of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from panorama.supervision import assign as fa
from panorama.supervision import draw
from panorama.supervision.verify import verify_plan
from panorama_dev.synth import events
from pipeline_fixtures import published_copy, subprocess_env

RATIOS = [
    draw.Stratum("no_annual_report_2y", "targeted", None, 2, None, Decimal("0.2"), 2),
    draw.Stratum("grade_D", "grade", "D", None, None, Decimal("0.3"), 3),
    draw.Stratum("grade_A", "grade", "A", None, None, Decimal("0.01"), 6),
]


def test_stratum_is_the_highest_ratio_that_applies() -> None:
    """A grade-D entity two years without annual report stays at D's 30 %, not the targeted
    20 % (the inversion of the first-by-priority rule); a grade-A one is raised to 20 %."""
    assert draw.stratum_of(draw.Member("d", "D", 800, 2), RATIOS) == "grade_D"
    assert draw.stratum_of(draw.Member("a", "A", 100, 2), RATIOS) == "no_annual_report_2y"
    assert draw.stratum_of(draw.Member("a1", "A", 100, 1), RATIOS) == "grade_A"


def _pool(division: str, n: int, specialists: dict[int, str] | None = None) -> list:
    specialists = specialists or {}
    return [
        fa.Inspector(f"{division}-{i}", division, frozenset({specialists[i]}))
        if i in specialists
        else fa.Inspector(f"{division}-{i}", division, frozenset())
        for i in range(1, n + 1)
    ]


def _checks(division: str, n: int, needs: str | None = None) -> list[fa.Check]:
    return [
        fa.Check(f"{division}e{i}", f"U{division}{i}", division, needs, f"{i:04d}")
        for i in range(n)
    ]


def test_assignment_avoids_conflicts_and_the_previous_plans_inspectors() -> None:
    pool = _pool("371402", 4) + _pool("371400", 2)
    checks = _checks("371402", 6)
    conflicts = {("371402-1", "U3714020"), ("371402-2", "U3714020")}
    previous = {"371402e1": {"371402-3", "371402-4"}}
    out = {a.entity_id: a for a in fa.assign(checks, pool, conflicts, previous, "s", "P")}
    assert len(out) == 6
    assert all(a.inspector_1 != a.inspector_2 for a in out.values())
    assert {out["371402e0"].inspector_1, out["371402e0"].inspector_2} == {"371402-3", "371402-4"}
    assert {out["371402e1"].inspector_1, out["371402e1"].inspector_2} == {"371402-1", "371402-2"}
    # every inspector of the division conflicted or used last time: the city bureau steps in
    conflicts |= {("371402-3", "U3714022"), ("371402-4", "U3714022"), ("371402-1", "U3714022")}
    again = {a.entity_id: a for a in fa.assign(checks, pool, conflicts, previous, "s", "P")}
    pair = {again["371402e2"].inspector_1, again["371402e2"].inspector_2}
    assert "371402-2" in pair and pair & {"371400-1", "371400-2"} and again["371402e2"].city_backup
    # deterministic: the same inputs give the same assignment
    assert again == {a.entity_id: a for a in fa.assign(checks, pool, conflicts, previous, "s", "P")}


def test_each_check_that_needs_a_specialist_gets_one() -> None:
    pool = _pool("371403", 6, {1: "food", 2: "food", 3: "special_equipment"})
    pool += _pool("371400", 3, {1: "special_equipment"})
    food = _checks("371403", 10, "food")
    special = [fa.Check("se", "USE", "371403", "special_equipment", "k")]
    conflicts = {("371403-3", "USE")}  # the division's only special-equipment specialist
    out = fa.assign(food + special, pool, conflicts, {}, "s", "P")
    by_id = {i.inspector_id: i for i in pool}
    for a in out:
        assert a.specialist == a.inspector_1
        assert a.needs in by_id[a.specialist].specialisms
    se = next(a for a in out if a.entity_id == "se")
    assert se.specialist == "371400-1" and se.city_backup
    with pytest.raises(fa.AssignmentError, match="no eligible food specialist"):
        fa.assign(_checks("371403", 1, "food"), _pool("371403", 3), set(), {}, "s", "P")


def test_workload_is_balanced_within_a_division() -> None:
    pool = _pool("371424", 6, {1: "food", 2: "food", 4: "food"})
    checks = _checks("371424", 25, "food") + [
        fa.Check(f"g{i}", f"UG{i}", "371424", None, f"g{i:03d}") for i in range(35)
    ]
    out = fa.assign(checks, pool, set(), {}, "seed", "2026Q4")
    spread = fa.workload_spread(out, pool)["371424"]
    assert spread["min"] > 0 and spread["spread"] <= 1.25, spread


def test_problem_probability_rises_with_latent_risk() -> None:
    """The generator's function: rising, 1 % at no risk, 26 % at full risk."""
    values = [events.spot_problem_probability(r / 10) for r in range(11)]
    assert values == sorted(values) and values[0] == pytest.approx(0.01)
    assert values[-1] == pytest.approx(0.26)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    try:
        yield published_copy(tmp_path_factory, mp, "spot_check").settings
    finally:
        mp.undo()


def _plan_id(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select max(plan_id) from supervision.fct_spot_check_plan").fetchone()[0]


def test_verify_the_published_plan(population) -> None:
    db = population.serving_path
    plan = _plan_id(db)
    proc = subprocess.run(
        [sys.executable, "-m", "panorama", "spot-check", "verify", plan],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified" in proc.stdout and "commitment" in proc.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "panorama", "spot-check", "verify", "1999Q1"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "1999Q1" in missing.stderr


TAMPERING = {
    "grade": (
        "update supervision.fct_spot_check_population set grade_at_draw = 'A' "
        "where entity_id = (select min(entity_id) from supervision.fct_spot_check_population "
        "where stratum = 'grade_D')",
        "stratum does not follow from the attributes",
    ),
    "dropped": (
        "delete from supervision.fct_spot_check_population "
        "where entity_id = (select min(entity_id) from supervision.fct_spot_check_population "
        "where not drawn and stratum = 'grade_C')",
        "population list differs from the commitment",
    ),
    "drawn": (
        "update supervision.fct_spot_check_population set drawn = not drawn "
        "where entity_id = (select min(entity_id) from supervision.fct_spot_check_population "
        "where stratum = 'grade_A')",
        "drawn",
    ),
    "seed": (
        "update supervision.fct_spot_check_population set draw_seed = 'another seed'",
        "the seed does not match its committed hash",
    ),
    "inspector": (
        "update supervision.fct_spot_check_plan set inspector_2 = inspector_1 || 'x' "
        "where entity_id = (select min(entity_id) from supervision.fct_spot_check_plan)",
        "inspectors differ",
    ),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_verify_finds_a_tampered_snapshot(population, tmp_path: Path, kind: str) -> None:
    db = tmp_path / "tampered.duckdb"
    shutil.copyfile(population.serving_path, db)
    plan = _plan_id(db)
    sql, expected = TAMPERING[kind]
    with duckdb.connect(str(db)) as con:
        con.execute(sql)
    result = verify_plan(db, plan)
    assert not result.ok
    assert any(expected in d for d in result.differences), result.differences
    assert not any(grade in " ".join(result.differences) for grade in ("grade_at_draw", "'D'"))


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_workload_spread_on_the_generated_population(population) -> None:
    rows = _rows(
        population.serving_path,
        "select division_code, checks, inspectors, spread from supervision.rpt_spot_check_workload",
    )
    assert rows
    for division, checks, inspectors, spread in rows:
        print(f"{division}: {checks} checks, {inspectors} inspectors, spread {spread}")
        if 2 * checks >= 4 * inspectors:  # the pool allows a spread of 1.25
            assert spread is not None and spread <= 1.25, (division, checks, spread)


def test_problem_rate_by_grade_on_the_generated_population(population) -> None:
    """Results depend on latent risk: overall near the Dezhou 8.7 %, D above A."""
    db = population.serving_path
    rates = {
        grade: (checked, found, rate, low, high)
        for grade, checked, found, rate, low, high in _rows(
            db,
            "select grade, checked, problems_found, problem_rate, ci_low, ci_high "
            "from supervision.rpt_spot_check_problem_rate where period = 'all' order by grade",
        )
    }
    for grade, (checked, found, rate, low, high) in rates.items():
        print(f"grade {grade}: {found}/{checked} = {rate:.3f} [{low:.3f}, {high:.3f}]")
        assert low <= rate <= high
    checked = sum(r[0] for r in rates.values())
    found = sum(r[1] for r in rates.values())
    print(f"overall: {found}/{checked} = {found / checked:.3f}")
    assert 0.05 <= found / checked <= 0.13
    assert rates["D"][2] > rates["A"][2]
    quarters = _rows(
        db, "select count(distinct period) from supervision.rpt_spot_check_problem_rate"
    )[0][0]
    assert quarters >= 8  # a trend: three years of quarters and 'all'

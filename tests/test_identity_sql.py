"""The dbt identity macros, compiled by real dbt and run on DuckDB, give row for row the
answers of panorama.identity.codes on the seeded corpus of tests/test_identity.py.

The macros are copied into two throwaway dbt projects, so the test depends only on
``dbt_project/macros/identity``: one as is (DuckDB variants where they exist) and one without
the ``duckdb__`` macros, so that the portable ``default__`` SQL is checked on DuckDB as well.
``dbt compile --inline`` renders the query in both, side by side.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from panorama.identity import codes as identity
from test_identity import Case, make_corpus

VARIANTS = ("duckdb", "portable")
DUCKDB_VARIANT = re.compile(r"{% macro duckdb__.*?{%- endmacro %}\n?", re.DOTALL)
MACROS = Path(__file__).resolve().parents[1] / "dbt_project" / "macros" / "identity"

QUERY = """
with codes as (
    select row_id, raw from read_parquet('{parquet}')
),

normalised as (
    select row_id, {{{{ normalize_code('raw') }}}} as code from codes
)

select
    row_id,
    code,
    {{{{ uscc_problem('code') }}}} as uscc_problem,
    {{{{ is_valid_uscc('code') }}}} as is_valid_uscc,
    {{{{ uscc_org_code('code') }}}} as uscc_org_code,
    {{{{ uscc_division('code') }}}} as uscc_division,
    {{{{ uscc_entity_type('code') }}}} as uscc_entity_type,
    {{{{ org_code_problem('code') }}}} as org_code_problem,
    {{{{ is_valid_org_code('code') }}}} as is_valid_org_code,
    {{{{ regno_problem('code') }}}} as regno_problem,
    {{{{ is_valid_regno('code') }}}} as is_valid_regno
from normalised
order by row_id
"""


def _entity_type(code: str | None) -> str | None:
    """uscc_entity_type expects a code of two characters or more; SQL gives null otherwise."""
    return None if code is None or len(code) < 2 else identity.uscc_entity_type(code)


EXPECTED: dict[str, Callable[[str | None], object]] = {
    "uscc_problem": identity.uscc_problem,
    "is_valid_uscc": identity.is_valid_uscc,
    "uscc_org_code": lambda c: None if c is None else identity.uscc_org_code(c),
    "uscc_division": lambda c: None if c is None else identity.uscc_division(c),
    "uscc_entity_type": _entity_type,
    "org_code_problem": identity.org_code_problem,
    "is_valid_org_code": identity.is_valid_org_code,
    "regno_problem": identity.regno_problem,
    "is_valid_regno": identity.is_valid_regno,
}


def _dbt_executable() -> str:
    local = Path(sys.executable).with_name("dbt")
    found = str(local) if local.exists() else shutil.which("dbt")
    if found is None:
        pytest.fail("dbt executable not found next to the Python interpreter or on PATH")
    return found


def _write_project(root: Path, *, portable: bool) -> Path:
    """A dbt project holding only the identity macros; ``portable`` drops the duckdb__
    variants so that dispatch falls back to the default__ (portable) SQL."""
    project = root / ("portable" if portable else "duckdb")
    macros = project / "macros" / "identity"
    shutil.copytree(MACROS, macros)
    # the engine-portable helpers the identity macros call (date parsing)
    (project / "macros" / "engine").mkdir()
    shutil.copy(MACROS.parent / "engine" / "portable.sql", project / "macros" / "engine")
    if portable:
        for path in macros.glob("*.sql"):
            text = path.read_text(encoding="utf-8")
            text = DUCKDB_VARIANT.sub("", text)
            path.write_text(text, encoding="utf-8")
    assert (
        any("duckdb__" in p.read_text(encoding="utf-8") for p in macros.glob("*.sql")) != portable
    )
    (project / "dbt_project.yml").write_text(
        "name: identity_check\nversion: '1.0'\nprofile: identity_check\nmacro-paths: ['macros']\n",
        encoding="utf-8",
    )
    (project / "profiles.yml").write_text(
        "identity_check:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{project / 'identity_check.duckdb'}'\n      threads: 1\n",
        encoding="utf-8",
    )
    return project


def compile_inline(projects: list[Path], sql: str) -> list[str]:
    """Render ``sql`` in each project with ``dbt compile --inline`` (run side by side)."""
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false")
    procs = [
        subprocess.Popen(
            [
                _dbt_executable(),
                "--quiet",
                "compile",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--inline",
                sql,
                "--output",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=project,
        )
        for project in projects
    ]
    compiled = []
    for project, proc in zip(projects, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"dbt compile failed in {project}:\n{out}\n{err}"
        compiled.append(json.loads(out)["compiled"])
    return compiled


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    return make_corpus()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, corpus: list[Case]) -> dict[str, list]:
    """Query results per variant: 'duckdb' (what dbt dispatches to on DuckDB) and
    'portable' (the default__ SQL, run on DuckDB too)."""
    tmp = tmp_path_factory.mktemp("identity_sql")
    parquet = tmp / "codes.parquet"
    table = pa.table(
        {
            "row_id": pa.array(range(len(corpus)), pa.int64()),
            "raw": pa.array([c.raw for c in corpus], pa.string()),
        }
    )
    pq.write_table(table, parquet)
    projects = [_write_project(tmp, portable=False), _write_project(tmp, portable=True)]
    compiled = compile_inline(projects, QUERY.format(parquet=parquet.as_posix()))
    assert "regexp_full_match" in compiled[0]
    assert "regexp" not in compiled[1] and "lambda" not in compiled[1]
    with duckdb.connect() as con:
        return {name: con.sql(sql).fetchall() for name, sql in zip(VARIANTS, compiled, strict=True)}


@pytest.fixture(params=VARIANTS)
def sql_results(request: pytest.FixtureRequest, results: dict[str, list]) -> list[tuple]:
    return results[request.param]


@pytest.mark.slow
def test_normalize_code_matches_python(corpus: list[Case], sql_results: list[tuple]) -> None:
    assert len(sql_results) == len(corpus)
    mismatches = [
        (case.raw, row[1], identity.normalize_code(case.raw))
        for case, row in zip(corpus, sql_results, strict=True)
        if row[1] != identity.normalize_code(case.raw)
    ]
    assert mismatches == [], f"{len(mismatches)} rows differ, first: {mismatches[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("column", list(EXPECTED))
def test_macro_matches_python(column: str, sql_results: list[tuple]) -> None:
    index = 2 + list(EXPECTED).index(column)
    expect = EXPECTED[column]
    mismatches = [
        (row[1], row[index], expect(row[1])) for row in sql_results if row[index] != expect(row[1])
    ]
    assert mismatches == [], f"{len(mismatches)} rows differ, first: {mismatches[:5]}"
    assert len({row[index] for row in sql_results}) > 1


@pytest.mark.slow
def test_every_problem_occurs(sql_results: list[tuple]) -> None:
    """The corpus reaches every branch of the macros."""
    assert {row[2] for row in sql_results} == {
        None,
        "missing",
        "length",
        "charset",
        "org_check",
        "check",
    }
    assert {row[7] for row in sql_results} == {None, "missing", "format", "check"}
    assert {row[9] for row in sql_results} == {None, "missing", "format", "check"}
    assert {row[6] for row in sql_results} == {None, "enterprise", "individual", "cooperative"}


@pytest.mark.slow
def test_resident_id_macro_matches_python(tmp_path: Path) -> None:
    """is_resident_id_number (SQL) and panorama.identity.pii.is_resident_id_number agree on
    ID-shaped values with random provinces, dates (some impossible) and check characters."""
    import random

    from panorama.identity import pii

    rng = random.Random(11643)
    values = []
    for _ in range(3000):
        body = (
            f"{rng.choice(['11', '37', '99', '00', '82'])}{rng.randrange(10000):04d}"
            f"{rng.choice(['1899', '1950', '1988', '2000', '2024'])}"
            f"{rng.randrange(1, 14):02d}{rng.randrange(0, 33):02d}{rng.randrange(1000):03d}"
        )
        values.append(body + rng.choice("0123456789X"))
    values += ["", "37140219800101555", "3714021980010155500", "91371402177020496R"]
    project = _write_project(tmp_path, portable=False)
    rows = ", ".join(f"('{v}')" for v in values)
    sql = f"select v, {{{{ is_resident_id_number('v') }}}} from (values {rows}) as t(v)"
    (compiled,) = compile_inline([project], sql)
    with duckdb.connect() as con:
        got = dict(con.sql(compiled).fetchall())
    expected = {v: pii.is_resident_id_number(v) for v in values}
    assert got == expected
    assert 50 < sum(expected.values()) < len(values) - 50

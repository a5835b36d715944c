"""A following day's run continues the last publication's build instead of redoing it, and
gives the same tables as a full refresh; an older logical date cannot rewrite later history.

One day of deliveries (panorama_dev.synth.daily) after the session's first publication is
built twice with the same run id: incrementally (the staging of incremental kinds continues
from the published build) and with a full refresh; every table of both candidates is compared
row for row (EXCEPT ALL both ways).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from panorama import pipeline
from panorama.build import incremental
from panorama.serve import publish
from panorama_dev import local_platform
from panorama_dev.synth import daily
from pipeline_fixtures import DS, FIRST_RUN, SEED, Published, published_copy, serving_digests

NEXT_DS = (date.fromisoformat(DS) + timedelta(days=1)).isoformat()
RUN = "next-day"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    yield published_copy(tmp_path_factory, mp, "incremental")
    mp.undo()


@pytest.fixture(scope="module")
def next_day(published: Published, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The next day's deliveries landed, then built incrementally and with a full refresh."""
    settings = published.settings
    delivered = daily.write_day(settings.data_dir, date.fromisoformat(NEXT_DS), SEED)
    local_platform.extract_all(settings, NEXT_DS, RUN)
    keep = tmp_path_factory.mktemp("candidates")
    out: dict = {"delivered": delivered}
    for mode, full_refresh in (("incremental", False), ("full_refresh", True)):
        identity = pipeline.build_identity(NEXT_DS, RUN, settings, full_refresh=full_refresh)
        pipeline.resolve(NEXT_DS, RUN, settings)
        pipeline.build(NEXT_DS, RUN, settings)
        out[mode] = {"identity": identity, "candidate": keep / f"{mode}.duckdb"}
        shutil.copyfile(pipeline.candidate_path(settings, RUN), out[mode]["candidate"])
        rdir = pipeline.run_dir(settings, RUN)
        state = json.loads((rdir / incremental.RAW_STATE).read_text(encoding="utf-8"))
        results = json.loads((rdir / "run_results_build.json").read_text(encoding="utf-8"))
        out[mode]["unit_tests"] = state["unit_tests"]
        out[mode]["unit_tests_run"] = sum(
            r["unique_id"].startswith("unit_test.") for r in results["results"]
        )
    return out


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() where database_name = ?",
        [catalog],
    ).fetchall()
    return {r[0] for r in rows}


def test_next_day_continues_the_staging_of_incremental_kinds(next_day: dict):
    carried = next_day["incremental"]["identity"]["incremental_staging"]
    assert carried == {kind: "carried" for kind in incremental.incremental_kinds()}
    refreshed = next_day["full_refresh"]["identity"]["incremental_staging"]
    assert set(refreshed.values()) == {"full refresh"}
    assert next_day["delivered"]["penalty__amr"] > 0


def test_unit_tests_run_again_only_when_the_project_changed(next_day: dict):
    """The next day runs the project the first publication's build ran (and passed the dbt
    unit tests with): they are not run again; a full refresh runs them."""
    assert next_day["incremental"]["unit_tests"].startswith("passed in the build of")
    assert next_day["incremental"]["unit_tests_run"] == 0
    assert next_day["full_refresh"]["unit_tests"] == "run"
    assert next_day["full_refresh"]["unit_tests_run"] > 0


def test_incremental_run_and_full_refresh_give_identical_tables(next_day: dict):
    con = duckdb.connect()
    con.execute(f"attach '{next_day['incremental']['candidate']}' as inc (read_only)")
    con.execute(f"attach '{next_day['full_refresh']['candidate']}' as fresh (read_only)")
    tables = _tables(con, "inc")
    assert tables == _tables(con, "fresh")
    assert {"staging.stg_raw__penalty", "entity.fct_entity_event", "risk.fct_risk_grade"} <= tables
    differ = {}
    for name in sorted(tables):
        one_way, other_way = (
            con.execute(
                f"select count(*) from "
                f"(select * from {a}.{name} except all select * from {b}.{name})"
            ).fetchone()[0]
            for a, b in (("inc", "fresh"), ("fresh", "inc"))
        )
        if one_way or other_way:
            differ[name] = (one_way, other_way)
    assert differ == {}, f"rows only in the incremental / only in the full-refresh build: {differ}"
    # the day's new penalties are staged, each delivered once
    new = con.execute(
        "select count(*), max(n_deliveries) from inc.staging.stg_raw__penalty where load_date = ?",
        [NEXT_DS],
    ).fetchone()
    assert new[0] >= next_day["delivered"]["penalty__amr"] and new[1] == 1


def test_appended_only_accepts_later_loads_only():
    before = {"penalty__amr/load_date=2026-11-24/a.parquet": [10, 1]}
    later = {**before, "penalty__amr/load_date=2026-11-25/b.parquet": [5, 2]}
    assert incremental.appended_only(before, later) is None
    same_day = {**before, "penalty__amr/load_date=2026-11-24/c.parquet": [5, 2]}
    assert "not after 2026-11-24" in incremental.appended_only(before, same_day)
    replaced = {"penalty__amr/load_date=2026-11-24/a.parquet": [11, 3]}
    assert "changed or went away" in incremental.appended_only(before, replaced)
    assert "changed or went away" in incremental.appended_only(before, {})


def test_a_changed_raw_file_rebuilds_its_kind_from_every_load(published: Published, tmp_path):
    settings = published.settings
    served_run = publish.current_manifest(settings)["run_id"]
    state = incremental.build_state(settings.raw_dir, settings.dbt_project_dir)
    name = next(iter(state["raw"]["complaint"]))
    state["raw"]["complaint"][name] = [state["raw"]["complaint"][name][0] + 1, 0]  # re-written
    candidate = tmp_path / "candidate.duckdb"

    def carry(state: dict) -> dict[str, str]:
        shutil.copyfile(settings.serving_path, candidate)
        return incremental.carry_staged(
            candidate,
            pipeline.built_path(settings, served_run),
            pipeline.run_dir(settings, served_run),
            state,
        )

    outcome = carry(state)
    assert "changed or went away" in outcome["complaint"]
    assert outcome["penalty"] == "carried"
    staged = _staged_tables(candidate)
    assert "stg_raw__penalty" in staged and "stg_raw__complaint" not in staged
    # changed staging code: nothing is carried
    outcome = carry({**state, "code": "another"})
    assert set(outcome.values()) == {"the staging models or macros changed"}
    assert _staged_tables(candidate) == set()


def _staged_tables(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'staging'"
        ).fetchall()
    return {r[0] for r in rows}


def test_an_older_logical_date_is_refused_and_touches_nothing(published: Published):
    settings = published.settings
    before = serving_digests(settings)
    older = (date.fromisoformat(DS) - timedelta(days=3)).isoformat()
    with pytest.raises(pipeline.BackfillRefused, match=f"{older} is before .* {DS}"):
        pipeline.build_identity(older, "backfill", settings)
    assert not pipeline.run_dir(settings, "backfill").exists()
    assert serving_digests(settings) == before
    pipeline.check_logical_date(DS, settings)  # a re-run of the published date passes


def test_the_dag_refuses_an_older_date_before_extracting(published: Published):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import AirflowFailException
    from airflow.sdk.execution_time.context import set_current_context

    dags = Path(__file__).resolve().parents[1] / "dags" / "credit_panorama.py"
    dag = DagBag(dag_folder=str(dags)).dags["credit_panorama"]
    assert dag.catchup is False
    list_feeds = dag.get_task("list_feeds").python_callable
    older = (date.fromisoformat(DS) - timedelta(days=1)).isoformat()
    with set_current_context({"ds": older}):
        with pytest.raises(AirflowFailException, match="before the current publication"):
            list_feeds()
    with set_current_context({"ds": DS}):
        assert isinstance(list_feeds(), list)


def test_exactly_the_incremental_kinds_stage_incrementally(published: Published):
    """The staging models materialized incrementally are those of the kinds delivered
    incrementally (what build_identity carries), read from the first build's dbt manifest."""
    manifest = pipeline.run_dir(published.settings, FIRST_RUN) / "dbt_target" / "manifest.json"
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    materialized = {
        n["name"]: n["config"]["materialized"]
        for n in nodes
        if n["resource_type"] == "model" and n["name"].startswith("stg_raw__")
    }
    incremental_models = {name for name, m in materialized.items() if m == "incremental"}
    assert incremental_models == {
        incremental.staging_model(kind) for kind in incremental.incremental_kinds()
    }

"""credit_panorama_rollback: put a kept publication back in place (manual trigger only)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task
from panorama.ops.runtime import WRITER_POOL, default_args, task_timeout


@dag(
    dag_id="credit_panorama_rollback",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={
        "version": Param(
            "",
            type="string",
            description="Kept version to serve again, e.g. v0003_2026-11-24 "
            "(see `python -m panorama versions`)",
        )
    },
    doc_md="Rolls the serving files back to a kept version. Trigger with `version` set.",
    tags=["panorama"],
)
def credit_panorama_rollback():
    @task(pool=WRITER_POOL, execution_timeout=task_timeout("rollback"))
    def rollback() -> dict:
        from panorama.serve.publish import rollback
        from panorama.settings import get_settings

        version = get_current_context()["params"]["version"]
        if not version:
            raise ValueError("set the 'version' param to a kept version name")
        manifest = rollback(get_settings(), version)
        return {"version": manifest["version"], "logical_date": manifest["logical_date"]}

    rollback()


credit_panorama_rollback()

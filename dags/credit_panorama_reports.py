"""credit_panorama_reports: a downstream DAG scheduled on the published serving file.

An example of a consumer: each time ``credit_panorama`` publishes (its publish task emits the
``panorama-serving`` asset), this DAG reads the serving file read-only and writes a small
regulator report (grade counts and grade changes, no entity rows) under ``reports/<version>/``.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from panorama.ops import assets
from panorama.ops.runtime import default_args, task_timeout

SERVING = assets.serving()


@dag(
    dag_id="credit_panorama_reports",
    schedule=[SERVING],
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["panorama"],
)
def credit_panorama_reports():
    @task(execution_timeout=task_timeout("regulator_report"))
    def regulator_report() -> dict:
        from panorama.serve.reports import write_regulator_report

        return write_regulator_report()

    regulator_report()


credit_panorama_reports()

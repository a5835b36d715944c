"""credit_panorama: department deliveries -> raw zone -> dbt candidate -> audit -> publish.

Thin on purpose: the work is in ``plugins/panorama``; heavy libraries load inside the tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, PokeReturnValue, dag, get_current_context, task
from panorama.ops import assets
from panorama.ops.runtime import (
    WRITER_POOL,
    default_args,
    run_date,
    run_deadline,
    run_timeout,
    task_timeout,
)
from panorama.settings import get_settings

SETTINGS = get_settings()
RAW_FEEDS = assets.raw_feeds_alias()
SERVING = assets.serving(SETTINGS)
PUBLIC = assets.public(SETTINGS)

# The DAG's documentation in the UI, kept beside this file.
DOC = str(Path(__file__).with_name("credit_panorama.md"))


@dag(
    dag_id="credit_panorama",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(SETTINGS),
    deadline=run_deadline(SETTINGS),
    doc_md=DOC,
    default_args=default_args(SETTINGS),
    params={
        "accept_baseline_change": Param(
            [],
            type="array",
            items={
                "type": "string",
                "pattern": "^(row_count|grade_shares|feed_empty(:[a-z0-9_]+)?)$",
            },
            description="Comparisons with the last publication this run may fail "
            "(a deliberate change), or feed_empty[:<feed>] (a feed that kept rows before "
            "delivered none); needs accept_reason",
        ),
        "accept_reason": Param(
            "",
            type="string",
            description="Why the change is expected; kept in the audit and the manifest",
        ),
    },
    tags=["panorama"],
)
def credit_panorama():
    @task(execution_timeout=task_timeout("list_feeds"))
    def list_feeds() -> list[str]:
        from panorama.ops.arrival import due_feeds

        return due_feeds(run_date(get_current_context())).due

    @task.sensor(
        mode="reschedule",
        poke_interval=SETTINGS.ops.delivery_poke_seconds,
        timeout=timedelta(days=1).total_seconds(),
        execution_timeout=task_timeout("wait_for_deliveries"),
    )
    def wait_for_deliveries(feeds: list[str]) -> PokeReturnValue:
        from panorama.ops.arrival import check_arrivals, waited_minutes

        context = get_current_context()
        waiting = check_arrivals(list(feeds), run_date(context), waited_minutes(context))
        return PokeReturnValue(is_done=not waiting, xcom_value=list(feeds))

    @task(
        retries=2,
        retry_delay=timedelta(seconds=SETTINGS.ops.retry_delay_seconds),
        execution_timeout=task_timeout("extract"),
        retry_exponential_backoff=True,
        map_index_template="{{ feed_name }}",
        outlets=[RAW_FEEDS],
    )
    def extract(feed: str) -> dict:
        from panorama.ingest.extract import extract_feed

        context = get_current_context()
        context["feed_name"] = feed
        ds = run_date(context)
        manifest = extract_feed(feed, ds, run_id=context["run_id"]).to_dict()
        context["outlet_events"][RAW_FEEDS].add(
            assets.raw_feed(feed, SETTINGS),
            extra={"ds": ds, "rows_kept": manifest["totals"].get("rows_kept")},
        )
        return manifest

    @task(pool=WRITER_POOL, execution_timeout=task_timeout("build_identity"))
    def build_identity(manifests: list[dict]) -> dict:
        from panorama.pipeline import retain_and_build_identity

        context = get_current_context()
        return retain_and_build_identity(run_date(context), context["run_id"])

    @task(pool=WRITER_POOL, execution_timeout=task_timeout("resolve"))
    def resolve(identity: dict) -> dict:
        from panorama.pipeline import resolve

        context = get_current_context()
        return resolve(run_date(context), context["run_id"])

    @task(pool=WRITER_POOL, execution_timeout=task_timeout("build"))
    def build(resolution: dict) -> dict:
        from panorama.pipeline import build

        context = get_current_context()
        return build(run_date(context), context["run_id"])

    @task(pool=WRITER_POOL, execution_timeout=task_timeout("audit"))
    def audit(build_result: dict) -> dict:
        from panorama.gate.audit import BaselineAcceptance
        from panorama.pipeline import audit

        context = get_current_context()
        params = context["params"]
        accept = BaselineAcceptance.from_conf(
            params.get("accept_baseline_change"), params.get("accept_reason")
        )
        report = audit(run_date(context), context["run_id"], accept=accept)
        return {"passed": report["passed"], "seconds": report["seconds"]}

    @task(outlets=[SERVING, PUBLIC], pool=WRITER_POOL, execution_timeout=task_timeout("publish"))
    def publish(audit_result: dict, manifests: list[dict]) -> dict:
        from panorama.pipeline import publish

        context = get_current_context()
        manifest = publish(run_date(context), context["run_id"], list(manifests))
        return {k: manifest[k] for k in ("version", "row_counts", "grade_counts")}

    manifests = extract.expand(feed=wait_for_deliveries(list_feeds()))
    publish(audit(build(resolve(build_identity(manifests)))), manifests)


credit_panorama()

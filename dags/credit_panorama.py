"""credit_panorama: department deliveries -> raw zone -> dbt candidate -> audit -> publish.

Thin on purpose: the work is in ``plugins/panorama``; heavy libraries load inside the tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, AssetAlias, Param, dag, get_current_context, task

RAW_FEEDS = AssetAlias("panorama-raw-feeds")
SERVING = Asset(name="panorama-serving", uri="file:///panorama/serving/panorama.duckdb")
PUBLIC = Asset(name="panorama-public", uri="file:///panorama/serving/public.duckdb")
# One slot (created at bring-up): DuckDB has a single writer, so the tasks that write the
# candidate or the serving files never run at the same time, whichever run or DAG they are in.
WRITER_POOL = "panorama_warehouse"

DOC = """
### 市场主体信用全景画像 · credit panorama

1. **extract** — one mapped task per department feed (`feeds/*.yaml`): raw Parquet with lineage,
   quarantine with reasons, a load manifest. A failing feed fails its own task only; nothing is
   built or published from an incomplete set of inputs.
2. **build_identity → resolve → build** — `dbt build` into a *candidate* DuckDB file (a copy of
   the published one, so grade history lives on): first staging and identifier-based resolution,
   then probabilistic matching (Splink) of what identifiers could not link, then the rest.
3. **audit** — dbt data tests and the Great Expectations checkpoint over the candidate. A failure
   stops the run here: the serving file is untouched and the report names what failed. After a
   deliberate change (new risk weights, a re-sent history) trigger with
   `accept_baseline_change: ["grade_shares"]` (or `"row_count"`) and an `accept_reason`: those
   comparisons with the last publication are still reported but let through, and the reason
   is kept in the audit and the manifest. A feed that kept rows before and whose delivery for
   this date kept none also stops the run, unless accepted with `feed_empty:<feed>`.
4. **publish** — atomic replace of `data/serving/panorama.duckdb` and `public.duckdb`, Parquet
   exports, dbt docs, a manifest; the last versions are kept for rollback
   (`credit_panorama_rollback`).
"""


@dag(
    dag_id="credit_panorama",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    default_args={"retries": 0},
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
    @task
    def list_feeds() -> list[str]:
        from panorama.ingest.feeds import load_registry

        return sorted(load_registry())

    @task(
        retries=2,
        retry_delay=timedelta(seconds=20),
        retry_exponential_backoff=True,
        map_index_template="{{ feed_name }}",
        outlets=[RAW_FEEDS],
    )
    def extract(feed: str) -> dict:
        from panorama.ingest.extract import extract_feed

        context = get_current_context()
        context["feed_name"] = feed
        manifest = extract_feed(feed, context["ds"], run_id=context["run_id"]).to_dict()
        context["outlet_events"][RAW_FEEDS].add(
            Asset(name=f"panorama-raw-{feed}", uri=f"file:///panorama/raw/{feed}"),
            extra={"ds": context["ds"], "rows_kept": manifest["totals"].get("rows_kept")},
        )
        return manifest

    @task(pool=WRITER_POOL)
    def build_identity(manifests: list[dict]) -> dict:
        from panorama.pipeline import build_identity

        context = get_current_context()
        return build_identity(context["ds"], context["run_id"])

    @task(pool=WRITER_POOL)
    def resolve(identity: dict) -> dict:
        from panorama.pipeline import resolve

        context = get_current_context()
        return resolve(context["ds"], context["run_id"])

    @task(pool=WRITER_POOL)
    def build(resolution: dict) -> dict:
        from panorama.pipeline import build

        context = get_current_context()
        return build(context["ds"], context["run_id"])

    @task(pool=WRITER_POOL)
    def audit(build_result: dict) -> dict:
        from panorama.gate.audit import BaselineAcceptance
        from panorama.pipeline import audit

        context = get_current_context()
        params = context["params"]
        accept = BaselineAcceptance.from_conf(
            params.get("accept_baseline_change"), params.get("accept_reason")
        )
        report = audit(context["ds"], context["run_id"], accept=accept)
        return {"passed": report["passed"], "seconds": report["seconds"]}

    @task(outlets=[SERVING, PUBLIC], pool=WRITER_POOL)
    def publish(audit_result: dict, manifests: list[dict]) -> dict:
        from panorama.pipeline import publish

        context = get_current_context()
        manifest = publish(context["ds"], context["run_id"], list(manifests))
        return {k: manifest[k] for k in ("version", "row_counts", "grade_counts")}

    manifests = extract.expand(feed=list_feeds())
    publish(audit(build(resolve(build_identity(manifests)))), manifests)


credit_panorama()

"""The stages of one pipeline run, as plain functions the DAG's tasks call.

extract (per feed, see ``panorama.ingest.extract``) -> build_identity (dbt: staging and identifier
resolution into a candidate) -> resolve (probabilistic matching) -> build (dbt: the rest) ->
audit -> publish. Every stage works in the run's own folder ``build/runs/<run>/``; only
publish touches serving.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from panorama import warehouse
from panorama.build.dbt_runner import RESOLUTION_SUBDIR, run_dbt, spark_warehouse
from panorama.gate.audit import AuditFailed, BaselineAcceptance, audit_candidate, fingerprint
from panorama.serve import publish as publishing
from panorama.settings import Settings, get_settings

log = logging.getLogger(__name__)

KEEP_RUN_DIRS = 5


class BuildFailed(RuntimeError):
    pass


class BackfillRefused(RuntimeError):
    """A logical date before the current publication's: refused, nothing is built."""


def check_logical_date(ds: str, settings: Settings) -> None:
    """Refuse a run whose logical date is before the current publication's.

    Grade history (``risk.fct_risk_grade_history``), the spot-check snapshots and plans are kept
    from publication to publication and only go forward in logical time: a build for an older
    date would close periods at that date and open new ones over the later history. The same
    date (a re-run) and any later one pass; after a rollback, the rolled-back-to version's date
    counts."""
    served = publishing.current_manifest(settings) or {}
    last = served.get("logical_date")
    if last and ds < last:
        raise BackfillRefused(
            f"logical date {ds} is before the current publication's {last} "
            f"(version {served.get('version')}): grade history and spot-check plans only go "
            "forward, so an older date is not built (a backfill or an old re-run would rewrite "
            "later history); nothing was extracted, built or published. Run a date from "
            f"{last} on, or roll back to a version of {ds} or earlier first."
        )


def run_dir(settings: Settings, run_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_") or "run"
    return settings.build_dir / "runs" / safe


def candidate_path(settings: Settings, run_id: str) -> Path:
    """The run's candidate DuckDB file; on the spark engine, views over its Parquet marts
    (:func:`spark_candidate`)."""
    return run_dir(settings, run_id) / "candidate.duckdb"


def marts_path(settings: Settings, run_id: str) -> Path:
    """The spark engine's build of a run: ``<schema>.db/<table>/*.parquet``."""
    return spark_warehouse(run_dir(settings, run_id))


def spark_candidate(settings: Settings, run_id: str) -> Path:
    """The candidate file of a Spark build, (re)written as views over its Parquet marts: what
    the matcher and the gate read a build through, whatever the engine."""
    path = candidate_path(settings, run_id)
    warehouse.parquet_views(path, warehouse.parquet_folders(marts_path(settings, run_id)))
    return path


def published_run_dirs(settings: Settings) -> set[Path]:
    """The run folders of the kept publications (their audit, model and docs sources)."""
    runs = set()
    for version in publishing.list_versions(settings):
        run_id = version.manifest().get("run_id")
        if run_id:
            runs.add(run_dir(settings, run_id))
    served = publishing.current_manifest(settings) or {}
    if served.get("run_id"):
        runs.add(run_dir(settings, served["run_id"]))
    return runs


def _prune_run_dirs(settings: Settings, keep: int = KEEP_RUN_DIRS) -> None:
    """Keep the ``keep`` newest run folders, and every kept publication's whatever its age;
    of the older kept publications' folders, the working warehouse files go (the served
    version holds what readers need, the folder keeps the audit and the docs sources)."""
    root = settings.build_dir / "runs"
    if not root.exists():
        return
    published = published_run_dirs(settings)
    by_age = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    dirs = [p for p in by_age if p not in published]
    for p in dirs[: max(0, len(dirs) - keep)]:
        shutil.rmtree(p, ignore_errors=True)
    for p in [p for p in by_age if p in published][: -keep or None]:
        (p / publishing.BUILT).unlink(missing_ok=True)


def built_path(settings: Settings, run_id: str) -> Path:
    """The whole build of a published run (staging, intermediate, test failures): kept in its
    run folder for debugging, never served."""
    return run_dir(settings, run_id) / publishing.BUILT


def served_build(settings: Settings) -> Path | None:
    """The whole build behind what is served (staging and intermediate models included), else
    the newest build or candidate in the run folders; None when there is none."""
    run_id = (publishing.current_manifest(settings) or {}).get("run_id")
    if run_id and built_path(settings, run_id).exists():
        return built_path(settings, run_id)
    runs = settings.build_dir / "runs"
    found = [*runs.glob(f"*/{publishing.BUILT}"), *runs.glob("*/candidate.duckdb")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


# The models the probabilistic matcher needs: staging, the registry and the identifier step.
IDENTITY_SELECTION = "+int_resolution__candidates_unmatched"


def resolution_dir(settings: Settings, run_id: str) -> Path:
    """The matcher's output for this run (the dbt source ``resolution``)."""
    return run_dir(settings, run_id) / RESOLUTION_SUBDIR


def _dbt_build(settings: Settings, ds: str, run_id: str, selection: list[str], **kw) -> dict:
    """``dbt build`` (no data tests: those belong to the audit) of one selection; the dbt unit
    tests too, unless the last publication's build ran the same project (build_identity)."""
    excluded = ["test"]
    state = run_dir(settings, run_id) / "raw_state.json"
    if state.is_file() and json.loads(state.read_text("utf-8")).get("unit_tests", "run") != "run":
        excluded.append("unit_test")
    result = run_dbt(
        ["build", *selection, "--exclude-resource-type", *excluded],
        settings=settings,
        db_path=candidate_path(settings, run_id),
        run_dir=run_dir(settings, run_id),
        as_of=ds,
        run_id=run_id,
        **kw,
    )
    if not result.success:
        failed = [f"{n.unique_id}: {n.message}" for n in result.failed_nodes()] or [result.log_tail]
        raise BuildFailed("dbt build failed; nothing published:\n" + "\n".join(failed[:20]))
    return {"dbt_seconds": round(result.seconds, 2), "nodes": result.summary()}


def build_identity(
    ds: str, run_id: str, settings: Settings | None = None, full_refresh: bool = False
) -> dict[str, Any]:
    """Start a candidate (a copy of the published file: grade history lives on) and build what
    identifier-based resolution needs. Unit tests run with their models: broken rules must not
    build.

    The staging of incremental kinds continues from the last publication's build when the raw
    zone only grew since (``panorama.build.incremental``); ``full_refresh`` builds it from
    every load instead (the kept history, grades and plans, lives on either way)."""
    settings = settings or get_settings()
    check_logical_date(ds, settings)
    _prune_run_dirs(settings)
    rdir = run_dir(settings, run_id)
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    started = time.monotonic()
    if settings.serving_path.exists() and settings.engine == "duckdb":
        shutil.copyfile(settings.serving_path, candidate_path(settings, run_id))
    staging = _carry_incremental_state(settings, run_id, full_refresh)
    copy_seconds = round(time.monotonic() - started, 2)
    out = _dbt_build(
        settings, ds, run_id, ["--select", IDENTITY_SELECTION], kept_tables=kept_tables(settings)
    )
    return {
        "copy_seconds": copy_seconds,
        "seconds": round(time.monotonic() - started, 2),
        "incremental_staging": staging,
        **out,
    }


def kept_tables(settings: Settings) -> dict[str, Path] | None:
    """On Spark, the current publication's Parquet folder of each regulator table by
    ``schema.table``: where the models that keep their rows across publications (grade
    history, spot-check plans) start from (a DuckDB candidate starts as a copy of the
    published file instead). None on DuckDB or before the first Spark publication."""
    if settings.engine != "spark":
        return None
    marts = settings.serving_dir / publishing.PARQUET / warehouse.audience("regulator").name
    if not marts.is_dir():
        return None
    return {f"{s}.{t}": p for (s, t), p in warehouse.parquet_folders(marts.resolve()).items()}


def _carry_incremental_state(settings: Settings, run_id: str, full_refresh: bool) -> dict:
    """Record what this build reads of the raw zone; unless ``full_refresh``, carry the staged
    tables the last publication's build left that are still valid (per kind: why not)."""
    from panorama.build import incremental

    now = incremental.build_state(settings.raw_dir, settings.dbt_project_dir)
    served_run = (publishing.current_manifest(settings) or {}).get("run_id")
    now["unit_tests"] = "run"
    if served_run and not full_refresh:
        if incremental.unit_tests_passed_before(run_dir(settings, served_run), now):
            now["unit_tests"] = f"passed in the build of {served_run}, same project"
    incremental.write_raw_state(run_dir(settings, run_id), now)
    if full_refresh:
        return {kind: "full refresh" for kind in now["raw"]}
    if settings.engine != "duckdb":  # a Spark build starts from the raw zone
        return {kind: f"{settings.engine} engine: built from every load" for kind in now["raw"]}
    if not served_run:
        return {kind: "nothing published" for kind in now["raw"]}
    return incremental.carry_staged(
        candidate_path(settings, run_id),
        built_path(settings, served_run),
        run_dir(settings, served_run),
        now,
    )


def retain_and_build_identity(
    ds: str, run_id: str, settings: Settings | None = None, full_refresh: bool = False
) -> dict[str, Any]:
    """The DAG's ``build_identity`` task: the raw zone's retention and compaction first
    (``feeds/README.md``, "Raw-zone lifecycle"), so the build reads only what it needs."""
    from panorama.ingest.rawzone import apply_lifecycle

    settings = settings or get_settings()
    check_logical_date(ds, settings)
    raw_zone = apply_lifecycle(settings)
    identity = build_identity(ds, run_id, settings, full_refresh=full_refresh)
    return {**identity, "raw_zone": raw_zone}


def resolve(ds: str, run_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """Probabilistic matching (Splink) of the records identifiers could not resolve; the
    trained model is kept with the run, and in ``matcher_model_dir`` for the next runs, which
    reuse it until a retrain is due."""
    from panorama.build.resolution import RetrainPolicy, match_unresolved

    settings = settings or get_settings()
    on_spark = settings.engine == "spark"
    return match_unresolved(
        spark_candidate(settings, run_id) if on_spark else candidate_path(settings, run_id),
        resolution_dir(settings, run_id),
        run_dir(settings, run_id) / "resolution_model",
        memory_limit=settings.duckdb_memory_limit,
        kept_model_dir=settings.matcher_model_dir,
        as_of=ds,
        policy=RetrainPolicy(settings.matcher_retrain_days, settings.matcher_max_rate_drift),
        engine=settings.engine,
    )


def build(ds: str, run_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """Build everything downstream of resolution, with the probabilistic matches."""
    settings = settings or get_settings()
    started = time.monotonic()
    out = _dbt_build(
        settings,
        ds,
        run_id,
        ["--exclude", IDENTITY_SELECTION],
        extra_vars={"use_probabilistic_matches": True},
    )
    return {"seconds": round(time.monotonic() - started, 2), **out}


def build_all(ds: str, run_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """The three build steps in one call (benchmarks, tools); the DAG runs them as tasks."""
    settings = settings or get_settings()
    return {
        "build_identity": build_identity(ds, run_id, settings),
        "resolve": resolve(ds, run_id, settings),
        "build": build(ds, run_id, settings),
    }


def audit(
    ds: str,
    run_id: str,
    settings: Settings | None = None,
    accept: BaselineAcceptance | None = None,
) -> dict[str, Any]:
    """Audit the candidate against dbt tests and GX; raise AuditFailed to stop the run.

    ``accept`` lets named comparisons with the last publication fail for this run (a
    deliberate change), with the reason recorded."""
    settings = settings or get_settings()
    rdir = run_dir(settings, run_id)
    baseline = publishing.baseline_from_manifest(publishing.current_manifest(settings))
    if settings.engine == "spark":
        spark_candidate(settings, run_id)
    report = audit_candidate(
        settings,
        candidate_path(settings, run_id),
        rdir,
        as_of=ds,
        run_id=run_id,
        baseline=baseline,
        accept=accept,
    )
    log.info(report.headline())
    if not report.passed:
        raise AuditFailed(report)
    return report.to_dict()


def generate_docs(ds: str, run_id: str, settings: Settings) -> Path:
    """Docs kept beside the publication: dbt docs of the candidate (``index.html``) and the
    Great Expectations data docs of its audit (``gx/``)."""
    rdir = run_dir(settings, run_id)
    docs = rdir / "docs"
    docs.mkdir(exist_ok=True)
    result = run_dbt(
        ["docs", "generate"],
        settings=settings,
        db_path=candidate_path(settings, run_id),
        run_dir=rdir,
        as_of=ds,
        run_id=run_id,
    )
    if result.success:
        for name in ("index.html", "catalog.json", "manifest.json"):
            src = rdir / "dbt_target" / name
            if src.exists():
                shutil.copyfile(src, docs / name)
    else:
        log.warning("dbt docs generate failed; publishing without dbt docs:\n%s", result.log_tail)
    if (rdir / "gx_docs").exists():
        shutil.copytree(rdir / "gx_docs", docs / "gx", dirs_exist_ok=True)
    return docs


def publish(
    ds: str,
    run_id: str,
    input_manifests: list[dict[str, Any]],
    settings: Settings | None = None,
) -> dict[str, Any]:
    settings = settings or get_settings()
    rdir = run_dir(settings, run_id)
    audit_path = rdir / "audit.json"
    audit_report = json.loads(audit_path.read_text(encoding="utf-8")) if audit_path.exists() else {}
    if not audit_report.get("passed"):
        raise RuntimeError(f"refusing to publish run {run_id}: no passing audit in {audit_path}")
    on_spark = settings.engine == "spark"
    candidate = marts_path(settings, run_id) if on_spark else candidate_path(settings, run_id)
    if not (candidate.is_dir() if on_spark else candidate.is_file()):
        raise RuntimeError(
            f"refusing to publish run {run_id}: no candidate at {candidate} "
            "(published already or taken by an interrupted publication; start a new run)"
        )
    audited = audit_report.get("candidate") or {}
    if {k: audited.get(k) for k in ("size", "mtime_ns")} != {
        k: v for k, v in fingerprint(candidate).items() if k != "path"
    }:
        raise RuntimeError(
            f"refusing to publish run {run_id}: {candidate} changed after its audit; audit again"
        )
    docs = generate_docs(ds, run_id, settings)
    return publishing.publish(
        settings,
        candidate,
        run_id=run_id,
        logical_date=ds,
        input_manifests=input_manifests,
        audit=audit_report,
        docs_dir=docs,
    )

"""The publication gate: dbt data tests plus the Great Expectations checkpoint, over a candidate.

The candidate passes only when no error-severity dbt test fails and every expectation holds.
The report names what failed with a few example keys; it never carries personal data.

A deliberate change (new risk weights, a department re-sending its history) moves row counts or
grade shares past the band the gate allows against the last publication. The operator then
accepts that change for one run, with a reason (:class:`BaselineAcceptance`): those comparisons
still run and are reported, but do not stop the run; the reason goes into the audit and the
publication manifest. The same goes for a feed that kept rows before and whose delivery for
this date kept none (``feed_empty``, or ``feed_empty:<feed>`` for one feed): a department that
really had nothing to report. No other check can be waived.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from panorama import warehouse
from panorama.build.dbt_runner import DbtResult, run_dbt, spark_warehouse
from panorama.identity.pii import mask_personal_data
from panorama.settings import Settings


def mask_pii(text: str) -> str:
    """Any ID-card-shaped or mobile-shaped part of ``text`` replaced by a label."""
    return str(mask_personal_data(text))


BASELINE_CHECKS = ("row_count", "grade_shares")
FEED_EMPTY = "feed_empty"
_ACCEPTABLE = re.compile(rf"^(?:{'|'.join(BASELINE_CHECKS)}|{FEED_EMPTY}(?::[a-z0-9_]+)?)$")


@dataclass(frozen=True)
class BaselineAcceptance:
    """Comparisons with the last publication that one run may fail, and why."""

    checks: tuple[str, ...]
    reason: str

    @classmethod
    def from_conf(cls, checks: object, reason: object) -> BaselineAcceptance | None:
        """From a DAG run's conf (``accept_baseline_change``, ``accept_reason``); None if empty."""
        if not checks:
            return None
        items = [checks] if isinstance(checks, str) else list(checks)
        unknown = [c for c in items if not _ACCEPTABLE.match(str(c))]
        if unknown:
            raise ValueError(
                f"accept_baseline_change: {unknown} unknown; only {list(BASELINE_CHECKS)} "
                f"(comparisons with the last publication) and {FEED_EMPTY} or "
                f"{FEED_EMPTY}:<feed> (a feed that kept rows before delivered none) can be accepted"
            )
        text = str(reason or "").strip()
        if len(text) < 10:
            raise ValueError(
                "accept_reason: say why the change is expected (at least 10 characters); "
                "it is kept in the audit and the publication manifest"
            )
        return cls(tuple(dict.fromkeys(items)), text)

    def waives_feed(self, feed: str) -> bool:
        return FEED_EMPTY in self.checks or f"{FEED_EMPTY}:{feed}" in self.checks


def _landed_totals(manifest: dict) -> dict:
    """The accounting of what a date holds (a failed load kept the date's previous manifest)."""
    if manifest.get("status") == "failed":
        manifest = manifest.get("previous") or {}
    return manifest.get("totals") or {}


def empty_feeds(manifests_dir: Path, ds: str) -> list[dict[str, Any]]:
    """Feeds whose load for ``ds`` took files but kept no row, while an earlier load of the same
    feed kept rows (from the load manifests). A date without any file for a feed is no delivery
    (weekly feeds, nothing new) and is not reported here."""
    out = []
    for path in sorted(manifests_dir.glob(f"*/load_date={ds}.json")):
        current = json.loads(path.read_text(encoding="utf-8"))
        totals = _landed_totals(current)
        if not totals.get("files") or totals.get("rows_kept", 0) > 0:
            continue
        feed = path.parent.name
        earlier = sorted(path.parent.glob("load_date=*.json"), reverse=True)
        for prev_path in earlier:
            prev_ds = prev_path.stem.removeprefix("load_date=")
            if prev_ds >= ds:
                continue
            prev = _landed_totals(json.loads(prev_path.read_text(encoding="utf-8")))
            if prev.get("rows_kept", 0) > 0:
                out.append(
                    {
                        "check": FEED_EMPTY,
                        "feed": feed,
                        "message": (
                            f"feed {feed} delivered {totals['files']} file(s) for {ds} and no "
                            f"row was kept ({totals.get('files_rejected', 0)} file(s) rejected, "
                            f"{totals.get('rows_quarantined', 0)} row(s) quarantined); its last "
                            f"load with rows, {prev_ds}, kept {prev['rows_kept']}"
                        ),
                        "last_load_with_rows": prev_ds,
                    }
                )
                break
    return out


class AuditFailed(RuntimeError):
    """The candidate did not pass the gate; the serving file was not touched."""

    def __init__(self, report: AuditReport):
        self.report = report
        super().__init__(report.headline())


@dataclass
class AuditReport:
    run_id: str
    as_of: str
    passed: bool
    seconds: float
    dbt_summary: dict[str, int] = field(default_factory=dict)
    dbt_failures: list[dict[str, Any]] = field(default_factory=list)
    gx: dict[str, Any] = field(default_factory=dict)
    # which file was audited: publish refuses a candidate changed after its audit
    candidate: dict[str, Any] = field(default_factory=dict)
    # comparisons with the last publication accepted for this run: checks, reason, and the
    # failures they let through
    accepted: dict[str, Any] | None = None
    # feeds that kept rows before and whose delivery for this date kept none (load manifests)
    empty_feeds: list[dict[str, Any]] = field(default_factory=list)
    # `dbt source freshness` of the raw zone (newest `_loaded_at` per kind); an error stops
    freshness: list[dict[str, Any]] = field(default_factory=list)
    # where the dbt test results come from: this audit, or an earlier audit of the same
    # candidate, unchanged since (a run audited again with an acceptance)
    dbt_results_of: str = "this audit"

    def headline(self) -> str:
        if self.passed:
            line = f"audit passed ({self.dbt_summary}, GX {self.gx.get('statistics', {})})"
            if self.accepted and self.accepted.get("waived"):
                waived = "; ".join(f["message"] for f in self.accepted["waived"])
                line += f"; accepted ({self.accepted['reason']}): {waived}"
            return line
        lines = ["audit FAILED: candidate not published"]
        for f in self.freshness:
            if f["status"] == "runtime error":
                lines.append(f"  freshness of {f['source']} not checked: {f['message']}")
            elif f["status"] not in ("pass", "warn"):
                lines.append(f"  stale source {f['source']}: {f['message']}")
        for f in self.empty_feeds:
            if not f.get("waived"):
                lines.append(f"  {f['message']} (accept with {FEED_EMPTY}:{f['feed']})")
        for f in self.dbt_failures:
            lines.append(f"  dbt {f['test']}: {f['message']} examples={f.get('examples', [])}")
        for f in self.gx.get("failures", []):
            lines.append(
                f"  GX {f.get('table')} {f.get('expectation')} {f.get('column') or ''}: "
                f"{f.get('message')} examples={f.get('examples', [])}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _failure_examples(db_path: Path, relation: str | None, limit: int = 5) -> list[str]:
    """A few rows of a stored test failure, rendered short and masked."""
    if not relation:
        return []
    from panorama import warehouse

    try:
        rows = warehouse.query(db_path, f"select * from {relation} limit {limit}")
    except Exception as exc:  # the relation may be absent when the test errored before storing
        return [f"(no stored failures: {type(exc).__name__})"]
    return [mask_pii("|".join("" if v is None else str(v) for v in row))[:200] for row in rows]


def _dbt_failures(result: DbtResult, db_path: Path, target_dir: Path) -> list[dict[str, Any]]:
    relations = _failure_relations(target_dir)
    failures = []
    for node in result.failed_nodes():
        if node.resource_type not in ("test", "unit_test"):
            continue
        failures.append(
            {
                "test": node.unique_id,
                "message": mask_pii(node.message or ""),
                "failures": node.failures,
                "examples": _failure_examples(db_path, relations.get(node.unique_id)),
            }
        )
    if not result.success and not failures:
        failures.append(
            {"test": "dbt test", "message": mask_pii(result.log_tail[-2000:]), "failures": None}
        )
    return failures


def _failure_relations(target_dir: Path) -> dict[str, str]:
    """unique_id -> relation holding stored failures (from run_results.json)."""
    path = target_dir / "run_results.json"
    if not path.exists():
        return {}
    out = {}
    for r in json.loads(path.read_text(encoding="utf-8")).get("results", []):
        rel = r.get("relation_name")
        if rel:
            out[r["unique_id"]] = rel
    return out


def source_freshness(
    settings: Settings, candidate: Path, run_dir: Path, as_of: str, run_id: str
) -> list[dict[str, Any]]:
    """``dbt source freshness`` of the raw zone's sources (``_loaded_at``): per source its
    status (pass / warn / error / runtime error), newest load and age in hours."""
    result = run_dbt(
        ["source", "freshness", "--output", str(run_dir / "dbt_target" / "sources.json")],
        settings=settings,
        db_path=candidate,
        run_dir=run_dir,
        as_of=as_of,
        run_id=run_id,
    )
    path = run_dir / "dbt_target" / "sources.json"
    if not path.exists():
        return [
            {
                "source": "raw",
                "status": "runtime error",
                "message": mask_pii(result.log_tail[-500:]),
            }
        ]
    out = []
    for r in json.loads(path.read_text(encoding="utf-8")).get("results", []):
        age = r.get("max_loaded_at_time_ago_in_s")
        hours = None if age is None else round(age / 3600, 1)
        status = r.get("status", "runtime error")
        out.append(
            {
                "source": r["unique_id"].removeprefix("source.credit_panorama."),
                "status": status,
                "max_loaded_at": r.get("max_loaded_at"),
                "age_hours": hours,
                "message": f"newest load {hours} h old ({status})"
                if hours is not None
                else mask_pii(str(r.get("message") or status))[:300],
            }
        )
    if result.returncode != 0:
        # a source dbt could not check has no result at all: each is a runtime error, so a
        # freshness that was not checked stops the publication as a stale one does
        checked = {f["source"] for f in out}
        for source in sorted(_sources_with_freshness(run_dir / "dbt_target") - checked):
            out.append(
                {
                    "source": source,
                    "status": "runtime error",
                    "message": mask_pii(result.log_tail[-300:]),
                }
            )
    return sorted(out, key=lambda f: f["source"])


def _sources_with_freshness(target_dir: Path) -> set[str]:
    """The sources with a ``loaded_at_field`` in the manifest dbt wrote (``raw`` when there
    is none to read: the whole check then counts as failed)."""
    path = target_dir / "manifest.json"
    if not path.exists():
        return {"raw"}
    sources = json.loads(path.read_text(encoding="utf-8")).get("sources", {})
    return {
        uid.removeprefix("source.credit_panorama.")
        for uid, source in sources.items()
        if source.get("loaded_at_field")
    }


def fingerprint(path: Path) -> dict[str, Any]:
    """Identity of a candidate as audited (size and modification time, nanoseconds): of the
    file, or of a folder of Parquet marts (total size, newest file)."""
    if path.is_dir():
        stats = [f.stat() for f in path.rglob("*") if f.is_file()]
        size = sum(st.st_size for st in stats)
        return {
            "path": str(path),
            "size": size,
            "mtime_ns": max((st.st_mtime_ns for st in stats), default=0),
        }
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def check_feeds(
    manifests_dir: Path, as_of: str, accept: BaselineAcceptance | None = None
) -> list[dict[str, Any]]:
    """:func:`empty_feeds` for this date, each marked ``waived`` when the run accepted it; an
    empty feed that is not waived fails the audit."""
    feeds = empty_feeds(manifests_dir, as_of)
    for f in feeds:
        f["waived"] = bool(accept and accept.waives_feed(f["feed"]))
    return feeds


def _dbt_test(
    settings: Settings, candidate: Path, run_dir: Path, as_of: str, run_id: str
) -> DbtResult:
    """``dbt test`` of the data tests; those that fail run again storing their failing rows,
    which the report's examples come from. (Storing every test's rows, none when it passes,
    costs one table write per test: about a fifth of the tests' time at 100k entities.)"""
    kw = {"settings": settings, "db_path": candidate, "run_dir": run_dir}
    kw |= {"as_of": as_of, "run_id": run_id}
    result = run_dbt(["test", "--exclude-resource-type", "unit_test"], **kw)
    failed = [n.unique_id.split(".")[2] for n in result.failed_nodes() if n.resource_type == "test"]
    if failed:
        run_dbt(["test", "--store-failures", "--select", *failed], **kw)
    return result


def _earlier_dbt_results(
    run_dir: Path, as_of: str, current: dict[str, Any]
) -> tuple[dict[str, int], list[dict[str, Any]]] | None:
    """The dbt test summary and failures of this run's last audit, when that audit was of the
    file as it is now (same fingerprint, same date): the data tests would find the same. An
    operator who accepts a comparison with the last publication after a stopped audit then
    waits for the Great Expectations checkpoint only."""
    path = run_dir / "audit.json"
    if not path.exists():
        return None
    earlier = json.loads(path.read_text(encoding="utf-8"))
    if earlier.get("as_of") != as_of or earlier.get("candidate") != current:
        return None
    if not earlier.get("dbt_summary"):
        return None
    return earlier["dbt_summary"], earlier.get("dbt_failures") or []


def audit_candidate(
    settings: Settings,
    candidate: Path,
    run_dir: Path,
    as_of: str,
    run_id: str,
    baseline: dict | None,
    accept: BaselineAcceptance | None = None,
) -> AuditReport:
    """Run dbt data tests (storing the failures) and the GX checkpoint; write ``audit.json``."""
    from panorama.gate.gx_audit import run_checkpoint

    started = time.monotonic()
    freshness = source_freshness(settings, candidate, run_dir, as_of, run_id)
    stored = spark_warehouse(run_dir) if settings.engine == "spark" else candidate
    earlier = _earlier_dbt_results(run_dir, as_of, fingerprint(stored))
    if earlier is not None:
        dbt_summary, dbt_failures = earlier
        dbt_passed = not dbt_failures
    else:
        dbt = _dbt_test(settings, candidate, run_dir, as_of, run_id)
        if settings.engine == "spark":  # views over the marts and the failures dbt just stored
            warehouse.parquet_views(candidate, warehouse.parquet_folders(spark_warehouse(run_dir)))
        dbt_summary = dbt.summary()
        dbt_failures = _dbt_failures(dbt, candidate, run_dir / "dbt_target")
        dbt_passed = dbt.success and not dbt_failures
    gx = run_checkpoint(
        candidate,
        as_of=date.fromisoformat(as_of),
        run_id=run_id,
        docs_dir=run_dir / "gx_docs",
        baseline=baseline,
        engine=settings.engine,
    )
    # after dbt stored its test failures in the file (in the marts on Spark)
    audited = fingerprint(stored)
    waived = [f for f in gx.failures if accept and f.get("baseline") in accept.checks]
    gx_passed = len(waived) == len(gx.failures)
    feeds = check_feeds(settings.manifests_dir, as_of, accept)
    waived += [f for f in feeds if f["waived"]]
    report = AuditReport(
        run_id=run_id,
        as_of=as_of,
        passed=dbt_passed
        and gx_passed
        and all(f["waived"] for f in feeds)
        and all(f["status"] in ("pass", "warn") for f in freshness),
        seconds=round(time.monotonic() - started, 2),
        dbt_summary=dbt_summary,
        dbt_failures=dbt_failures,
        dbt_results_of=(
            "an earlier audit of this candidate" if earlier is not None else "this audit"
        ),
        gx=gx.to_dict(),
        candidate=audited,
        accepted=(
            {"checks": list(accept.checks), "reason": accept.reason, "waived": waived}
            if accept
            else None
        ),
        empty_feeds=feeds,
        freshness=freshness,
    )
    (run_dir / "audit.json").write_text(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    return report

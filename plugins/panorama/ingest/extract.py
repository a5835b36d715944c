"""Extract one feed for one logical date: sources -> normalised raw Parquet + quarantine +
manifest. See ``feeds/README.md`` for the contract.

:func:`extract_feed` is what an Airflow task calls (one mapped task per feed). It never opens
a warehouse file, so feeds extract in parallel.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import unicodedata
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from panorama.ingest.connectors import (
    BadLine,
    RestartSource,
    Source,
    SourceBatch,
    SourceUnreadable,
    TransportError,
    open_sources,
)
from panorama.ingest.feeds import FeedSpec, ResolvedColumn, load_feed
from panorama.ingest.kinds import get_kind
from panorama.ingest.normalize import CONTROL_REASON, bad_indices, normalize, reason
from panorama.ingest.quarantine import (
    FIELD_CLEANED,
    FIELD_NULLED,
    ROW_REJECTED,
    ROWS_SCHEMA,
    QuarantineWriter,
)
from panorama.ingest.rawzone import LandingIndex, PartitionWriter
from panorama.settings import Settings, get_settings

log = logging.getLogger(__name__)
_DS = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NULL = pa.scalar(None, pa.string())


class FeedError(Exception):
    """The feed cannot be loaded for this date (its task fails; other feeds go on)."""


@dataclass
class FileReport:
    name: str
    sha256: str | None = None
    size_bytes: int | None = None
    status: str = "loaded"  # loaded | rejected
    reason: str | None = None
    rows_read: int = 0
    rows_kept: int = 0
    rows_quarantined: int = 0
    fields_nulled: int = 0  # bad non-key values set to null (the rows are kept)
    fields_cleaned: int = 0  # values kept after removing control characters
    rows_rejected: int = 0  # rows of a file rejected whole, when they could be counted
    duplicate_rows: int = 0
    columns: list[str] = field(default_factory=list)
    batch_id: str | None = None  # the load that landed the file
    part: str | None = None  # its part in the partition (None: no row kept)


@dataclass
class LoadManifest:
    feed: str
    kind: str
    department: str
    ds: str
    run_id: str | None
    batch_id: str
    loaded_at: str
    status: str = "ok"  # ok | warning | failed
    error: str | None = None
    files: list[FileReport] = field(default_factory=list)
    columns_seen: list[str] = field(default_factory=list)
    unmapped_columns: list[str] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)  # unmapped and not known_unmapped
    missing_optional_columns: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    raw_path: str | None = None
    quarantine_path: str | None = None
    # what this load did: files new / replaced / kept unchanged / skipped as landed already
    landing: dict[str, int] = field(default_factory=dict)
    previous: dict | None = None  # a failed load: the date's last manifest that did not fail

    def to_dict(self) -> dict:
        return asdict(self)


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).replace("\ufeff", "").replace(" ", "").casefold()


def resolve_sources(plan: list[ResolvedColumn], columns: list[str]) -> dict[str, str | None]:
    """Canonical field -> delivered column name (exact name first, then NFKC/case-insensitive)."""
    exact = set(columns)
    loose: dict[str, str] = {}
    for c in columns:
        loose.setdefault(_key(c), c)
    out: dict[str, str | None] = {}
    for rc in plan:
        if rc.source is None:
            out[rc.field] = None
        elif rc.source in exact:
            out[rc.field] = rc.source
        else:
            out[rc.field] = loose.get(_key(rc.source))
    return out


def _json_string(arr: pa.Array) -> pa.Array:
    for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        arr = pc.replace_substring(arr, old, new)
    return pc.fill_null(pc.binary_join_element_wise('"', arr, '"', ""), "null")


def extras_json(table: pa.Table, columns: list[str]) -> pa.Array:
    """Per row, a JSON object of the unmapped columns (null when there are none)."""
    n = table.num_rows
    if not columns:
        return pa.nulls(n, pa.string())
    pieces = [
        pc.binary_join_element_wise(
            json.dumps(c, ensure_ascii=False) + ":",
            _json_string(table.column(c).combine_chunks()),
            "",
        )
        for c in columns
    ]
    body = pc.binary_join_element_wise(*pieces, ",") if len(pieces) > 1 else pieces[0]
    out = pc.binary_join_element_wise("{", body, "}", "")
    ctrl = pc.fill_null(pc.match_substring_regex(out, r"[\x00-\x08\x0b\x0c\x0e-\x1f]"), False)
    if pc.any(ctrl).as_py():
        rows = table.select(columns).filter(ctrl).to_pylist()
        exact = [json.dumps(r, ensure_ascii=False) for r in rows]
        out = pc.replace_with_mask(out, ctrl, pa.array(exact, pa.string()))
    return out


class _Duplicates:
    """Counts exact duplicate records (all delivered columns equal) with 64-bit row hashes."""

    def __init__(self) -> None:
        import duckdb

        self._con = duckdb.connect()
        self.load_hashes: list[np.ndarray] = []

    def hashes(self, table: pa.Table) -> np.ndarray:
        if table.num_columns == 0 or table.num_rows == 0:
            return np.zeros(table.num_rows, dtype=np.uint64)
        self._con.register("batch_rows", table)
        try:
            res = self._con.sql("select hash(*COLUMNS(*)) as h from batch_rows").to_arrow_table()
        finally:
            self._con.unregister("batch_rows")
        return res.column(0).to_numpy()

    @staticmethod
    def count(parts: list[np.ndarray]) -> int:
        if not parts:
            return 0
        allh = np.sort(np.concatenate(parts))
        return int(np.count_nonzero(allh[1:] == allh[:-1]))


@dataclass
class _Context:
    spec: FeedSpec
    plan: list[ResolvedColumn]
    batch_id: str
    loaded_at: str
    date_formats: list[str]
    max_date: str | None = None  # dates after it are implausible (except end-of-validity dates)


def max_plausible_date(ds: str, spec: FeedSpec) -> str:
    """The latest plausible date of a feed's records: the logical date + the feed's tolerance."""
    return (date.fromisoformat(ds) + timedelta(days=spec.future_date_tolerance_days)).isoformat()


def _constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _process_batch(
    ctx: _Context, source: Source, batch: SourceBatch, mapping: dict[str, str | None]
) -> tuple[pa.Table, pa.Table]:
    """Normalise one batch; returns (kept rows in the raw schema, quarantine rows).

    A bad value of a key or required field (or an empty required field) rejects the row; a bad
    value of any other field is set to null and, like a value cleaned of control characters,
    recorded in the row's ``_issues`` and as a quarantine row of its own (the row is kept)."""
    table = batch.table
    n = table.num_rows
    cols: dict[str, pa.Array] = {}
    failures: list[tuple[ResolvedColumn, np.ndarray, pa.Array | None, pa.Array | None]] = []
    cleanups: list[tuple[ResolvedColumn, np.ndarray]] = []
    for rc in ctx.plan:
        src_name = mapping.get(rc.field)
        if rc.value is not None:
            arr = _constant(rc.value, n)
        elif src_name is not None:
            arr = table.column(src_name).combine_chunks()
        else:
            cols[rc.field] = pa.nulls(n, pa.string())
            continue
        norm = normalize(
            arr,
            rc.type,
            date_formats=ctx.date_formats,
            unit=rc.unit,
            amount_range=rc.amount_range,
            max_date=None if rc.future_ok else ctx.max_date,
        )
        cols[rc.field] = norm.values
        bad = bad_indices(norm.bad)
        if bad.size:
            failures.append((rc, bad, arr, norm.why))
        cleaned = bad_indices(norm.cleaned)
        if cleaned.size:
            cleanups.append((rc, cleaned))
        if rc.required:
            empty = pc.is_null(norm.values)
            if norm.bad is not None:
                empty = pc.and_(empty, pc.invert(norm.bad))
            missing = bad_indices(empty)
            if missing.size:
                failures.append((rc, missing, None, None))
    used = {s for s in mapping.values() if s is not None}
    unmapped = [c for c in table.column_names if c not in used]
    cols["_extras"] = extras_json(table, unmapped)
    cols["_feed"] = _constant(ctx.spec.name, n)
    cols["_source_file"] = _constant(source.name, n)
    cols["_source_row"] = pa.array(np.arange(batch.first_row, batch.first_row + n, dtype=np.int64))
    cols["_batch_id"] = _constant(ctx.batch_id, n)
    cols["_loaded_at"] = _constant(ctx.loaded_at, n)
    if not failures and not cleanups:
        cols["_issues"] = pa.nulls(n, pa.string())
        return pa.table(cols), ROWS_SCHEMA.empty_table()

    rejects: dict[int, list[tuple[str, str]]] = {}  # row -> (field, reason)
    issues: dict[int, list[tuple[str, str, str]]] = {}  # row -> (field, action, reason)
    order = {rc.field: i for i, rc in enumerate(ctx.plan)}
    for rc, rows, arr, why in failures:
        fatal = rc.key or rc.required
        if arr is None:
            texts = ["required field is empty"] * rows.size
        else:
            values = arr.take(pa.array(rows)).to_pylist()
            whys = why.take(pa.array(rows)).to_pylist() if why is not None else [None] * rows.size
            texts = [
                reason(rc.type, v, pii=rc.pii, why=w) for v, w in zip(values, whys, strict=True)
            ]
        for r, text in zip(rows.tolist(), texts, strict=True):
            if fatal:
                rejects.setdefault(r, []).append((rc.field, text))
            else:
                issues.setdefault(r, []).append((rc.field, "nulled", text))
    for rc, rows in cleanups:
        for r in rows.tolist():
            issues.setdefault(r, []).append((rc.field, "cleaned", CONTROL_REASON))
    for found in issues.values():
        found.sort(key=lambda f: order[f[0]])
    cols["_issues"] = pa.array(
        [_issues_json(issues[r]) if r in issues and r not in rejects else None for r in range(n)],
        pa.string(),
    )
    out = pa.table(cols)
    mask = np.zeros(n, dtype=bool)
    mask[list(rejects)] = True
    kept = out.filter(pa.array(~mask)) if rejects else out

    # Rejected rows: one quarantine row each, with every problem of the row.
    q_rows: list[tuple[int, str, str, str]] = []  # (row, action, field, reason)
    for r in rejects:
        problems = rejects[r] + [(f, m) for f, _, m in issues.get(r, [])]
        problems.sort(key=lambda p: order[p[0]])
        q_rows.append(
            (
                r,
                ROW_REJECTED,
                ",".join(dict.fromkeys(f for f, _ in problems)),
                "; ".join(f"{f}: {m}" for f, m in problems),
            )
        )
    # Kept rows with field issues: one quarantine row per field.
    for r, found in issues.items():
        if r in rejects:
            continue
        for f, action, m in found:
            q_action = FIELD_NULLED if action == "nulled" else FIELD_CLEANED
            q_rows.append((r, q_action, f, f"{f}: {m}"))
    q_rows.sort(key=lambda q: (q[0], order.get(q[2].split(",")[0], 0)))
    rows_at = [q[0] for q in q_rows]
    q = pa.table(
        {
            "_feed": _constant(ctx.spec.name, len(q_rows)),
            "_source_file": _constant(source.name, len(q_rows)),
            "_source_row": pa.array([batch.first_row + r for r in rows_at], pa.int64()),
            "field": pa.array([q[2] for q in q_rows], pa.string()),
            "reason": pa.array([q[3] for q in q_rows], pa.string()),
            "raw_line": pa.array(batch.raw_lines(rows_at), pa.string()),
            "action": pa.array([q[1] for q in q_rows], pa.string()),
        },
        schema=ROWS_SCHEMA,
    )
    return kept, q


def _issues_json(found: list[tuple[str, str, str]]) -> str:
    """``[{"field": .., "action": "nulled"|"cleaned", "reason": ..}]`` of one kept record."""
    return json.dumps(
        [{"field": f, "action": a, "reason": m} for f, a, m in found], ensure_ascii=False
    )


def _tally(report: FileReport, q: pa.Table) -> None:
    """Add one batch's quarantine rows to the file report: rejected rows and flagged fields
    (a row without a field action is a rejected row)."""
    if q.num_rows == 0:
        return
    counts = Counter(q.column("action").to_pylist())
    nulled, cleaned = counts[FIELD_NULLED], counts[FIELD_CLEANED]
    report.rows_quarantined += q.num_rows - nulled - cleaned
    report.fields_nulled += nulled
    report.fields_cleaned += cleaned


def _check_columns(ctx: _Context, source: Source, mapping: dict[str, str | None]) -> None:
    for rc in ctx.plan:
        if rc.required and rc.source is not None and mapping.get(rc.field) is None:
            raise FeedError(
                f"feed {ctx.spec.name}: {source.name}: required column {rc.source!r} "
                f"(field {rc.field}) not found; delivered columns: {source.columns}"
            )


def _bad_lines_table(ctx: _Context, source: Source, lines: list[BadLine]) -> pa.Table:
    """Quarantine rows for records the reader could not parse (no field: the whole line)."""
    n = len(lines)
    return pa.table(
        {
            "_feed": _constant(ctx.spec.name, n),
            "_source_file": _constant(source.name, n),
            "_source_row": pa.array([b.row for b in lines], pa.int64()),
            "field": pa.nulls(n, pa.string()),
            "reason": pa.array([b.reason for b in lines], pa.string()),
            "raw_line": pa.array([b.raw_line for b in lines], pa.string()),
            "action": _constant(ROW_REJECTED, n),
        },
        schema=ROWS_SCHEMA,
    )


def _renumbered(table: pa.Table, batch: SourceBatch) -> pa.Table:
    """``_source_row`` of a batch whose rows are not consecutive (records between them did not
    parse): the reader's row numbers instead of ``first_row + i``."""
    if batch.row_numbers is None or table.num_rows == 0:
        return table
    at = pc.subtract(table.column("_source_row"), batch.first_row).to_numpy()
    rows = pa.array(batch.row_numbers[at], pa.int64())
    return table.set_column(table.schema.get_field_index("_source_row"), "_source_row", rows)


def _load_source(
    ctx: _Context,
    source: Source,
    raw: PartitionWriter,
    quar: QuarantineWriter,
    dups: _Duplicates,
) -> tuple[FileReport, set[str]]:
    """Load one source; returns its report and the ``field\0column`` pairs that were mapped."""
    for _attempt in range(2):
        report = FileReport(name=source.name)
        part, qpart = raw.part(), quar.rows_part()
        hashes: list[np.ndarray] = []
        checked = False
        mapped: set[str] = set()
        try:
            source.prepare()
            if source.columns and not source.keyed_records:
                _check_columns(ctx, source, resolve_sources(ctx.plan, source.columns))
            for batch in source.batches():
                if batch.bad_lines:
                    qpart.write(_bad_lines_table(ctx, source, batch.bad_lines))
                    report.rows_read += len(batch.bad_lines)
                    report.rows_quarantined += len(batch.bad_lines)
                if batch.table.num_rows == 0 and batch.bad_lines:
                    continue
                if source.keyed_records:
                    mapping = resolve_sources(ctx.plan, batch.table.column_names)
                else:
                    mapping = resolve_sources(ctx.plan, source.columns)
                if not checked:
                    _check_columns(ctx, source, mapping)
                    checked = True
                mapped |= {f"{k}\x00{v}" for k, v in mapping.items() if v is not None}
                kept, rejected = _process_batch(ctx, source, batch, mapping)
                kept, rejected = _renumbered(kept, batch), _renumbered(rejected, batch)
                part.write(kept)
                qpart.write(rejected)
                hashes.append(dups.hashes(batch.table))
                report.rows_read += batch.table.num_rows
                report.rows_kept += kept.num_rows
                _tally(report, rejected)
            if not checked and not source.keyed_records:
                mapping = resolve_sources(ctx.plan, source.columns)
                _check_columns(ctx, source, mapping)
                mapped |= {f"{k}\x00{v}" for k, v in mapping.items() if v is not None}
        except RestartSource:
            part.discard()
            qpart.discard()
            continue
        except SourceUnreadable as exc:
            part.discard()
            qpart.discard()
            report = FileReport(
                name=source.name,
                sha256=source.sha256,
                size_bytes=source.size_bytes,
                status="rejected",
                reason=exc.reason,
                rows_read=exc.rows_read,
                rows_rejected=exc.rows_read,
            )
            quar.reject_file(source.name, exc.reason, source.sha256, source.size_bytes)
            log.warning("feed %s: %s rejected whole: %s", ctx.spec.name, source.name, exc.reason)
            return report, set()
        except BaseException:
            part.discard()
            qpart.discard()
            raise
        part.close()
        qpart.close()
        report.sha256 = source.sha256
        report.size_bytes = source.size_bytes
        report.columns = list(source.columns)
        report.duplicate_rows = _Duplicates.count(hashes)
        dups.load_hashes.extend(hashes)
        if report.rows_read != report.rows_kept + report.rows_quarantined:
            raise FeedError(
                f"feed {ctx.spec.name}: {source.name}: accounting mismatch: read "
                f"{report.rows_read} != kept {report.rows_kept} + quarantined "
                f"{report.rows_quarantined}"
            )
        return report, mapped
    raise FeedError(f"feed {ctx.spec.name}: {source.name}: could not be read consistently")


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def manifest_path(settings: Settings, feed: str, ds: str) -> Path:
    return settings.manifests_dir / feed / f"load_date={ds}.json"


def _landing_verdict(
    index: LandingIndex, landed: dict[str, dict], name: str, sha256: str | None, taken: set[str]
) -> str:
    """``unchanged``: the date's partition holds this file as it is; ``landed``: this content
    landed already (under another date or name, or twice in this delivery); else ``new``."""
    if sha256 is None:
        return "new"  # a database or API source: known once read
    entry = landed.get(name)
    if entry is not None and entry.get("sha256") == sha256:
        return "unchanged"
    if sha256 in taken or index.landed_under(sha256) is not None:
        return "landed"
    return "new"


def _report_of(entry: dict) -> FileReport:
    names = {f.name for f in fields(FileReport)}
    return FileReport(**{k: v for k, v in entry.items() if k in names})


def _refuse_erasure(feed: str, ds: str, landed: dict[str, dict], fresh: list[FileReport]) -> None:
    """A re-delivery for a date that holds rows must itself land rows: a file of it that is
    rejected, or keeps no row, fails the load and the landed partition stays as it was."""
    held = sum(e.get("rows_kept", 0) for e in landed.values())
    if not held:
        return
    for report in fresh:
        if report.status == "rejected" or report.rows_kept == 0:
            why = report.reason or (
                f"no row kept ({report.rows_read} read, {report.rows_quarantined} quarantined)"
            )
            what = "replacing a landed file" if report.name in landed else "a new file"
            raise FeedError(
                f"feed {feed}: {ds}: re-delivery {report.name} ({what}) refused: {why}; "
                f"the {held} row(s) landed for {ds} are kept (file sha256 {report.sha256})"
            )


def _previous_manifest(path: Path) -> dict | None:
    """The date's last manifest that was not a failure (kept inside a failed one)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if old.get("status") == "failed":
        return old.get("previous")
    old.pop("previous", None)
    return old


def extract_feed(
    feed: str | FeedSpec,
    ds: str,
    settings: Settings | None = None,
    run_id: str | None = None,
) -> LoadManifest:
    """Land the new deliveries of ``feed`` in ``raw/<feed>/load_date=<ds>/``.

    A delivered content is landed once (see ``feeds/README.md``, "Landing"): the load takes the
    files matching the feed's path whose content has not landed under any date, keeps what the
    date's partition holds (a file of the same name and new content replaces that file's rows),
    and skips the rest. Re-running a date on the same files leaves the partition untouched.

    Raises :class:`FeedError` when a required column is missing, the transport fails, a
    re-delivery for a date holding rows is rejected or keeps no row (the partition stays as it
    was), or no row at all was kept while ``expected_rows.min > 0``; the manifest is written
    either way (a failed one keeps the date's previous manifest under ``previous``).
    """
    started = time.perf_counter()
    settings = settings or get_settings()
    spec = feed if isinstance(feed, FeedSpec) else load_feed(settings.feeds_dir / f"{feed}.yaml")
    if not _DS.match(ds):
        raise FeedError(f"feed {spec.name}: logical date {ds!r} is not YYYY-MM-DD")
    kind = get_kind(spec.kind)
    batch_id = uuid.uuid4().hex[:16]
    manifest = LoadManifest(
        feed=spec.name,
        kind=spec.kind,
        department=spec.department,
        ds=ds,
        run_id=run_id,
        batch_id=batch_id,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    ctx = _Context(
        spec,
        spec.resolved_columns(),
        batch_id,
        manifest.loaded_at,
        spec.date_formats,
        max_plausible_date(ds, spec),
    )
    index = LandingIndex(settings.raw_dir, spec.name)
    landed = index.files(ds)
    raw = PartitionWriter(settings.raw_dir, spec.name, ds, batch_id, kind.raw_schema())
    quar = QuarantineWriter(settings.quarantine_dir, spec.name, ds, batch_id)
    dups = _Duplicates()
    mpath = manifest_path(settings, spec.name, ds)
    fresh: list[FileReport] = []
    mapped_of: dict[str, list[str]] = {}
    taken: set[str] = set()
    across_of: dict[str, int] = {}
    skipped = counted = 0
    manifest.files = fresh  # what this load read, until it is complete
    try:
        for source in open_sources(spec, settings):
            verdict = _landing_verdict(index, landed, source.name, source.sha256, taken)
            if verdict != "new":
                skipped += verdict == "landed"
                continue
            mark = len(dups.load_hashes)
            report, used = _load_source(ctx, source, raw, quar, dups)
            verdict = _landing_verdict(index, landed, source.name, report.sha256, taken)
            if verdict != "new":  # a database or API content that landed already
                raw.drop_part()
                quar.drop_last(source.name)
                del dups.load_hashes[mark:]
                skipped += verdict == "landed"
                continue
            if report.sha256:
                taken.add(report.sha256)
            report.part = raw.name_part(report.sha256 or f"{batch_id}{len(fresh):04d}")
            report.batch_id = batch_id
            fresh.append(report)
            mapped_of[report.name] = sorted(used)
            # rows repeating a row of a file landed before it in this load
            total = _Duplicates.count(dups.load_hashes)
            across_of[report.name] = total - counted - report.duplicate_rows
            counted = total
        _refuse_erasure(spec.name, ds, landed, fresh)
    except (FeedError, TransportError) as exc:
        raw.abort()
        quar.abort()
        manifest.status, manifest.error = "failed", str(exc)
        if isinstance(exc, TransportError):
            manifest.error = f"feed {spec.name}: {exc}"
        manifest.previous = _previous_manifest(mpath)
        manifest.seconds = round(time.perf_counter() - started, 3)
        _write_json(mpath, manifest.to_dict())
        log.error("%s", manifest.error)
        if isinstance(exc, FeedError):
            raise
        raise FeedError(manifest.error) from exc
    except BaseException:
        raw.abort()
        quar.abort()
        raise

    fresh_names = {r.name for r in fresh}
    carried = {name: e for name, e in sorted(landed.items()) if name not in fresh_names}
    manifest.files = sorted([*map(_report_of, carried.values()), *fresh], key=lambda r: r.name)
    for name, e in carried.items():
        mapped_of[name] = list(e.get("mapped", []))
        across_of[name] = e.get("duplicates_across", 0)
    mapped = {m for r in manifest.files for m in mapped_of.get(r.name, [])}
    seen: dict[str, None] = {}
    for r in manifest.files:
        seen.update(dict.fromkeys(r.columns))
    manifest.landing = {
        "files_new": sum(r.name not in landed for r in fresh),
        "files_replaced": sum(r.name in landed for r in fresh),
        "files_unchanged": len(carried),
        "files_already_landed": skipped,
    }
    loaded = [f for f in manifest.files if f.status == "loaded"]
    used_columns = {m.split("\x00")[1] for m in mapped}
    found_fields = {m.split("\x00")[0] for m in mapped}
    manifest.columns_seen = list(seen)
    manifest.unmapped_columns = [c for c in seen if c not in used_columns]
    manifest.missing_optional_columns = [
        rc.source
        for rc in ctx.plan
        if rc.source is not None and not rc.required and rc.field not in found_fields and loaded
    ]
    manifest.totals = {
        "files": len(manifest.files),
        "files_loaded": len(loaded),
        "files_rejected": len(manifest.files) - len(loaded),
        "rows_read": sum(f.rows_read for f in manifest.files),
        "rows_kept": sum(f.rows_kept for f in manifest.files),
        "rows_quarantined": sum(f.rows_quarantined for f in manifest.files),
        "fields_nulled": sum(f.fields_nulled for f in manifest.files),
        "fields_cleaned": sum(f.fields_cleaned for f in manifest.files),
        "rows_rejected": sum(f.rows_rejected for f in manifest.files),
        "duplicate_rows": sum(f.duplicate_rows + across_of[f.name] for f in manifest.files),
    }
    kept = manifest.totals["rows_kept"]
    expected = spec.expected_rows
    # nothing new for this date while earlier dates hold rows: those rows stay current
    nothing_new = not manifest.files and index.rows_landed_elsewhere(ds)
    if not manifest.files and skipped:
        manifest.warnings.append(
            f"no new delivery: the {skipped} file(s) found landed already (under another date "
            "or name)"
        )
    elif not manifest.files:
        manifest.warnings.append(f"no delivery found for {spec.transport.type} transport")
    if len(loaded) < len(manifest.files):
        manifest.warnings.append(f"{len(manifest.files) - len(loaded)} file(s) rejected whole")
    known = {_key(c) for c in spec.known_unmapped}
    manifest.new_columns = [c for c in manifest.unmapped_columns if _key(c) not in known]
    if manifest.new_columns:
        manifest.warnings.append(f"schema drift: unmapped columns {manifest.new_columns}")
    if not nothing_new and (
        kept < expected.min or (expected.max is not None and kept > expected.max)
    ):
        manifest.warnings.append(
            f"rows kept {kept} outside expected range [{expected.min}, {expected.max}]"
        )
    failed = kept == 0 and expected.min > 0 and not nothing_new
    changed = bool(fresh) or not raw.final.exists()
    if failed:
        raw.abort()
        manifest.status = "failed"
        manifest.error = (
            f"feed {spec.name}: no rows kept for {ds} (expected at least {expected.min}); "
            f"{manifest.totals['files_rejected']} file(s) rejected, "
            f"{manifest.totals['rows_quarantined']} row(s) quarantined"
        )
        manifest.previous = _previous_manifest(mpath)
    elif changed:
        for e in carried.values():
            if e.get("part"):
                raw.keep(e["part"])
        entries = [
            carried.get(r.name)
            or {**asdict(r), "mapped": mapped_of[r.name], "duplicates_across": across_of[r.name]}
            for r in manifest.files
        ]
        manifest.raw_path = str(raw.commit(entries))
    else:  # the same files again: the partition stays as it is
        raw.abort()
        manifest.raw_path = str(raw.final)
    if changed:
        quar.carry(set(carried))
        manifest.quarantine_path = str(quar.commit())
    else:
        quar.abort()
        manifest.quarantine_path = str(quar.final)
    if manifest.status != "failed" and manifest.warnings:
        manifest.status = "warning"
    manifest.seconds = round(time.perf_counter() - started, 3)
    _write_json(mpath, manifest.to_dict())
    log.info(
        "feed %s %s: %s read, %s kept, %s quarantined, %s file(s) rejected in %.1fs; landing %s",
        spec.name,
        ds,
        manifest.totals["rows_read"],
        kept,
        manifest.totals["rows_quarantined"],
        manifest.totals["files_rejected"],
        manifest.seconds,
        manifest.landing,
    )
    if failed:
        raise FeedError(manifest.error)
    return manifest

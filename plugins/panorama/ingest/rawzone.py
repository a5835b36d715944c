"""The raw zone: ``raw/<feed>/load_date=<ds>/part-<sha256[:16]>.parquet``, written atomically.

Each delivered source lands as one part named by its content hash, and the partition's
``_landed.json`` lists what it holds (file name, sha256, size, part, the load that landed it and
its row accounting): that list, over all dates of a feed, is the feed's consumed-file bookkeeping
(:class:`LandingIndex`). A load writes its new parts into a staging dir
(``raw/_staging/<feed>/load_date=<ds>.<batch_id>``; no kind glob ``raw/<kind>__*/`` matches it),
hard-links the parts it keeps from the partition, and :meth:`PartitionWriter.commit` renames it
over the partition, so readers never see half a load and a kept part stays byte-identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

STAGING = "_staging"
LANDED = "_landed.json"  # starts with "_": Arrow's dataset discovery and the dbt glob skip it
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1}


def partition_dir(root: Path, feed: str, ds: str) -> Path:
    return root / feed / f"load_date={ds}"


def replace_dir(staged: Path, final: Path) -> None:
    """Put ``staged`` where ``final`` is; the old content is removed after the swap."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = staged.with_name(staged.name + ".old")
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    try:
        staged.parent.rmdir()  # the feed's staging folder, when no other load is in flight
    except OSError:
        pass


def staging_dir(root: Path, feed: str, ds: str, batch_id: str) -> Path:
    """A fresh staging dir; leftovers of earlier crashed loads of the same date are removed."""
    parent = root / STAGING / feed
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f"load_date={ds}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    path = parent / f"load_date={ds}.{batch_id}"
    path.mkdir()
    return path


LINEAGE_CONSTANTS = ("_feed", "_source_file", "_batch_id", "_loaded_at")


def _encoding_options(schema: pa.Schema) -> dict:
    """Dictionaries only for the per-load constants and statistics only for the row number:
    the delivered values are mostly distinct and scanned whole, and skipping both for them
    cuts the write time by a fifth at the same file size."""
    names = set(schema.names)
    return {
        "use_dictionary": [c for c in LINEAGE_CONSTANTS if c in names],
        "write_statistics": [c for c in ("_source_row",) if c in names],
    }


class PartWriter:
    """Streams tables of one schema into one Parquet file (one row group per write)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.path, self.schema, **PARQUET_OPTIONS, **_encoding_options(self.schema)
            )
        self._writer.write_table(table.select(self.schema.names).cast(self.schema))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
        self.rows = 0


class PartitionWriter:
    """One load of one feed for one date: a part file per source, then an atomic commit."""

    def __init__(self, raw_root: Path, feed: str, ds: str, batch_id: str, schema: pa.Schema):
        self.final = partition_dir(raw_root, feed, ds)
        self.staged = staging_dir(raw_root, feed, ds, batch_id)
        self.schema = schema
        self._n = 0
        self._last: PartWriter | None = None

    def part(self) -> PartWriter:
        path = self.staged / f"part-{self._n:05d}.parquet"
        self._n += 1
        self._last = PartWriter(path, self.schema)
        return self._last

    def name_part(self, sha256: str) -> str | None:
        """Name the last source's part by its content hash; None when it wrote no row."""
        last = self._last
        if last is None or not last.path.exists():
            return None
        name = f"part-{sha256[:16]}.parquet"
        os.replace(last.path, self.staged / name)
        self._last = None
        return name

    def drop_part(self) -> None:
        """Forget the last source's part (its content had landed already)."""
        last = self._last
        if last is not None:
            last.discard()
            self._last = None

    def keep(self, part: str) -> None:
        """Carry a part of the landed partition into this load, unchanged (a hard link)."""
        src, dst = self.final / part, self.staged / part
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    def commit(self, landed: list[dict] | None = None) -> Path:
        """Make the staged parts the partition, with ``landed`` as its list of files; an empty
        load still gets one (empty) part."""
        if not any(self.staged.glob("*.parquet")):
            pq.write_table(self.schema.empty_table(), self.staged / "part-00000.parquet")
        if landed is not None:
            text = json.dumps({"files": landed}, ensure_ascii=False, indent=1, sort_keys=True)
            (self.staged / LANDED).write_text(text, encoding="utf-8")
        replace_dir(self.staged, self.final)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.staged, ignore_errors=True)


class LandingIndex:
    """What has landed for one feed: the ``_landed.json`` of every partition.

    A delivered content (sha256) is landed once: a load for ``ds`` takes the files whose content
    has not landed under any date, keeps the files its own partition already holds, and skips
    the rest (see ``feeds/README.md``, "Landing").
    """

    def __init__(self, raw_root: Path, feed: str) -> None:
        self.by_ds: dict[str, list[dict]] = {}
        for part in sorted((raw_root / feed).glob("load_date=*")):
            path = part / LANDED
            if path.is_file():
                files = json.loads(path.read_text(encoding="utf-8")).get("files", [])
                self.by_ds[part.name.removeprefix("load_date=")] = files
        # partitions the lifecycle retired (compacted, archived or removed): their contents
        # landed, and count as landed under their date
        self.retired = read_ledger(raw_root, feed)
        self._by_hash: dict[str, str] = {}
        pairs = [*self.by_ds.items(), *self.retired.items()]
        for ds, files in sorted(pairs, key=lambda pair: pair[0]):
            for f in files:
                if f.get("sha256"):
                    self._by_hash.setdefault(f["sha256"], ds)

    def files(self, ds: str) -> dict[str, dict]:
        """The files the partition of ``ds`` holds, by name."""
        return {f["name"]: f for f in self.by_ds.get(ds, [])}

    def landed_under(self, sha256: str | None) -> str | None:
        """The date under which this content landed, or None."""
        return self._by_hash.get(sha256) if sha256 else None

    def rows_landed_elsewhere(self, ds: str) -> bool:
        """Whether another date of this feed holds kept rows (or a retired partition did: its
        rows live on in a month partition, or a later full load replaced them)."""
        live = any(f.get("rows_kept", 0) > 0 for d, fs in self.by_ds.items() if d != ds for f in fs)
        return live or any(f.get("rows_kept", 0) > 0 for fs in self.retired.values() for f in fs)


# --- Raw-zone lifecycle: retention of full deliveries, monthly compaction of incremental ones ---
# (feeds/README.md, "Raw-zone lifecycle"). What dbt reads is ``raw/<feed>/load_date=*/``; what
# is retired from there keeps its files' bookkeeping in the ledger, so a content never lands twice.

ARCHIVE = "_archive"  # raw/_archive/<feed>/load_date=<ds>/: earlier full loads kept for history
LEDGER = "_ledger"  # raw/_ledger/<feed>/load_date=<ds>.json: _landed.json of retired partitions
MONTH_PREFIX = "month-"  # raw/<feed>/load_date=month-<YYYY-MM>/: an incremental feed's month
COMPACTED = "_compacted.json"  # in a month partition: the (date, part) pairs merged into it
LOAD_DATE = "_load_date"  # column of a month partition: the load date each row landed under
_DATE_NAME = re.compile(r"^load_date=(\d{4}-\d{2}-\d{2})$")


def dated_partitions(root: Path) -> dict[str, Path]:
    """The ``load_date=<YYYY-MM-DD>`` folders under ``root`` (a feed's folder), by date."""
    found = {}
    for path in sorted(root.glob("load_date=*")):
        m = _DATE_NAME.match(path.name)
        if m and path.is_dir():
            found[m.group(1)] = path
    return found


def partition_rows(path: Path) -> int:
    """Rows held by the Parquet parts of a partition (read from the footers only)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(path.glob("*.parquet")))


def _landed_files(path: Path) -> list[dict]:
    try:
        return json.loads((path / LANDED).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError):
        return []


def ledger_path(raw_root: Path, feed: str, ds: str) -> Path:
    return raw_root / LEDGER / feed / f"load_date={ds}.json"


def read_ledger(raw_root: Path, feed: str) -> dict[str, list[dict]]:
    """The files of each retired partition of ``feed``, by date."""
    out = {}
    for path in sorted((raw_root / LEDGER / feed).glob("load_date=*.json")):
        ds = path.stem.removeprefix("load_date=")
        out[ds] = json.loads(path.read_text(encoding="utf-8")).get("files", [])
    return out


def _retire(raw_root: Path, feed: str, ds: str, partition: Path, fate: str) -> None:
    """Keep the partition's list of files in the ledger (merged by name with an earlier
    retirement of the same date), atomically, before its data moves or goes."""
    path = ledger_path(raw_root, feed, ds)
    files = {f["name"]: f for f in read_ledger_file(path)}
    for f in _landed_files(partition):
        files[f["name"]] = {**f, "retired": fate}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    text = json.dumps({"files": [files[k] for k in sorted(files)]}, ensure_ascii=False, indent=1)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_ledger_file(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError):
        return []


def _month(ds: str) -> int:
    return int(ds[:4]) * 12 + int(ds[5:7]) - 1


def _kept_history(dates: list[str], current: str, history: str, months: int | None) -> set[str]:
    """Which earlier loads (with rows) of a full feed the archive keeps besides ``current``."""
    earlier = sorted(d for d in dates if d < current)
    keep = set(earlier[-1:])  # the load before the latest: a fallback for a bad delivery
    if history == "all":
        return set(earlier)
    if history == "month_end":
        last_of: dict[int, str] = {}
        for d in [*earlier, current]:
            last_of[_month(d)] = max(d, last_of.get(_month(d), d))
        keep |= {
            d
            for m, d in last_of.items()
            if d != current and (months is None or _month(current) - m < months)
        }
    return keep


def retain_full(raw_root: Path, feed: str, history: str, months: int | None) -> dict:
    """A full delivery: the latest load with rows stays where dbt reads it, the loads the history
    rule keeps move to ``raw/_archive/<feed>/``, the rest are removed (ledger kept)."""
    live = dated_partitions(raw_root / feed)
    archive_root = raw_root / ARCHIVE / feed
    archived = dated_partitions(archive_root)
    with_rows = [d for d, p in live.items() if partition_rows(p) > 0]
    report = {"current": None, "archived": [], "removed": []}
    if not with_rows:
        return report
    current = max(with_rows)
    report["current"] = current
    candidates = set(archived) | {d for d in with_rows if d != current}
    keep = _kept_history(sorted(candidates), current, history, months)
    for d, path in live.items():
        if d == current:
            continue
        fate = "archived" if d in keep else "removed"
        _retire(raw_root, feed, d, path, fate)
        if d in keep:
            replace_dir(path, partition_dir(raw_root / ARCHIVE, feed, d))
        else:
            shutil.rmtree(path)
        report[fate].append(d)
    for d, path in archived.items():
        if d not in keep and d not in live:
            _retire(raw_root, feed, d, path, "removed")
            shutil.rmtree(path)
            report["removed"].append(d)
    return report


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns (missing ones null), in its order."""
    cols = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(cols, schema=schema)


def compact_months(raw_root: Path, feed: str, schema: pa.Schema) -> dict:
    """An incremental feed: the daily partitions of each month merged into
    ``load_date=month-<YYYY-MM>/`` (one part; each row keeps its load date in ``_load_date``).
    The daily partitions are then retired (ledger kept). A crash between the two steps merges
    nothing twice: the month's ``_compacted.json`` lists the (date, part) pairs it holds."""
    schema = schema.append(pa.field(LOAD_DATE, pa.string()))
    live = dated_partitions(raw_root / feed)
    by_month: dict[str, dict[str, Path]] = {}
    for d, path in live.items():
        by_month.setdefault(d[:7], {})[d] = path
    report: dict[str, list[str]] = {"compacted": []}
    for month, parts in sorted(by_month.items()):
        target = raw_root / feed / f"load_date={MONTH_PREFIX}{month}"
        merged = _merged_pairs(target)
        new = [
            (d, p)
            for d, path in sorted(parts.items())
            for p in sorted(path.glob("*.parquet"))
            if [d, p.name] not in merged
        ]
        if any(pq.ParquetFile(p).metadata.num_rows for _, p in new):
            _write_month(raw_root, feed, month, target, new, merged, schema)
        for d, path in sorted(parts.items()):
            _retire(raw_root, feed, d, path, f"compacted:{MONTH_PREFIX}{month}")
            shutil.rmtree(path)
            report["compacted"].append(d)
    return report


def _merged_pairs(target: Path) -> list[list[str]]:
    try:
        return json.loads((target / COMPACTED).read_text(encoding="utf-8"))["merged"]
    except (OSError, ValueError, KeyError):
        return []


def _write_month(
    raw_root: Path,
    feed: str,
    month: str,
    target: Path,
    new: list[tuple[str, Path]],
    merged: list[list[str]],
    schema: pa.Schema,
) -> None:
    staged = staging_dir(raw_root, feed, f"{MONTH_PREFIX}{month}", uuid.uuid4().hex[:16])
    # one table, one row group: a row group per day would repeat its column metadata each time
    tables = [_conform(pq.read_table(old), schema) for old in sorted(target.glob("*.parquet"))]
    for d, path in new:
        table = pq.read_table(path)
        if LOAD_DATE in table.column_names:
            table = table.drop_columns([LOAD_DATE])
        table = table.append_column(LOAD_DATE, pa.array([d] * table.num_rows, pa.string()))
        tables.append(_conform(table, schema))
    writer = PartWriter(staged / "part-00000.parquet", schema)
    writer.write(pa.concat_tables(tables).combine_chunks())
    writer.close()
    if not writer.rows:
        pq.write_table(schema.empty_table(), writer.path)
    pairs = sorted([*merged, *([d, p.name] for d, p in new)])
    (staged / COMPACTED).write_text(json.dumps({"merged": pairs}, indent=1), encoding="utf-8")
    replace_dir(staged, target)


def apply_retention(spec: Any, raw_root: Path) -> dict:
    """The feed's retention rule (``retention`` in its YAML) applied to its raw zone."""
    from panorama.ingest.kinds import get_kind

    rule = spec.retention
    if spec.effective_delivery == "full":
        return retain_full(raw_root, spec.name, rule.history, rule.history_months)
    if rule.compact == "month":
        return compact_months(raw_root, spec.name, get_kind(spec.kind).raw_schema())
    return {}


def source_files(raw_root: Path) -> list[Path]:
    """The Parquet files the dbt sources read: ``raw/<kind>__*/load_date=*/*.parquet``."""
    return sorted(p for p in raw_root.glob("*__*/load_date=*/*.parquet") if p.is_file())


def source_bytes(raw_root: Path) -> int:
    """Bytes a run's dbt sources scan from the raw zone (before column pruning)."""
    return sum(p.stat().st_size for p in source_files(raw_root))


def apply_lifecycle(settings: Any = None) -> dict:
    """Every registered feed's retention rule applied to the raw zone (after the day's
    extraction, before the build); returns what was done and what the sources now read."""
    import time

    from panorama.ingest.feeds import load_registry
    from panorama.settings import get_settings

    settings = settings or get_settings()
    started = time.perf_counter()
    feeds = {}
    for name, spec in sorted(load_registry(settings.feeds_dir).items()):
        if (settings.raw_dir / name).is_dir():
            feeds[name] = apply_retention(spec, settings.raw_dir)
    files = source_files(settings.raw_dir)
    return {
        "feeds": feeds,
        "source_files": len(files),
        "source_bytes": sum(p.stat().st_size for p in files),
        "seconds": round(time.perf_counter() - started, 3),
    }

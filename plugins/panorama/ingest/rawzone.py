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
import shutil
from pathlib import Path

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
        self._by_hash: dict[str, str] = {}
        for ds, files in self.by_ds.items():
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
        """Whether another date of this feed holds kept rows."""
        return any(f.get("rows_kept", 0) > 0 for d, fs in self.by_ds.items() if d != ds for f in fs)

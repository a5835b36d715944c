"""Quarantine: what a load rejected, with the reason, so that nothing is silently dropped.

``quarantine/<feed>/load_date=<ds>/rows.parquet``: one row per rejected record and one per
flagged field of a kept record (``_feed, _source_file, _source_row, field, reason, raw_line,
action``). ``action`` is ``row_rejected`` (the record is not in the raw zone; ``field`` lists
the failing canonical fields, comma-separated, and ``reason`` the reasons, ``; ``-separated),
``field_nulled`` (the record was kept with this non-key field set to null) or ``field_cleaned``
(kept with control characters removed from the field); kept records list the same problems
in their ``_issues`` column.
A delivered line that could not be parsed at all is a ``row_rejected`` row with ``field`` null,
its byte offset in ``reason`` and the line as delivered in ``raw_line``.
``files.jsonl``: one JSON object per delivery rejected whole (``_feed, _source_file, reason,
sha256, size_bytes``). Both files are always written (possibly empty) and replace the date's
previous quarantine atomically, together with the raw partition.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from panorama.ingest.rawzone import (
    PARQUET_OPTIONS,
    PartWriter,
    partition_dir,
    replace_dir,
    staging_dir,
)

ROWS_SCHEMA = pa.schema(
    [
        pa.field("_feed", pa.string()),
        pa.field("_source_file", pa.string()),
        pa.field("_source_row", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("raw_line", pa.string()),
        pa.field("action", pa.string()),
    ]
)
ROW_REJECTED = "row_rejected"
FIELD_NULLED = "field_nulled"
FIELD_CLEANED = "field_cleaned"


class QuarantineWriter:
    def __init__(self, root: Path, feed: str, ds: str, batch_id: str) -> None:
        self.feed = feed
        self.final = partition_dir(root, feed, ds)
        self.staged = staging_dir(root, feed, ds, batch_id)
        self._n = 0
        self.files: list[dict] = []
        self._last: PartWriter | None = None

    def rows_part(self) -> PartWriter:
        """Rejected rows of one source, kept apart until the source is fully read."""
        path = self.staged / f"rows-{self._n:05d}.tmp.parquet"
        self._n += 1
        self._last = PartWriter(path, ROWS_SCHEMA)
        return self._last

    def drop_last(self, source_file: str) -> None:
        """Forget what the last source put here (its content had landed already)."""
        if self._last is not None:
            self._last.discard()
            self._last = None
        self.files = [f for f in self.files if f["_source_file"] != source_file]

    def carry(self, names: set[str]) -> None:
        """Keep the date's quarantine of the files ``names`` (files the partition keeps)."""
        if not names:
            return
        rows = self.final / "rows.parquet"
        if rows.is_file():
            table = pq.read_table(rows)
            if "action" not in table.column_names:  # written before field-level quarantine
                rejected = pa.repeat(pa.scalar(ROW_REJECTED), table.num_rows)
                table = table.append_column("action", rejected)
            table = table.select(ROWS_SCHEMA.names).cast(ROWS_SCHEMA)
            mask = pc.is_in(table.column("_source_file"), value_set=pa.array(sorted(names)))
            kept = table.filter(mask)
            if kept.num_rows:
                part = PartWriter(self.staged / "rows-carried.tmp.parquet", ROWS_SCHEMA)
                part.write(kept)
                part.close()
        listed = self.final / "files.jsonl"
        if listed.is_file():
            for line in listed.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                if entry.get("_source_file") in names:
                    self.files.append(entry)

    def reject_file(self, source_file: str, reason: str, sha256: str | None, size: int | None):
        self.files.append(
            {
                "_feed": self.feed,
                "_source_file": source_file,
                "reason": reason,
                "sha256": sha256,
                "size_bytes": size,
            }
        )

    def commit(self) -> Path:
        parts = sorted(self.staged.glob("rows-*.tmp.parquet"))
        with pq.ParquetWriter(self.staged / "rows.parquet", ROWS_SCHEMA, **PARQUET_OPTIONS) as w:
            w.write_table(ROWS_SCHEMA.empty_table())
            for part in parts:
                for batch in pq.ParquetFile(part).iter_batches():
                    w.write_batch(batch)
                part.unlink()
        with (self.staged / "files.jsonl").open("w", encoding="utf-8") as f:
            for entry in self.files:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        replace_dir(self.staged, self.final)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.staged, ignore_errors=True)

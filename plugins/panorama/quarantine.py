"""Quarantine: what a load rejected, with the reason, so that nothing is silently dropped.

``quarantine/<feed>/load_date=<ds>/rows.parquet``: one row per rejected record
(``_feed, _source_file, _source_row, field, reason, raw_line``); ``field`` lists the failing
canonical fields (comma-separated) and ``reason`` the reasons (``; ``-separated). A delivered
line that could not be parsed at all has ``field`` null, its byte offset in ``reason`` and the
line as delivered in ``raw_line``.
``files.jsonl``: one JSON object per delivery rejected whole (``_feed, _source_file, reason,
sha256, size_bytes``). Both files are always written (possibly empty) and replace the date's
previous quarantine atomically, together with the raw partition.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from panorama.rawzone import PARQUET_OPTIONS, PartWriter, partition_dir, replace_dir, staging_dir

ROWS_SCHEMA = pa.schema(
    [
        pa.field("_feed", pa.string()),
        pa.field("_source_file", pa.string()),
        pa.field("_source_row", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("raw_line", pa.string()),
    ]
)


class QuarantineWriter:
    def __init__(self, root: Path, feed: str, ds: str, batch_id: str) -> None:
        self.feed = feed
        self.final = partition_dir(root, feed, ds)
        self.staged = staging_dir(root, feed, ds, batch_id)
        self._n = 0
        self.files: list[dict] = []

    def rows_part(self) -> PartWriter:
        """Rejected rows of one source, kept apart until the source is fully read."""
        path = self.staged / f"rows-{self._n:05d}.tmp.parquet"
        self._n += 1
        return PartWriter(path, ROWS_SCHEMA)

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

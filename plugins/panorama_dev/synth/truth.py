"""The answer key: which entity each delivered record belongs to, and what was planted in it.
Written as Parquet under ``ground_truth/``; the pipeline never reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from panorama_dev.synth.population import Entity

RECORD_SCHEMA = pa.schema(
    [
        ("feed", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("true_entity_id", pa.string()),
        ("planted", pa.string()),
        ("related_entity_id", pa.string()),
    ]
)
COUNT_FIELDS = (
    "n_penalties",
    "fine_total_wan",
    "n_abnormal",
    "abnormal_current",
    "n_abnormal_state",
    "abnormal_state_current",
    "reports_due",
    "reports_missed",
    "serious_current",
    "court_cases",
    "n_complaints",
    "n_spot_checks",
    "n_spot_problems",
    "n_licences",
    "licence_expired",
    "n_changes",
    "changes_rep_address_3y",
)
ENTITY_SCHEMA = pa.schema(
    [
        ("entity_id", pa.string()),
        ("reg_no", pa.string()),
        ("name", pa.string()),
        ("entity_type", pa.string()),
        ("entity_type_text", pa.string()),
        ("division_code", pa.string()),
        ("industry_code", pa.string()),
        ("industry_food", pa.bool_()),
        ("industry_special_equipment", pa.bool_()),
        ("address", pa.string()),
        ("legal_rep_key", pa.int64()),
        ("shared_legal_rep", pa.bool_()),
        ("shared_address", pa.bool_()),
        ("registered_capital_wan", pa.float64()),
        ("established_date", pa.date32()),
        ("status", pa.string()),
        ("status_date", pa.date32()),
        ("latent_risk", pa.float64()),
        ("latent_class", pa.string()),
        *[(f, pa.float64() if f == "fine_total_wan" else pa.int64()) for f in COUNT_FIELDS],
    ]
)


class TruthWriter:
    """Buffers records and entities and appends them chunk by chunk to two Parquet files."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._records = pq.ParquetWriter(directory / "records.parquet", RECORD_SCHEMA)
        self._entities = pq.ParquetWriter(directory / "entities.parquet", ENTITY_SCHEMA)
        self._buf: dict[str, list[Any]] = {f.name: [] for f in RECORD_SCHEMA}

    def record(
        self,
        feed: str,
        source_file: str,
        source_row: int,
        entity_id: str | None,
        planted: str | None,
        related: str | None,
    ) -> None:
        b = self._buf
        b["feed"].append(feed)
        b["source_file"].append(source_file)
        b["source_row"].append(source_row)
        b["true_entity_id"].append(entity_id)
        b["planted"].append(planted)
        b["related_entity_id"].append(related)

    def entities(self, batch: list[Entity]) -> None:
        cols: dict[str, list[Any]] = {f.name: [] for f in ENTITY_SCHEMA}
        for e in batch:
            values = {
                "entity_id": e.uscc,
                "reg_no": e.reg_no,
                "name": e.name,
                "entity_type": e.entity_type,
                "entity_type_text": e.type_text,
                "division_code": e.division.code,
                "industry_code": e.industry.code,
                "industry_food": e.industry.food,
                "industry_special_equipment": e.industry.special_equipment,
                "address": e.address,
                "legal_rep_key": e.legal_rep.index,
                "shared_legal_rep": e.shared_rep,
                "shared_address": e.shared_address,
                "registered_capital_wan": e.capital_wan,
                "established_date": e.established,
                "status": e.status,
                "status_date": e.status_date,
                "latent_risk": round(e.latent_risk, 6),
                "latent_class": e.latent_class,
            }
            values.update({f: e.counts.get(f, 0) for f in COUNT_FIELDS})
            for k, v in values.items():
                cols[k].append(v)
        self._entities.write_table(pa.table(cols, schema=ENTITY_SCHEMA))

    def flush(self) -> None:
        if self._buf["feed"]:
            self._records.write_table(pa.table(self._buf, schema=RECORD_SCHEMA))
            self._buf = {f.name: [] for f in RECORD_SCHEMA}

    def close(self) -> None:
        self.flush()
        self._records.close()
        self._entities.close()

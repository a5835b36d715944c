"""Canonical record kinds and their fields: what the raw zone holds for each kind.

Every raw Parquet file of a feed carries *all* canonical columns of its kind (null where the
feed does not map a field), plus ``_extras`` and the lineage columns, so the feeds of one kind
union by name in dbt (``raw/<kind>__*/``). The table mirrors ``feeds/README.md``.

Key fields (the record's identity codes and the names its key needs, marked ``#``) and required
fields reject the whole row when their value is bad; any other field with a bad value is set to
null and the problem is recorded in the row's ``_issues`` column (field-level quarantine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

FieldType = Literal["text", "code", "date", "amount", "int"]
Delivery = Literal["incremental", "full"]

#: Lineage columns appended to every raw file, in this order. ``_loaded_at`` is an ISO 8601
#: UTC timestamp string (``2024-03-05T10:20:30+00:00``); ``_source_row`` is int64.
LINEAGE_COLUMNS: tuple[str, ...] = (
    "_extras",
    "_feed",
    "_source_file",
    "_source_row",
    "_batch_id",
    "_loaded_at",
    "_issues",
)

#: Default plausible range of an amount field, in 万元 (see :class:`AmountRange`).
DEFAULT_AMOUNT_RANGE_MIN = 0.0


@dataclass(frozen=True)
class AmountRange:
    """Plausible values of an amount field, in 万元; a value outside is flagged, never used.

    ``bare_max``: in a column whose unit is 万元, a value written without a unit of its own and
    at least this large most likely is in 元 (3000 meant 3,000 元, not 3,000 万元)."""

    min: float | None = DEFAULT_AMOUNT_RANGE_MIN
    max: float | None = None
    bare_max: float | None = None


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType = "text"
    required: bool = False
    pii: bool = False  # ID-card numbers, phones of natural persons: never echoed in reasons/logs
    key: bool = False  # identity code or name the record key needs: a bad value rejects the row
    future_ok: bool = False  # a date that may lie after the logical date (end of validity)
    amount_range: AmountRange | None = None  # amount fields only; None: AmountRange()


@dataclass(frozen=True)
class KindDef:
    name: str
    delivery: Delivery
    fields: tuple[FieldDef, ...]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def raw_schema(self) -> pa.Schema:
        """Arrow schema of a raw Parquet file of this kind."""
        cols = [pa.field(f.name, pa.string()) for f in self.fields]
        cols += [pa.field("_extras", pa.string())]
        cols += [pa.field("_feed", pa.string()), pa.field("_source_file", pa.string())]
        cols += [pa.field("_source_row", pa.int64())]
        cols += [pa.field("_batch_id", pa.string()), pa.field("_loaded_at", pa.string())]
        cols += [pa.field("_issues", pa.string())]
        return pa.schema(cols)


#: Plausible amounts per (kind, field), in 万元. A fine above 1 亿元 or, in a 万元 column, a
#: bare value of 1,000 or more (that looks like 元) is implausible.
AMOUNT_RANGES: dict[tuple[str, str], AmountRange] = {
    ("penalty", "cf_nr_fk"): AmountRange(min=0.0, max=10_000.0, bare_max=1_000.0),
    ("penalty", "cf_nr_wfff"): AmountRange(min=0.0, max=100_000.0, bare_max=1_000.0),
    ("registration", "registered_capital"): AmountRange(min=0.0, max=100_000_000.0),
}


def _f(kind: str, spec: str) -> FieldDef:
    """``name[:type][*][!][#][>]``: ``*`` required, ``!`` personal data, ``#`` key field,
    ``>`` a date allowed after the logical date."""
    flags = {c: c in spec for c in "*!#>"}
    for c in flags:
        spec = spec.replace(c, "")
    name, _, ftype = spec.partition(":")
    return FieldDef(
        name,
        ftype or "text",  # type: ignore[arg-type]
        required=flags["*"],
        pii=flags["!"],
        key=flags["#"],
        future_ok=flags[">"],
        amount_range=AMOUNT_RANGES.get((kind, name)),
    )


def _kind(name: str, delivery: Delivery, specs: str) -> KindDef:
    return KindDef(name, delivery, tuple(_f(name, s) for s in specs.split()))


_SUBJECT_CODES = "uscc:code# reg_no:code#"

KINDS: dict[str, KindDef] = {
    k.name: k
    for k in (
        _kind(
            "registration",
            "full",
            f"{_SUBJECT_CODES} name# entity_type division_code:code industry_code:code address "
            "legal_rep legal_rep_id_no:code! phone:code! registered_capital:amount "
            "established_date:date status status_date:date",
        ),
        _kind(
            "registration_change",
            "incremental",
            f"{_SUBJECT_CODES} change_date:date change_item before_value after_value",
        ),
        _kind(
            "penalty",
            "incremental",
            "cf_wsh*# cf_xdr_mc*# cf_xdr_lb cf_xdr_shxym:code# cf_xdr_gszc:code# cf_xdr_zzjg:code# "
            "cf_frdb cf_wfxw cf_sy cf_yj cf_cflb* cf_nr cf_nr_fk:amount cf_nr_wfff:amount "
            "cf_jdrq:date* cf_yxq:date> cf_gsjzq:date> cf_cfjg* cf_cfjgdm:code cf_sjly "
            "cf_sjlydm:code bz",
        ),
        _kind(
            "licence",
            "incremental",
            "xk_wsh*# xk_xdr_mc*# xk_xdr_shxym:code# xk_xdr_gszc:code# xk_xdr_zzjg:code# xk_frdb "
            "xk_xkws xk_xklb xk_xkzs xk_xkbh xk_nr xk_jdrq:date* xk_yxqz:date> xk_yxqzi:date> "
            "xk_xkjg* xk_xkjgdm:code xk_zt xk_sjly xk_sjlydm:code",
        ),
        _kind(
            "spot_check",
            "incremental",
            f"task_id*# task_name check_date:date* {_SUBJECT_CODES} name*# check_org result* "
            "inspectors check_type check_items",
        ),
        _kind(
            "abnormal_list",
            "full",
            f"name*# {_SUBJECT_CODES} list_reason* list_date:date* list_org remove_reason "
            "remove_date:date remove_org",
        ),
        _kind(
            "abnormal_state",
            "full",
            f"name*# {_SUBJECT_CODES} mark_reason* mark_date:date* mark_org restore_reason "
            "restore_date:date restore_org",
        ),
        _kind(
            "serious_dishonest",
            "full",
            f"name*# {_SUBJECT_CODES} list_reason* list_date:date* list_org remove_reason "
            "remove_date:date remove_org",
        ),
        _kind(
            "court_dishonest",
            "full",
            "case_no*# name*# id_code:code!# legal_rep court province basis_no filing_date:date "
            "basis_org obligation performance behaviour publish_date:date*",
        ),
        _kind(
            "complaint",
            "incremental",
            "complaint_id*# received_date:date* shop_name*# address division_code:code "
            "uscc:code# category content complainant_phone:code! handling_result",
        ),
        _kind(
            "credit_repair",
            "incremental",
            f"repair_no*# name*# {_SUBJECT_CODES} decision_no* repair_date:date* repair_org "
            "repair_content",
        ),
        _kind(
            "annual_report",
            "full",
            f"{_SUBJECT_CODES} name# report_year:int*# filed* filed_date:date",
        ),
        _kind(
            "model_shop",
            "full",
            "uscc:code*# name*# title* award_date:date* valid_until:date> award_org",
        ),
    )
}


def get_kind(name: str) -> KindDef:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown record kind {name!r}; known: {', '.join(KINDS)}") from None

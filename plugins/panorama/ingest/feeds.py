"""The feed registry: one YAML file per department feed, validated into :class:`FeedSpec`.

A feed is described, not coded (see ``feeds/README.md``). Loading fails with
:class:`FeedConfigError` naming the file, the key path and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from panorama.ingest.kinds import KINDS, AmountRange, FieldType, get_kind
from panorama.settings import get_settings

FEED_NAME = re.compile(r"^[a-z0-9_]+$")
DEFAULT_DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "excel_serial"]
#: strptime directives understood in ``date_formats`` (time parts are accepted and dropped).
DATE_DIRECTIVES = set("YmdHMS")
#: Days a date (other than an end of validity) may lie after the logical date before it is
#: flagged as implausible.
DEFAULT_FUTURE_TOLERANCE_DAYS = 31
AmountUnit = Literal["万元", "元", "亿元"]


class FeedConfigError(ValueError):
    """A feed YAML file is invalid: the message names the file, the key and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileTransport(_Model):
    type: Literal["file"]
    path: str = Field(description="glob relative to the landing dir")


class HttpTransport(_Model):
    type: Literal["http"]
    conn_id: str = Field(description="Airflow connection: base URL, login, password = token")
    endpoint: str = "/"
    page_param: str = "page"
    size_param: str = "size"
    page_size: int = Field(1000, ge=1)
    items_path: str = "data.items"
    total_path: str | None = "data.total"
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0)
    backoff_s: float = Field(1.0, ge=0)
    max_pages: int = Field(1_000_000, ge=1)


class SqlTransport(_Model):
    type: Literal["sql"]
    url: str | None = Field(None, description="SQLAlchemy URL; may use {landing}")
    conn_id: str | None = None
    table: str | None = None
    query: str | None = None
    fetch_size: int = Field(50_000, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> SqlTransport:
        if (self.table is None) == (self.query is None):
            raise ValueError("table/query: give exactly one of 'table' or 'query'")
        if self.url is None and self.conn_id is None:
            raise ValueError(
                "url/conn_id: give 'url' or 'conn_id' (or both: the connection wins when defined)"
            )
        return self


Transport = Annotated[FileTransport | HttpTransport | SqlTransport, Field(discriminator="type")]


class FormatSpec(_Model):
    type: Literal["csv", "excel", "json", "jsonl", "table"]
    encoding: Literal["utf-8", "utf-8-sig", "gbk", "gb18030", "detect"] = "utf-8"
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    sheet: str | None = None
    header_row: int = Field(1, ge=1)
    records_path: str | None = Field(None, description="json: dotted path to the record list")
    on_bad_line: Literal["quarantine", "reject_file"] = Field(
        "quarantine",
        description="csv/jsonl: a malformed line is quarantined (the rest lands), or rejects "
        "its whole file",
    )


class RangeSpec(_Model):
    """Plausible amounts in 万元; a key left out keeps the kind's default, null removes it."""

    min: float | None = None
    max: float | None = None
    bare_max: float | None = Field(
        None, description="in a 万元 column, a value without unit at least this large looks like 元"
    )

    def over(self, default: AmountRange | None) -> AmountRange:
        base = default or AmountRange()
        values = {k: getattr(self, k) for k in self.model_fields_set}
        return AmountRange(
            min=values.get("min", base.min),
            max=values.get("max", base.max),
            bare_max=values.get("bare_max", base.bare_max),
        )


class ColumnSpec(_Model):
    source: str | None = Field(None, description="column / key name in the delivery")
    value: str | None = Field(None, description="constant for every row (no source column)")
    type: FieldType | None = None
    required: bool = False
    unit: AmountUnit | None = Field(None, description="amount unit of this column")
    range: RangeSpec | None = Field(
        None, description="amount: plausible range in 万元, overriding the kind's default"
    )
    future_ok: bool | None = Field(
        None, description="date: may lie after the logical date (overrides the kind)"
    )

    @model_validator(mode="after")
    def _source_or_value(self) -> ColumnSpec:
        if (self.source is None) == (self.value is None):
            raise ValueError("source/value: give exactly one of 'source' or 'value'")
        return self


class ArrivalSpec(_Model):
    """How long a run of a date the feed is due on waits for its delivery (file feeds)."""

    wait_minutes: int = Field(
        ge=0,
        description="minutes a due run waits for a new delivery before raising LateDelivery "
        "(0: it must be there when the run starts)",
    )


class RetentionSpec(_Model):
    """What the raw zone keeps of the feed's loads (``feeds/README.md``, "Raw-zone lifecycle")."""

    history: Literal["month_end", "all", "none"] = Field(
        "month_end",
        description="full deliveries: earlier loads archived besides the latest (month_end: the "
        "last load of each month; every load; none) - the load before the latest always is",
    )
    history_months: int | None = Field(
        13, ge=1, description="full deliveries: archived month-end loads kept for this many months"
    )
    compact: Literal["month", "none"] = Field(
        "month", description="incremental deliveries: daily partitions merged into one per month"
    )


class ExpectedRows(_Model):
    min: int = Field(0, ge=0)
    max: int | None = Field(None, ge=0)


@dataclass(frozen=True)
class ResolvedColumn:
    """One canonical field of a feed, with everything extraction needs."""

    field: str
    type: FieldType
    required: bool
    pii: bool
    source: str | None
    value: str | None
    unit: str
    key: bool = False
    future_ok: bool = False
    amount_range: AmountRange | None = None


class FeedSpec(_Model):
    name: str
    kind: str
    department: str
    description: str = ""
    schedule: str | None = Field(
        "@daily",
        description="when deliveries are expected: a cron expression or preset (@daily, "
        "@weekly, @monthly, ...), in UTC days; null: no fixed timing (read on every run)",
    )
    arrival: ArrivalSpec | None = Field(
        None, description="wait for the delivery on the dates the feed is due (file feeds)"
    )
    delivery: Literal["incremental", "full"] | None = None
    transport: Transport
    format: FormatSpec
    date_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DATE_FORMATS))
    amount_unit: AmountUnit = "万元"
    future_date_tolerance_days: int = Field(
        DEFAULT_FUTURE_TOLERANCE_DAYS,
        ge=0,
        description="dates later than the logical date + this many days are flagged "
        "(except end-of-validity dates)",
    )
    columns: dict[str, ColumnSpec]
    # Delivered columns known and deliberately left unmapped: kept in _extras like any other
    # unmapped column, but not reported as schema drift.
    known_unmapped: list[str] = Field(default_factory=list)
    expected_rows: ExpectedRows = ExpectedRows()
    retention: RetentionSpec = RetentionSpec()

    @model_validator(mode="after")
    def _consistent(self) -> FeedSpec:
        if not FEED_NAME.match(self.name):
            raise ValueError(f"name: {self.name!r} must match [a-z0-9_]+")
        if self.kind not in KINDS:
            raise ValueError(f"kind: {self.kind!r} unknown; known: {', '.join(KINDS)}")
        if not self.name.startswith(self.kind + "__"):
            raise ValueError(f"name: {self.name!r} must start with its kind + '__' ({self.kind}__)")
        kind = get_kind(self.kind)
        unknown = [c for c in self.columns if c not in kind.field_names]
        if unknown:
            raise ValueError(
                f"columns: {unknown} are not fields of kind {self.kind}; "
                f"fields: {', '.join(kind.field_names)}"
            )
        for name, col in self.columns.items():
            if col.type is not None and col.type != kind.field(name).type:
                raise ValueError(
                    f"columns.{name}.type: {col.type!r} contradicts kind {self.kind}, "
                    f"where {name} is {kind.field(name).type!r}"
                )
            ftype = kind.field(name).type
            if col.range is not None and ftype != "amount":
                raise ValueError(f"columns.{name}.range: {name} is {ftype!r}, not an amount")
            if col.future_ok is not None and ftype != "date":
                raise ValueError(f"columns.{name}.future_ok: {name} is {ftype!r}, not a date")
        missing = [f.name for f in kind.fields if f.required and f.name not in self.columns]
        if missing:
            raise ValueError(f"columns: required fields of kind {self.kind} not mapped: {missing}")
        sources = [c.source for c in self.columns.values() if c.source is not None]
        dupes = sorted({s for s in sources if sources.count(s) > 1})
        if dupes:
            raise ValueError(f"columns: source columns mapped twice: {dupes}")
        both = sorted(set(sources) & set(self.known_unmapped))
        if both:
            raise ValueError(f"known_unmapped: {both} are mapped in columns")
        for fmt in self.date_formats:
            if fmt == "excel_serial":
                continue
            bad = set(re.findall(r"%(.)", fmt)) - DATE_DIRECTIVES
            if bad or not {"Y", "m", "d"} <= set(re.findall(r"%(.)", fmt)):
                raise ValueError(
                    f"date_formats: {fmt!r} needs %Y, %m and %d; "
                    f"only %Y %m %d %H %M %S are understood"
                )
        allowed = {"file": {"csv", "excel", "json", "jsonl"}, "http": {"json"}, "sql": {"table"}}
        if self.format.type not in allowed[self.transport.type]:
            raise ValueError(
                f"format.type: {self.format.type!r} does not fit transport {self.transport.type!r}"
                f" (use one of {sorted(allowed[self.transport.type])})"
            )
        if self.format.on_bad_line != "quarantine" and self.format.type not in ("csv", "jsonl"):
            raise ValueError(
                f"format.on_bad_line: only csv and jsonl deliveries have lines to reject "
                f"(format.type is {self.format.type!r})"
            )
        if self.schedule is not None and not croniter.is_valid(self.schedule):
            raise ValueError(
                f"schedule: {self.schedule!r} is not a cron expression or preset "
                "(e.g. '@daily', '@weekly', '0 0 * * 1')"
            )
        if self.arrival is not None and self.transport.type != "file":
            raise ValueError(
                f"arrival: only file deliveries can be waited for (transport is "
                f"{self.transport.type!r}; databases and APIs are read whole on every run)"
            )
        if self.arrival is not None and self.schedule is None:
            raise ValueError("arrival: needs a schedule (when is the delivery expected?)")
        ex = self.expected_rows
        if ex.max is not None and ex.max < ex.min:
            raise ValueError("expected_rows.max: below expected_rows.min")
        return self

    def is_due(self, ds: str | date) -> bool:
        """Whether a delivery is expected on the logical date ``ds``: the schedule fires on that
        (UTC) day. A feed without a schedule is read on every run."""
        if self.schedule is None:
            return True
        day = date.fromisoformat(ds) if isinstance(ds, str) else ds
        start = datetime(day.year, day.month, day.day)
        fire = croniter(self.schedule, start - timedelta(seconds=1)).get_next(datetime)
        return fire < start + timedelta(days=1)

    @property
    def effective_delivery(self) -> str:
        return self.delivery or get_kind(self.kind).delivery

    def resolved_columns(self) -> list[ResolvedColumn]:
        """Every canonical field of the kind, in kind order; unmapped fields have no source."""
        out = []
        for f in get_kind(self.kind).fields:
            col = self.columns.get(f.name)
            out.append(
                ResolvedColumn(
                    field=f.name,
                    type=f.type,
                    required=f.required or bool(col and col.required),
                    pii=f.pii,
                    source=col.source if col else None,
                    value=col.value if col else None,
                    unit=(col.unit if col and col.unit else self.amount_unit),
                    key=f.key,
                    future_ok=(col.future_ok if col and col.future_ok is not None else f.future_ok),
                    amount_range=(
                        None
                        if f.type != "amount"
                        else col.range.over(f.amount_range)
                        if col and col.range
                        else f.amount_range or AmountRange()
                    ),
                )
            )
        return out


def _format_error(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {loc}: {msg}" if loc else f"{path}: {msg}")
    return "\n".join(lines)


def load_feed(path: Path | str) -> FeedSpec:
    """Load and validate one feed YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FeedConfigError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise FeedConfigError(
            f"{path}: <top>: expected a mapping of keys, got {type(data).__name__}"
        )
    try:
        spec = FeedSpec.model_validate(data)
    except ValidationError as exc:
        raise FeedConfigError(_format_error(path, exc)) from exc
    if spec.name != path.stem:
        raise FeedConfigError(f"{path}: name: {spec.name!r} must equal the file stem {path.stem!r}")
    return spec


def load_registry(feeds_dir: Path | None = None) -> dict[str, FeedSpec]:
    """Every ``*.yaml`` / ``*.yml`` feed in ``feeds_dir`` (default: settings), by name.

    All files are validated; the errors of every bad file are reported together.
    """
    feeds_dir = Path(feeds_dir) if feeds_dir is not None else get_settings().feeds_dir
    feeds: dict[str, FeedSpec] = {}
    errors: list[str] = []
    for path in sorted([*feeds_dir.glob("*.yaml"), *feeds_dir.glob("*.yml")]):
        try:
            spec = load_feed(path)
        except FeedConfigError as exc:
            errors.append(str(exc))
            continue
        feeds[spec.name] = spec
    if errors:
        raise FeedConfigError("\n".join(errors))
    return feeds

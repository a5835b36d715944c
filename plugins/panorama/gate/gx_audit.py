"""The Great Expectations half of the publication gate.

One checkpoint runs every suite in ``expectations/`` (one suite per published table, named
``<schema>.<table>.json``) against a candidate DuckDB file, opened read-only.

How the data reaches Great Expectations: GX through SQLAlchemy cannot validate DuckDB (every
metric fails, upstream issue #11579), so each table is projected by DuckDB into a Parquet file
holding only the columns its suite names, plus derived columns that GX cannot compute itself;
a pandas filesystem datasource then serves one batch per file. (A pandas *dataframe* asset
would not do: a checkpoint passes the same ``batch_parameters`` to every validation
definition, so it cannot hand each one its own dataframe.)

Derived columns are declared in each suite's ``meta.panorama.derived``:

- ``uscc_valid``: the USCC check characters (GB 32100 and the embedded GB 11714), computed with
  :func:`panorama.identity.codes.is_valid_uscc` once per distinct code; GX then expects ``True``.
- ``reference``: whether a value exists in another table's column (an orphan check), computed by
  DuckDB with a semi-join; GX expects ``True``.
- ``no_id_card_number`` / ``no_mobile_number``: a DuckDB regex scan of every text and integer
  column of the row (ID-card numbers must also pass their MOD 11-2 check); GX expects ``True``.
- ``occurrences``: how many rows share the row's key (DuckDB window count); GX expects 1.
  Exact, and far cheaper than GX hashing millions of strings for ``..._to_be_unique``.
- ``equals``: 1 when a column equals a value, so that a grade's share is the column's mean.

Every text value shipped to GX is masked first (:func:`panorama.identity.pii.sql_mask`), so
personal data can reach neither the validation results, the data docs nor the failure examples.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from panorama.identity.codes import is_valid_uscc
from panorama.identity.pii import (
    mask_personal_data,
    sql_has_id_card_number,
    sql_has_mobile_number,
    sql_mask,
)
from panorama.ingest.feeds import DEFAULT_FUTURE_TOLERANCE_DAYS
from panorama.settings import get_settings

CHECKPOINT_FILE = "checkpoint.yml"
DOCS_SITE = "publication_gate"
MAX_EXAMPLES = 10

_TEXT_TYPES = ("VARCHAR",)
_INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ------------------------------------------------------------------------------------ results


@dataclass
class GxResult:
    """What the gate needs from the checkpoint: a verdict, the failures and where the docs are."""

    success: bool
    failures: list[dict[str, Any]] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    docs_index: Path | None = None
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["docs_index"] = str(self.docs_index) if self.docs_index else None
        return out


# ------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class GateConfig:
    """``expectations/checkpoint.yml`` plus the suites it runs."""

    name: str
    row_count_band: float
    grade_share_max_shift: float
    partial_unexpected_count: int
    suites: tuple[dict[str, Any], ...]


def load_gate_config(expectations_dir: Path | None = None) -> GateConfig:
    """Read the checkpoint definition and every suite file beside it."""
    import yaml

    folder = expectations_dir or get_settings().expectations_dir
    path = folder / CHECKPOINT_FILE
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    suites = []
    for suite_path in sorted(folder.glob(raw.get("suites", "*.json"))):
        with suite_path.open(encoding="utf-8") as fh:
            suite = json.load(fh)
        if suite.get("name") != suite_path.stem:
            raise ValueError(f"{suite_path}: suite name {suite.get('name')!r} must match the file")
        suites.append(suite)
    if not suites:
        raise ValueError(f"{folder}: no expectation suites found")
    return GateConfig(
        name=str(raw.get("name", "publication_gate")),
        row_count_band=float(raw.get("row_count_band", 0.5)),
        grade_share_max_shift=float(raw.get("grade_share_max_shift", 0.15)),
        partial_unexpected_count=int(raw.get("partial_unexpected_count", MAX_EXAMPLES)),
        suites=tuple(suites),
    )


def _suite_meta(suite: dict[str, Any]) -> dict[str, Any]:
    return (suite.get("meta") or {}).get("panorama") or {}


def _split_table(name: str) -> tuple[str, str]:
    schema, _, table = name.partition(".")
    if not (_IDENT.match(schema) and _IDENT.match(table)):
        raise ValueError(f"not a schema.table name: {name!r}")
    return schema, table


def _param_name(*parts: str) -> str:
    return "__".join(re.sub(r"[^A-Za-z0-9_]", "_", p) for p in parts)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------- baseline


def _baseline_parameters(
    config: GateConfig, baseline: dict[str, Any] | None
) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """Suite parameters for the baseline expectations and the (suite, need) pairs they cover."""
    params: dict[str, Any] = {}
    covered: set[tuple[str, str]] = set()
    if not baseline:
        return params, covered
    row_counts = baseline.get("row_counts") or {}
    shares = baseline.get("grade_shares") or {}
    band = config.row_count_band
    for suite in config.suites:
        name = suite["name"]
        previous = row_counts.get(name)
        if previous:
            params[_param_name("row_count_min", name)] = math.floor(previous * (1 - band))
            params[_param_name("row_count_max", name)] = math.ceil(previous * (1 + band))
            covered.add((name, "row_count"))
        if shares:
            for exp in suite.get("expectations", []):
                grade = (exp.get("meta") or {}).get("grade")
                if (exp.get("meta") or {}).get("needs_baseline") == "grade_shares" and grade:
                    base = float(shares.get(grade, 0.0))
                    shift = config.grade_share_max_shift
                    params[_param_name("grade_share_min", grade)] = max(0.0, base - shift)
                    params[_param_name("grade_share_max", grade)] = min(1.0, base + shift)
            covered.add((name, "grade_shares"))
    return params, covered


def _active_expectations(
    suite: dict[str, Any], covered: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The suite's expectations minus those whose baseline is not there (first publication)."""
    out = []
    for exp in suite.get("expectations", []):
        need = (exp.get("meta") or {}).get("needs_baseline")
        if need and (suite["name"], need) not in covered:
            continue
        out.append(exp)
    return out


# ---------------------------------------------------------------------------------- frames


@dataclass
class _Frame:
    table: str
    file: str
    rows: int
    derived: dict[str, dict[str, Any]]


def _columns_of(con: Any) -> dict[str, dict[str, str]]:
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name, data_type "
        "from information_schema.columns where table_catalog = current_database() "
        "order by table_schema, table_name, ordinal_position"
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, {})[column] = dtype
    return out


def _is_text(dtype: str) -> bool:
    return dtype.upper().startswith(_TEXT_TYPES)


def _ship(column: str, dtype: str) -> str:
    """SELECT item for a column shipped to GX.

    Text is masked for personal data. Integers become BIGINT and dates the BIGINT YYYYMMDD:
    GX's pandas range check is vectorised only for int64 and float64 columns and otherwise
    makes one Python call per value (minutes at 5 M rows).
    """
    q = _quote(column)
    kind = dtype.upper()
    if _is_text(dtype):
        return f"{sql_mask(q)} as {q}"
    if kind == "DATE":
        return f"cast(year({q}) * 10000 + month({q}) * 100 + day({q}) as bigint) as {q}"
    if kind in _INTEGER_TYPES:
        return f"cast({q} as bigint) as {q}"
    if kind.startswith(("DECIMAL", "REAL", "FLOAT")):
        return f"cast({q} as double) as {q}"
    return q


def date_number(day: date) -> int:
    """A date as the integer YYYYMMDD used for date columns in the GX batches."""
    return day.year * 10000 + day.month * 100 + day.day


def _expectation_columns(expectations: Iterable[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for exp in expectations:
        kwargs = exp.get("kwargs", {})
        for col in [kwargs.get("column"), *kwargs.get("column_list", [])]:
            if col and col not in cols:
                cols.append(col)
    return cols


def _invalid_usccs(con: Any, suites: list[dict[str, Any]], catalog: dict) -> list[str]:
    """Distinct codes, over all tables, that fail :func:`is_valid_uscc` (checked once each)."""
    selects = []
    for suite in suites:
        cols = catalog.get(suite["name"], {})
        for spec in _suite_meta(suite).get("derived", {}).values():
            if spec["kind"] == "uscc_valid" and spec["column"] in cols:
                schema, table = _split_table(suite["name"])
                selects.append(
                    f"select {_quote(spec['column'])} as code from {_quote(schema)}.{_quote(table)}"
                )
    if not selects:
        return []
    sql = f"select distinct code from ({' union all '.join(selects)}) where code is not null"
    codes = con.execute(sql).fetchnumpy()["code"]
    return sorted(str(v) for v in codes if not is_valid_uscc(str(v)))


def _derived_sql(
    name: str, spec: dict[str, Any], columns: dict[str, str], catalog: dict
) -> str | None:
    kind = spec["kind"]
    col = spec.get("column")
    if any(c not in columns for c in _source_columns(spec)):
        return None  # GX then reports the derived column missing; the message names the source
    q = _quote(col) if col else ""
    # NULL stays NULL (the not-null expectations report it); NULLs in the looked-up set must
    # not turn "not found" into NULL, hence the filters and coalesce.
    if kind == "uscc_valid":
        found = f"{q} in (select code from _invalid_uscc)"
        expr = f"case when {q} is null then null else not coalesce({found}, false) end"
    elif kind == "reference":
        ref_table, _, ref_col = spec["in"].rpartition(".")
        if ref_col not in catalog.get(ref_table, {}):
            expr = f"case when {q} is null then null else false end"
        else:
            schema, table = _split_table(ref_table)
            r = _quote(ref_col)
            found = (
                f"{q} in (select {r} from {_quote(schema)}.{_quote(table)} where {r} is not null)"
            )
            expr = f"case when {q} is null then null else coalesce({found}, false) end"
    elif kind in ("no_id_card_number", "no_mobile_number"):
        parts = [
            _quote(c) if _is_text(t) else f"cast({_quote(c)} as varchar)"
            for c, t in columns.items()
            if _is_text(t) or t.upper() in _INTEGER_TYPES
        ]
        if not parts:
            expr = "true"
        else:
            text = f"concat_ws(' | ', {', '.join(parts)})"
            test = sql_has_id_card_number if kind == "no_id_card_number" else sql_has_mobile_number
            expr = f"not {test(text)}"
    elif kind == "occurrences":
        keys = [_quote(c) for c in spec["columns"]]
        any_null = " or ".join(f"{k} is null" for k in keys)
        expr = (
            f"case when {any_null} then null "
            f"else count(*) over (partition by {', '.join(keys)}) end"
        )
    elif kind == "equals":
        value = str(spec["value"]).replace("'", "''")
        # integer, not tinyint: GX's mean on Spark takes no ByteType
        expr = f"cast(coalesce({q} = '{value}', false) as integer)"
    else:
        raise ValueError(f"unknown derived column kind {kind!r} for {name}")
    return f"{expr} as {_quote(name)}"


def _source_columns(spec: dict[str, Any]) -> list[str]:
    """The table columns a derived column is computed from."""
    return list(spec.get("columns") or ([spec["column"]] if spec.get("column") else []))


def _key_sql(key: list[str]) -> str:
    """``_key``: the row's key as text (over already masked columns), the examples' source."""
    if not key:
        return "'row ' || cast(row_number() over () as varchar) as _key"
    parts = [f"coalesce(cast({_quote(k)} as varchar), '<null>')" for k in key]
    return f"concat_ws('|', {', '.join(parts)}) as _key"


def _export_frame(
    con: Any,
    suite: dict[str, Any],
    expectations: list[dict[str, Any]],
    catalog: dict,
    workdir: Path,
) -> _Frame:
    """Write the batch of one suite to Parquet: its columns (masked) and its derived columns."""
    name = suite["name"]
    meta = _suite_meta(suite)
    derived = meta.get("derived", {})
    if meta.get("source") == "information_schema.columns":
        select = (
            "select table_schema || '.' || table_name || '.' || column_name as _key, "
            "table_name, column_name, data_type from information_schema.columns "
            f"where table_catalog = current_database() and table_schema = '{meta['schema']}'"
        )
    else:
        schema, table = _split_table(name)
        columns = catalog[name]
        key = [k for k in meta.get("key", []) if k in columns]
        wanted = key + [
            c for c in _expectation_columns(expectations) if c not in key and c in columns
        ]
        items = [_ship(c, columns[c]) for c in wanted]
        for dname, spec in derived.items():
            sql = _derived_sql(dname, spec, columns, catalog)
            if sql:
                items.append(sql)
        inner = f"select {', '.join(items)} from {_quote(schema)}.{_quote(table)}"
        select = f"select {_key_sql(key)}, * from ({inner})"
    file = f"{name}.parquet"
    target = str(workdir / file).replace("'", "''")
    ((rows,),) = con.execute(f"copy ({select}) to '{target}' (format parquet)").fetchall()
    return _Frame(table=name, file=file, rows=int(rows), derived=derived)


# ----------------------------------------------------------------------------------- running


def run_checkpoint(
    db_path: Path,
    as_of: date,
    run_id: str,
    docs_dir: Path | None = None,
    baseline: dict | None = None,
    expectations_dir: Path | None = None,
    engine: str = "duckdb",
    spark: Any = None,
) -> GxResult:
    """Validate the candidate ``db_path`` with every suite; build data docs into ``docs_dir``.

    ``engine`` is where GX evaluates the expectations: ``duckdb`` (pandas batches) or
    ``spark`` (a Spark filesystem datasource: Spark dataframes over the same Parquet batches,
    on ``spark``, else the engine's session). On the Spark engine ``db_path`` holds views
    over the Parquet marts (:func:`panorama.warehouse.parquet_views`).

    ``baseline`` is the previous publication: ``{"row_counts": {"schema.table": n},
    "grade_shares": {"A": 0.27, ...}}``; the row-count band and grade-drift expectations are
    skipped without it.
    """
    import duckdb

    if engine not in ("duckdb", "spark"):
        raise ValueError(f"engine must be duckdb or spark, got {engine!r}")
    started = time.perf_counter()
    config = load_gate_config(expectations_dir)
    params, covered = _baseline_parameters(config, baseline)
    params["as_of"] = date_number(as_of)
    # The latest plausible date of a record that is not an end of validity (as at extraction).
    latest = as_of + timedelta(days=DEFAULT_FUTURE_TOLERANCE_DAYS)
    params["latest_plausible_date"] = date_number(latest)

    failures: list[dict[str, Any]] = []
    frames: dict[str, _Frame] = {}
    active: dict[str, list[dict[str, Any]]] = {}
    timings: dict[str, float] = {}

    with tempfile.TemporaryDirectory(prefix="gx-frames-") as tmp:
        workdir = Path(tmp)
        t = time.perf_counter()
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            catalog = _columns_of(con)
            present = []
            for suite in config.suites:
                meta = _suite_meta(suite)
                if meta.get("source") != "information_schema.columns" and (
                    suite["name"] not in catalog
                ):
                    failures.append(_missing_table_failure(suite["name"]))
                    continue
                present.append(suite)
            invalid = _invalid_usccs(con, present, catalog)
            con.register("_invalid_uscc", _codes_frame(invalid))
            timings["uscc_check"] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
            for suite in present:
                active[suite["name"]] = _active_expectations(suite, covered)
                frames[suite["name"]] = _export_frame(
                    con, suite, active[suite["name"]], catalog, workdir
                )
        finally:
            con.close()
        timings["frames"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        checkpoint_result = _run_gx(
            config, frames, active, workdir, params, run_id, docs_dir, _spark_of(engine, spark)
        )
        timings["gx"] = round(time.perf_counter() - t, 3)

    stats = {
        "evaluated_expectations": 0,
        "successful_expectations": 0,
        "unsuccessful_expectations": 0,
        "tables_validated": len(frames),
        "tables_missing": [f["table"] for f in failures],
        "rows": {name: f.rows for name, f in frames.items()},
        "baseline_checks": sorted(f"{s}:{n}" for s, n in covered),
        "seconds": timings,
    }
    if checkpoint_result is not None:
        for suite_result in checkpoint_result.run_results.values():
            table = suite_result.suite_name
            s = suite_result.statistics
            stats["evaluated_expectations"] += int(s.get("evaluated_expectations", 0))
            stats["successful_expectations"] += int(s.get("successful_expectations", 0))
            stats["unsuccessful_expectations"] += int(s.get("unsuccessful_expectations", 0))
            for er in suite_result.results:
                if not er.success:
                    failures.append(
                        _describe_failure(table, er, frames[table], params, baseline or {})
                    )

    docs_index = None
    if docs_dir is not None and (docs_dir / "index.html").exists():
        docs_index = docs_dir / "index.html"
    return GxResult(
        success=not failures,
        failures=failures,
        statistics=stats,
        seconds=round(time.perf_counter() - started, 3),
        docs_index=docs_index,
        run_id=run_id,
    )


def _codes_frame(codes: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame({"code": pd.Series(codes, dtype="object")})


def _spark_of(engine: str, spark: Any) -> Any:
    """The SparkSession the expectations run on (None on the DuckDB engine)."""
    if engine != "spark" or spark is not None:
        return spark
    from panorama.spark import session

    return session(get_settings())


def _run_gx(
    config: GateConfig,
    frames: dict[str, _Frame],
    active: dict[str, list[dict[str, Any]]],
    workdir: Path,
    params: dict[str, Any],
    run_id: str,
    docs_dir: Path | None,
    spark: Any = None,
) -> Any:
    if not frames:
        return None
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _skip_batch_fingerprint()
    _compile_docs_templates_once()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    actions = []
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE]))

    if spark is None:
        source = context.data_sources.add_pandas_filesystem("candidate", base_directory=workdir)
    else:  # the session made for the engine is the active one GX reuses
        source = context.data_sources.add_spark_filesystem(
            "candidate", base_directory=workdir, persist=False
        )
    definitions = []
    for name, frame in frames.items():
        asset = source.add_parquet_asset(name)
        batch = asset.add_batch_definition_path(name, path=frame.file)
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=name,
                expectations=[_expectation_config(e) for e in active[name]],
                meta={"panorama": {"table": name}},
            )
        )
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
        )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=config.name,
            validation_definitions=definitions,
            actions=actions,
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": ["_key"],
                "partial_unexpected_count": config.partial_unexpected_count,
            },
        )
    )
    return checkpoint.run(
        expectation_parameters=params,
        run_id=RunIdentifier(run_name=run_id, run_time=datetime.now(UTC)),
    )


def _skip_batch_fingerprint() -> None:
    """Stop GX hashing every batch below 1 GB into an md5 batch marker.

    The fingerprint only labels the batch in the results; at 5 M rows it costs more than all
    the expectations together. GX reads the threshold at each batch load.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    if not hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        raise RuntimeError("great_expectations no longer has HASH_THRESHOLD: review the gate")
    pandas_execution_engine.HASH_THRESHOLD = 0


class _CompiledTemplates:
    """An in-memory Jinja bytecode cache: each template compiled once per process."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Any) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])  # rejected if the source changed

    def dump_bytecode(self, bucket: Any) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


def _compile_docs_templates_once() -> None:
    """Let GX's data-docs views share compiled templates.

    Each page of the data docs is rendered by a new view with a new Jinja environment, which
    compiles every template again: most of the time the docs take. A bytecode cache shared by
    those environments (the standard Jinja hook; each view keeps its own filters) compiles each
    template once.
    """
    from great_expectations.render.view.view import DefaultJinjaView
    from jinja2.bccache import BytecodeCache

    if getattr(DefaultJinjaView, "_panorama_templates", None) is not None:
        return

    class Cache(_CompiledTemplates, BytecodeCache):
        pass

    cache = Cache()
    init = DefaultJinjaView.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.env.bytecode_cache = cache

    DefaultJinjaView.__init__ = __init__  # type: ignore[method-assign]
    DefaultJinjaView._panorama_templates = cache  # type: ignore[attr-defined]


def _expectation_config(exp: dict[str, Any]) -> Any:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    return ExpectationConfiguration(
        type=exp["type"], kwargs=dict(exp.get("kwargs", {})), meta=dict(exp.get("meta", {}))
    ).to_domain_obj()


# --------------------------------------------------------------------------------- reporting


def _missing_table_failure(table: str) -> dict[str, Any]:
    return {
        "table": table,
        "expectation": "table_exists",
        "column": None,
        "message": f"table {table} is missing from the candidate",
        "examples": [],
    }


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _describe_failure(
    table: str, er: Any, frame: _Frame, params: dict[str, Any], baseline: dict[str, Any]
) -> dict[str, Any]:
    config = er.expectation_config
    kwargs = dict(config.kwargs)
    meta = dict(config.meta or {})
    result = dict(er.result or {})
    column = kwargs.get("column")
    source_column = column
    if column in frame.derived:
        source_column = ", ".join(_source_columns(frame.derived[column])) or column

    examples: list[str] = []
    for item in result.get("partial_unexpected_index_list") or []:
        key = item.get("_key") if isinstance(item, dict) else item
        key = mask_personal_data(str(key))
        if key not in examples:
            examples.append(key)

    fields = _Fields(
        table=table,
        column=source_column or "",
        unexpected_count=result.get("unexpected_count", "?"),
        element_count=result.get("element_count", frame.rows),
        observed_value=_fmt(result.get("observed_value")),
        min_value=_fmt(_resolve(kwargs.get("min_value"), params)),
        max_value=_fmt(_resolve(kwargs.get("max_value"), params)),
        grade=meta.get("grade", ""),
        as_of=_fmt_date_number(params.get("as_of")),
        latest_date=_fmt_date_number(params.get("latest_plausible_date")),
        previous_rows=(baseline.get("row_counts") or {}).get(table, "?"),
        baseline_share=_fmt((baseline.get("grade_shares") or {}).get(meta.get("grade"), 0.0)),
    )
    raised = _raised_exceptions(er.exception_info)
    if raised:
        message = _exception_message(raised[0], source_column, column, table)
    else:
        template = meta.get("message") or (
            "{unexpected_count} of {element_count} rows fail " + config.type + " on {column}"
        )
        message = template.format_map(fields)
    return {
        "table": table,
        "expectation": config.type,
        "column": source_column,
        "message": str(mask_personal_data(message)),
        "examples": examples[:MAX_EXAMPLES],
        # a comparison with the last publication (row_count | grade_shares), else null
        "baseline": meta.get("needs_baseline"),
    }


def _raised_exceptions(info: Any) -> list[dict[str, Any]]:
    """GX reports exceptions flat or keyed by metric; return those that were raised."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        return [info] if info.get("raised_exception") else []
    return [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]


def _exception_message(
    info: dict[str, Any], source: str | None, column: str | None, table: str
) -> str:
    text = str(info.get("exception_message") or "")
    lowered = text.lower()
    if (
        column
        and column in text
        and any(phrase in lowered for phrase in ("does not exist", "not found", "missing"))
    ):
        return f"column {source} is missing from {table}"
    return f"could not be evaluated: {text[:300]}"


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return params.get(value["$PARAMETER"])
    return value


def _fmt_date_number(value: Any) -> str:
    if isinstance(value, int) and 10000101 <= value <= 99991231:
        return f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}"
    return _fmt(value)


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)

"""Probabilistic entity resolution: link the records identifiers could not resolve to
registered entities with a Fellegi-Sunter model (Splink on DuckDB).

It runs between two dbt selections. Input, read-only from the candidate DuckDB file:
``intermediate.int_resolution__candidates_unmatched`` (records) and
``intermediate.int_resolution__registry`` plus ``int_resolution__entity_names`` (one row per
name an entity is or was known by). Output, under ``out_dir`` (the dbt source
``resolution``, ``$PANORAMA_RESOLUTION_DIR``):

- ``probabilistic_matches/matches.parquet``: one row per record whose best entity reaches
  ``review_floor`` (record_id, entity_id, match_probability, model_version); dbt links the
  ones at or above var ``probabilistic_match_threshold`` and reports the rest for review;
- ``review/review.parquet``: the grey zone (``review_floor`` <= p < ``threshold``), up to
  three candidate entities per record with their probabilities, for a person to decide.

The trained model (Splink JSON) is saved in ``model_dir``. With ``kept_model_dir`` it is also
kept between runs and reused without training until a retrain is due (:class:`RetrainPolicy`:
age by logical date, drift of the share of records linked, changed comparisons); a reused model
scores only the records that are new or whose inputs changed, the others keep their outcome
(``scored_records.parquet`` / ``scored_posterior.parquet`` beside the kept model).

Comparisons are made for Chinese names: full-width characters folded, punctuation and
brackets dropped; the *core* of a name is the name without the province, city and division
prefix (山东省, 德州市, 德城区, 德城 …) and without the legal-form suffix (有限公司, 专业合作社,
个体工商户, 经营部 …), which is what a consumer writes on a complaint. Name levels: exact full
name, exact core, one name contained in the other, within one Chinese character (UTF-8 byte
Levenshtein <= 3), character-bigram Jaccard. Addresses are compared without the
province/city/division prefix; division and legal representative by equality.

Splink gives a pairwise probability under a prior of one match per registered name. A record
belongs to at most one entity, so the probability written is the posterior over all the
record's candidate entities: ``2^w_i / (1 + sum_j 2^w_j)`` with ``w`` the match weights. Two
entities with the same name and nothing else to tell them apart therefore both stay below
0.5 and the record stays unresolved instead of being linked to one of them by chance.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from panorama.settings import get_settings

log = logging.getLogger(__name__)

MODEL_NAME = "panorama-resolution"
DEFAULT_THRESHOLD = 0.9
DEFAULT_REVIEW_FLOOR = 0.3
REVIEW_CANDIDATES = 3
# Province prefixes in front of the city's own division names (ref_divisions).
PROVINCE_PREFIXES = ("山东省", "山东")
# Legal-form endings a consumer leaves out (longest first).
LEGAL_FORM_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "农民专业合作社",
    "专业合作社",
    "合作社",
    "个体工商户",
    "经营部",
    "商行",
)
# Record kinds whose party name is written by a consumer (a shop sign), not copied from the
# register by a department: their full-name agreement is weaker evidence.
CONSUMER_KINDS = ("complaint",)
# Departments copy the registered name: the share of a department record's true matches that
# agree on the full (folded) name. Fixed, not trained: the EM sessions block on address and on
# the core name, and department records carry no address.
DEPARTMENT_NAME_AGREEMENT = 0.95
# Share of the records reaching the matcher that belong to some registered entity (the prior
# of the posterior over candidates; the rest are unlicensed vendors, unregistered parties).
MATCHABLE_SHARE = 0.9
# Smallest m probability of a trained comparison level (see _floor_m).
M_FLOOR = 0.002
# Blocked pairs each EM session trains on at most (Splink samples records above that). The
# sessions block on division + address and on division + core name, so division keeps its
# starting m values.
EM_MAX_PAIRS = 2e6
# Chunks the u estimation counts its sampled pairs in (see _train).
U_CHUNKS = 1
# Pairs scored below this match weight are dropped (they change no posterior that matters).
MIN_MATCH_WEIGHT = -10.0
# Term-frequency adjustments on the name: agreeing on a core name (or full name) that many
# entities and records share is weaker evidence than agreeing on a rare one, so a consumer's
# 鑫源超市 does not link to the one 鑫源 entity the blocking found among many. The u of such a
# level is the value's frequency in the records and the register, floored at TF_MINIMUM_U.
TERM_FREQUENCIES = True
TF_MINIMUM_U = 1e-6
# Significant digits the trained m and u probabilities keep (see _settle).
PARAMETER_DIGITS = 9

MATCHES_SUBDIR = "probabilistic_matches"
REVIEW_SUBDIR = "review"
MATCHES_FILE = "matches.parquet"
REVIEW_FILE = "review.parquet"
MODEL_FILE = "resolution_model.json"
KEPT_META_FILE = "resolution_model_meta.json"


@dataclass(frozen=True)
class RetrainPolicy:
    """When the kept model is trained again instead of reused: it is ``every_days`` old (by
    logical date), the share of records it links moved more than ``max_rate_drift`` from the
    share at training, the comparisons of the code changed, or there is no kept model."""

    every_days: int = 30
    max_rate_drift: float = 0.05


_FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALFWIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
_DROP = r"[\s()\[\]【】〔〕<>《》·.,，、。:：;；\"'“”‘’_\-—/\\]"


@dataclass
class MatchOutcome:
    """What one run of the matcher did (returned as a dict for Airflow's XCom)."""

    records: int
    registry_entities: int
    registry_names: int
    candidate_pairs: int
    matched: int
    above_threshold: int
    review: int
    unmatched: int
    model_version: str
    matches_path: str
    review_path: str
    model_path: str | None
    seconds: dict[str, float] = field(default_factory=dict)
    training: str = "em"  # em | prior (EM failed) | reused (the kept model) | none
    splink_version: str = ""
    retrain_reason: str | None = None
    records_scored: int = 0  # records scored by this run (the others kept their outcome)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fold(expr: str) -> str:
    """Full-width ASCII folded to half-width, upper case, spaces and punctuation dropped."""
    return (
        f"nullif(upper(regexp_replace(translate(cast({expr} as varchar), "
        f"{_sql_str(_FULLWIDTH)}, {_sql_str(_HALFWIDTH)}), {_sql_str(_DROP)}, '', 'g')), '')"
    )


def load_divisions(csv_path: Path) -> list[tuple[str, str]]:
    """(code, name) pairs of the city's divisions, from the dbt seed ``ref_divisions``."""
    with csv_path.open(encoding="utf-8") as f:
        return [(r["division_code"], r["division_name"]) for r in csv.DictReader(f)]


def _place_patterns(divisions: list[tuple[str, str]]) -> tuple[str, str, list[tuple[str, str]]]:
    """Regexes of the place prefix of a name or address (province, city, division) and of its
    province/city part alone, and (name or short name, code) of each division, longest first."""
    city = [n for c, n in divisions if c.endswith("00")]
    city_all = city + [n[:-1] for n in city if len(n) >= 3 and n.endswith("市")]
    keys: list[tuple[str, str]] = []
    for code, name in divisions:
        if not code.endswith("00"):
            keys.append((name, code))
            if len(name) >= 3 and name[-1] in "区县市":
                keys.append((name[:-1], code))
    keys.sort(key=lambda k: (-len(k[0]), k[0]))

    def alt(xs: list[str] | tuple[str, ...]) -> str:
        return "|".join(sorted(set(xs), key=len, reverse=True))

    head = f"^({alt(PROVINCE_PREFIXES)})?({alt(city_all)})?"
    return f"{head}({alt([k for k, _ in keys])})?", head, keys


def _prepare_sql(divisions: list[tuple[str, str]]) -> tuple[str, str]:
    """SQL (DuckDB) preparing the records and the registry names with comparison features."""
    pattern, head, keys = _place_patterns(divisions)
    consumer_kinds = ", ".join(_sql_str(k) for k in CONSUMER_KINDS)
    suffix = "(" + "|".join(LEGAL_FORM_SUFFIXES) + ")$"

    def features(name: str, address: str, division: str) -> str:
        full = _fold(name)
        stripped = f"regexp_replace({full}, {_sql_str(pattern)}, '')"
        core = f"nullif(regexp_replace({stripped}, {_sql_str(suffix)}, ''), '')"
        addr = _fold(address)
        # the division a name starts with, after an optional province/city prefix
        after_head = f"regexp_replace({full}, {_sql_str(head)}, '')"
        named = " ".join(
            f"when starts_with({after_head}, {_sql_str(k)}) then {_sql_str(c)}" for k, c in keys
        )
        return f"""
            {full} as name_full,
            coalesce({core}, {full}) as name_core,
            nullif(regexp_replace({addr}, {_sql_str(pattern)}, ''), '') as address_norm,
            coalesce(nullif(cast({division} as varchar), ''), case {named} end) as division"""

    def finish(rows: str) -> str:
        return f"""
            select *,
                list_distinct([substr(name_core, i + 1, 2)
                    for i in range(greatest(length(name_core) - 1, 1))]) as core_bigrams,
                left(name_core, 2) as core_head,
                right(name_core, 2) as core_tail
            from ({rows})
            where name_full is not null"""

    record_rows = f"""
            select
                record_id as unique_id,
                cast(null as varchar) as entity_id,
                cast(null as boolean) as is_registered,
                case when record_kind in ({consumer_kinds}) then 'consumer' else 'department' end
                    as name_origin,
                {features("coalesce(party_name, name_key)", "address", "division_code")},
                nullif(trim(cast(legal_rep as varchar)), '') as legal_rep,
                nullif(uscc, '') as uscc
            from candidates
        """
    records = f"create or replace table resolution_records as {finish(record_rows)}"
    registry_rows = """
            select
                entity_id || '#' || cast(row_number() over (
                    partition by entity_id order by name_rank, name_full) as varchar)
                    as unique_id,
                entity_id,
                is_registered,
                cast(null as varchar) as name_origin,
                name_full, name_core, address_norm, division, legal_rep, uscc
            from named
    """
    # Registered entities under every name they are or were known by, and entities outside
    # the register: records carrying a valid USCC the register does not know are evidence of
    # an entity the register misses (its registration rejected or not delivered). A record
    # that fits such an entity as well as a registered namesake is not linked.
    registry = f"""
        create or replace table resolution_registry as
        with reg as (
            select * from cand.intermediate.int_resolution__registry
        ),
        names as (
            select entity_id, entity_name as name, 0 as name_rank from reg
            union all
            select n.entity_id, n.name_key, 1
            from cand.intermediate.int_resolution__entity_names as n
            where n.name_source <> 'current'
        ),
        registered as (
            select
                n.entity_id,
                true as is_registered,
                n.name_rank,
                {features("n.name", "reg.address", "reg.division_code")},
                nullif(trim(cast(reg.legal_rep as varchar)), '') as legal_rep,
                reg.uscc
            from names as n
            inner join reg using (entity_id)
        ),
        unregistered as (
            select
                uscc as entity_id,
                false as is_registered,
                2 as name_rank,
                {features("coalesce(party_name, name_key)", "address", "division_code")},
                nullif(trim(cast(legal_rep as varchar)), '') as legal_rep,
                uscc
            from candidates
            where unresolved_reason = 'uscc_not_registered' and uscc is not null
        ),
        named as (
            select * from (select * from registered union all by name select * from unregistered)
            where name_full is not null
            -- ties broken on every compared column: the row kept is the same on every run
            qualify row_number() over (
                partition by entity_id, name_full
                order by name_rank, address_norm, division, legal_rep, uscc) = 1
        )
        {finish(registry_rows)}
    """
    return records, registry


def _utf8_bytes(expr: str, dialect: str) -> str:
    """``expr`` as DuckDB's string functions see it, one character per UTF-8 byte: DuckDB's
    levenshtein and jaro-winkler count bytes, Spark's count characters."""
    return expr if dialect == "duckdb" else f"decode(encode({expr}, 'UTF-8'), 'ISO-8859-1')"


def _engine_sql(dialect: str) -> dict[str, str]:
    """The comparison expressions that are spelled differently on each engine (the same
    values on both: a level is the same level whatever the engine)."""
    b = _utf8_bytes
    if dialect == "duckdb":
        jaccard = (
            "len(list_intersect(core_bigrams_l, core_bigrams_r)) / "
            "len(list_distinct(list_concat(core_bigrams_l, core_bigrams_r)))"
        )
    else:
        jaccard = (
            "size(array_intersect(core_bigrams_l, core_bigrams_r)) / "
            "size(array_distinct(concat(core_bigrams_l, core_bigrams_r)))"
        )
    jaro = "jaro_winkler_similarity" if dialect == "duckdb" else "jaro_winkler"
    return {
        "jaccard": jaccard,
        "levenshtein": f"levenshtein({b('name_core_l', dialect)}, {b('name_core_r', dialect)})",
        "jaro_winkler": f"{jaro}({b('address_norm_l', dialect)}, {b('address_norm_r', dialect)})",
    }


def _settings(prior: float, seed: int, department_share: float, dialect: str = "duckdb") -> Any:
    """The model's settings; ``dialect`` (duckdb | spark) spells the custom levels' SQL."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    sql = _engine_sql(dialect)
    jaccard = sql["jaccard"]
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_description="名称 (folded; core = no place prefix, no legal form)",
        comparison_levels=[
            cll.NullLevel("name_full"),
            cll.CustomLevel(
                "name_full_l = name_full_r "
                "and coalesce(name_origin_l, name_origin_r) = 'department'",
                "full name equal, department record",
            ).configure(
                m_probability=department_share * DEPARTMENT_NAME_AGREEMENT, fix_m_probability=True
            ),
            cll.ExactMatchLevel("name_full").configure(
                label_for_charts="full name equal",
                m_probability=0.3,
                tf_adjustment_column="name_full" if TERM_FREQUENCIES else None,
            ),
            cll.CustomLevel(
                "name_core_l = name_core_r and length(name_core_l) >= 2",
                "core name equal",
            ).configure(
                m_probability=0.4,
                tf_adjustment_column="name_core" if TERM_FREQUENCIES else None,
                tf_minimum_u_value=TF_MINIMUM_U,
                # the level's own u is the average a frequency is compared with
                disable_tf_exact_match_detection=True,
            ),
            cll.CustomLevel(
                "(length(name_core_r) >= 3 and contains(name_full_l, name_core_r)) "
                "or (length(name_core_l) >= 3 and contains(name_full_r, name_core_l))",
                "core name contained",
            ).configure(m_probability=0.05),
            cll.CustomLevel(
                "length(name_core_l) >= 3 and length(name_core_r) >= 3 "
                f"and {sql['levenshtein']} <= 3",
                "core within one character",
            ).configure(m_probability=0.1),
            cll.CustomLevel(f"{jaccard} >= 0.5", "core bigram jaccard >= 0.5").configure(
                m_probability=0.05
            ),
            cll.CustomLevel(f"{jaccard} >= 0.25", "core bigram jaccard >= 0.25").configure(
                m_probability=0.03
            ),
            cll.ElseLevel().configure(m_probability=0.07),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_description="住所 (without province/city/division prefix)",
        comparison_levels=[
            cll.NullLevel("address_norm"),
            cll.ExactMatchLevel("address_norm").configure(m_probability=0.9),
            cll.CustomLevel(
                "regexp_extract(address_norm_l, '([0-9]+)号', 1) "
                "= regexp_extract(address_norm_r, '([0-9]+)号', 1) "
                "and regexp_extract(address_norm_l, '([0-9]+)号', 1) <> '' "
                f"and {sql['jaro_winkler']} >= 0.85",
                "same house number, address jaro-winkler >= 0.85",
            ).configure(m_probability=0.05),
            cll.ElseLevel().configure(m_probability=0.05),
        ],
    )
    # A USCC identifies one entity: the same first 17 characters (a wrong check character) is
    # near-conclusive, a different code nearly rules the pair out. Fixed, not trained: few
    # records reaching the matcher carry a code.
    code = cl.CustomComparison(
        output_column_name="uscc",
        comparison_description="统一社会信用代码 as delivered (first 17 characters)",
        comparison_levels=[
            cll.NullLevel("uscc"),
            cll.CustomLevel(
                "left(uscc_l, 17) = left(uscc_r, 17)", "same first 17 characters"
            ).configure(
                m_probability=0.98,
                u_probability=1e-6,
                fix_m_probability=True,
                fix_u_probability=True,
            ),
            cll.ElseLevel().configure(
                m_probability=0.02,
                u_probability=1.0,
                fix_m_probability=True,
                fix_u_probability=True,
            ),
        ],
    )
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        comparisons=[
            name,
            address,
            cl.ExactMatch("division").configure(m_probabilities=[0.95, 0.05]),
            cl.ExactMatch("legal_rep").configure(m_probabilities=[0.9, 0.1]),
            code,
        ],
        blocking_rules_to_generate_predictions=[
            block_on("name_full"),
            block_on("name_core", "division"),
            block_on("address_norm", "division"),
            block_on("division", "core_head", "core_tail"),
        ],
        additional_columns_to_retain=["entity_id", "is_registered"],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=20,
        em_convergence=0.0001,
        linker_uid=f"{MODEL_NAME}-{seed}",
    )


def _floor_m(model: dict[str, Any]) -> dict[str, Any]:
    """No single disagreement is conclusive: EM drives m of 'different address' or 'different
    division' to 0 when the training data never disagree; floor every m at M_FLOOR (and
    renormalise), so a moved shop or a mistyped division costs about 9 bits, not infinity."""
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        if any(lv.get("fix_m_probability") for lv in levels) or not all(
            isinstance(lv.get("m_probability"), float | int) for lv in levels
        ):
            continue
        floored = [max(float(lv["m_probability"]), M_FLOOR) for lv in levels]
        total = sum(floored)
        for lv, m in zip(levels, floored, strict=True):
            lv["m_probability"] = m / total
    return model


def _settle(model: dict[str, Any]) -> dict[str, Any]:
    """Round every trained probability to PARAMETER_DIGITS significant digits. EM sums match
    probabilities over millions of pairs in parallel, in no fixed order, so two runs on the
    same records differ in the last bits of a double; rounded, they give the same model, the
    same match weights and the same published probabilities."""

    def rounded(x: Any) -> Any:
        return float(f"{x:.{PARAMETER_DIGITS}g}") if isinstance(x, float) else x

    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                if key in level:
                    level[key] = rounded(level[key])
    key = "probability_two_random_records_match"
    if key in model:
        model[key] = rounded(model[key])
    return model


def _write_parquet(con: Any, query: str, path: Path) -> int:
    """Write ``query`` to ``path`` atomically (tmp + rename); return the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("*.parquet"):
        if old.name != path.name:
            old.unlink()
    tmp = path.with_suffix(".parquet.tmp")
    con.execute(f"copy ({query}) to '{tmp}' (format parquet, compression zstd)")
    os.replace(tmp, path)
    return con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]


def _neutral(model: dict[str, Any]) -> dict[str, Any]:
    """The model without what spells it for one engine (its dialect, the SQL of its levels):
    the same parameters trained on DuckDB or on Spark are the same model version."""
    out = {k: v for k, v in model.items() if k != "sql_dialect"}
    out["blocking_rules_to_generate_predictions"] = [
        str(r.get("blocking_rule", r) if isinstance(r, dict) else r).replace("`", '"')
        for r in model.get("blocking_rules_to_generate_predictions", [])
    ]
    out["comparisons"] = [
        {
            **c,
            "comparison_levels": [
                {k: v for k, v in lv.items() if k != "sql_condition"}
                for lv in c.get("comparison_levels", [])
            ],
        }
        for c in model.get("comparisons", [])
    ]
    return out


def _model_version(model: dict[str, Any]) -> str:
    """splink-<version>-<12 hex of the rounded parameters>: same model, same version."""
    import splink

    def rounded(x: Any) -> Any:
        if isinstance(x, float):
            return round(x, 6)
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        if isinstance(x, list):
            return [rounded(v) for v in x]
        return x

    digest = hashlib.sha256(
        json.dumps(rounded(_neutral(model)), sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:12]
    return f"splink-{splink.__version__}-{digest}"


def _splink_inputs(con: Any, engine: str, spark: Any) -> Callable[[str, str], Any]:
    """A function registering a DuckDB table as a Splink input (``table``, ``name``) on
    ``engine``; every input of one linker goes through the same Splink API."""
    if engine == "duckdb":
        from splink import DuckDBAPI

        db_api = DuckDBAPI(connection=con)
        return lambda table, name: db_api.register(table, table_name=name)
    from splink.backends.spark import SparkAPI

    if spark is None:
        from panorama.spark import session

        spark = session(get_settings())
    # one machine: Splink's intermediate frames cached, not written out as Parquet checkpoints
    local = spark.sparkContext.master.startswith("local")
    spark_api = SparkAPI(spark_session=spark, break_lineage_method="persist" if local else None)

    def register(table: str, name: str) -> Any:
        # the session outlives one matching (a second run in the same process): the inputs of
        # the last one go first
        spark.catalog.dropTempView(name)
        return spark_api.register(
            spark.createDataFrame(con.table(table).arrow().read_all()), table_name=name
        )

    return register


def _collect_scored(con: Any, pairs: Any, engine: str) -> None:
    """The scored pairs (record, entity, match weight) into ``resolution_scored``."""
    columns = "unique_id_l, unique_id_r, entity_id_r, is_registered_r, match_weight"
    if engine == "duckdb":
        con.execute(f"insert into resolution_scored select {columns} from {pairs.physical_name}")
        return
    scored = pairs.as_spark_dataframe().selectExpr(*columns.split(", ")).toArrow()
    con.register("_scored_on_spark", scored)
    con.execute(f"insert into resolution_scored select {columns} from _scored_on_spark")
    con.unregister("_scored_on_spark")


def match_unresolved(
    candidate_db: Path,
    out_dir: Path,
    model_dir: Path,
    seed: int = 42,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    review_floor: float = DEFAULT_REVIEW_FLOOR,
    divisions_csv: Path | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    kept_model_dir: Path | None = None,
    as_of: str | None = None,
    policy: RetrainPolicy | None = None,
    engine: str = "duckdb",
    spark: Any = None,
) -> dict[str, Any]:
    """Match the candidate's unmatched records to registered entities; write the matches,
    the review list and the model. ``candidate_db`` is opened read-only.

    With ``kept_model_dir`` the trained model is kept there between runs and reused (no
    training) until ``policy`` says a retrain is due on the logical date ``as_of``.

    ``engine`` is where Splink trains and scores: ``duckdb``, or ``spark`` (Splink's Spark
    backend on ``spark``, a SparkSession; the engine's session when None), with the same
    settings, blocking and training. The records are prepared, and the posterior written, by
    DuckDB on both; a model kept from one engine is not reused on the other (its SQL differs,
    so its fingerprint does)."""
    import duckdb
    import splink
    from splink import Linker

    if engine not in ("duckdb", "spark"):
        raise ValueError(f"engine must be duckdb or spark, got {engine!r}")

    if not 0 < review_floor <= threshold <= 1:
        raise ValueError(
            f"need 0 < review_floor <= threshold <= 1, got {review_floor}, {threshold}"
        )
    candidate_db, out_dir, model_dir = Path(candidate_db), Path(out_dir), Path(model_dir)
    if not candidate_db.exists():
        raise FileNotFoundError(f"candidate DuckDB file not found: {candidate_db}")
    if divisions_csv is None or memory_limit is None:
        defaults = get_settings()
        divisions_csv = divisions_csv or defaults.dbt_project_dir / "seeds" / "ref_divisions.csv"
        memory_limit = memory_limit or defaults.duckdb_memory_limit
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    mark = started

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[name] = round(now - mark, 2)
        mark = now

    con = duckdb.connect(":memory:")
    con.execute("set memory_limit = " + _sql_str(memory_limit))
    if threads:
        con.execute(f"set threads = {int(threads)}")
    con.execute("set preserve_insertion_order = false")
    con.execute(f"attach '{candidate_db}' as cand (read_only)")
    has_rep = bool(
        con.execute(
            "select count(*) from duckdb_columns() where database_name = 'cand' "
            "and table_name = 'int_resolution__candidates_unmatched' and column_name = 'legal_rep'"
        ).fetchone()[0]
    )
    con.execute(
        "create temp view candidates as select *"
        + ("" if has_rep else ", cast(null as varchar) as legal_rep")
        + " from cand.intermediate.int_resolution__candidates_unmatched"
    )
    records_sql, registry_sql = _prepare_sql(load_divisions(Path(divisions_csv)))
    con.execute(records_sql)
    con.execute(registry_sql)
    con.execute("drop view candidates")
    con.execute("detach cand")
    n_records = con.execute("select count(*) from resolution_records").fetchone()[0]
    n_names, n_entities = con.execute(
        "select count(*) filter (where is_registered), "
        "count(distinct entity_id) filter (where is_registered) from resolution_registry"
    ).fetchone()
    lap("prepare")

    matches_path = out_dir / MATCHES_SUBDIR / MATCHES_FILE
    review_path = out_dir / REVIEW_SUBDIR / REVIEW_FILE
    model_dir.mkdir(parents=True, exist_ok=True)
    model_path: Path | None = model_dir / MODEL_FILE
    training = "em"
    # A record matches at most one registered entity: the pairwise prior.
    prior = min(0.5, MATCHABLE_SHARE / max(n_entities, 1))
    department_share = con.execute(
        "select coalesce(avg(case when name_origin = 'department' then 1 else 0 end), 0) "
        "from resolution_records"
    ).fetchone()[0]
    settings = _settings(prior, seed, max(float(department_share), 1e-6), engine)
    con.execute(
        "create or replace table resolution_scored (unique_id_l varchar, unique_id_r varchar, "
        "entity_id varchar, is_registered boolean, match_weight double)"
    )
    con.execute(f"create or replace table resolution_reused as {_POSTERIOR_EMPTY}")
    reused = 0
    policy = policy or RetrainPolicy()
    kept = _load_kept(kept_model_dir) if kept_model_dir is not None else None
    fingerprint = _fingerprint(settings)
    retrain = _retrain_reason(kept, fingerprint, as_of, policy)
    if n_records and n_names:
        register = _splink_inputs(con, engine, spark)
        left = register("resolution_records", "records")
        right = register("resolution_registry", "registry")
        if retrain is None:
            # the kept model as it was trained (its prior too): the same version until a retrain
            model = kept[0]
            training = "reused"
            reused = _reuse_scores(con, kept_model_dir, kept[1]["model_version"])
            if reused < n_records:
                _finish_results(con)
                todo = register("resolution_records_todo", "records_todo")
                linker = Linker([todo, right], model, log_level=logging.WARNING)
                full = Linker([left, right], model, log_level=logging.WARNING)
                for column in _tf_columns(model):  # frequencies over every record
                    tf = full.table_management.compute_tf_table(column)
                    linker.table_management.register_term_frequency_lookup(tf, column)
                _predict(con, linker, engine)
            lap("predict")
            rate = _posterior(con, threshold) / max(n_records, 1)
            if abs(rate - kept[1].get("match_rate", rate)) > policy.max_rate_drift:
                retrain = f"match rate drift {kept[1].get('match_rate')} -> {rate:.4f}"
                con.execute("delete from resolution_scored").fetchall()
                con.execute("delete from resolution_reused").fetchall()
                reused = 0
        if retrain is not None:
            log.info("probabilistic matching: training the model (%s)", retrain)
            _finish_results(con)
            model, training = _train(
                Linker([left, right], settings, log_level=logging.WARNING), seed, lap
            )
            _finish_results(con)
            _predict(con, Linker([left, right], model, log_level=logging.WARNING), engine)
            lap("predict")
        _finish_results(con)
        linker = Linker([left, right], model, log_level=logging.WARNING)
        model = linker.misc.save_model_to_json(str(model_path), overwrite=True)
    else:
        model = settings.create_settings_dict(engine)
        model_path = None
        training = "none"
    model_version = _model_version(model)
    n_pairs = con.execute("select count(*) from resolution_scored").fetchone()[0]

    n_above_posterior = _posterior(con, threshold)
    if kept_model_dir is not None and model_path is not None:
        _save_scores(con, kept_model_dir, model_version)
    # only a model EM trained is kept: one scored with the starting values is tried again
    if kept_model_dir is not None and training == "em" and retrain is not None:
        _save_kept(
            kept_model_dir,
            model,
            {
                "trained_on": as_of,
                "reason": retrain,
                "match_rate": round(n_above_posterior / max(n_records, 1), 6),
                "fingerprint": fingerprint,
                "model_version": _model_version(model),
            },
        )
    version = _sql_str(model_version)
    n_matched = _write_parquet(
        con,
        f"""select record_id, entity_id, match_probability, {version} as model_version
            from resolution_posterior
            where candidate_rank = 1 and is_registered and match_probability >= {review_floor}
            order by record_id""",
        matches_path,
    )
    _write_parquet(
        con,
        f"""with grey as (
                select record_id from resolution_posterior
                where candidate_rank = 1 and is_registered
                  and match_probability >= {review_floor} and match_probability < {threshold}
            )
            select p.record_id, p.candidate_rank, p.entity_id,
                   p.is_registered as candidate_registered, p.match_probability,
                   p.match_weight, {version} as model_version
            from resolution_posterior as p
            inner join grey using (record_id)
            where p.candidate_rank <= {REVIEW_CANDIDATES}
            order by p.record_id, p.candidate_rank""",
        review_path,
    )
    n_review_records = con.execute(
        f"select count(distinct record_id) from read_parquet('{review_path}')"
    ).fetchone()[0]
    n_above = con.execute(
        f"select count(*) from read_parquet('{matches_path}') "
        f"where match_probability >= {threshold}"
    ).fetchone()[0]
    lap("write")
    con.close()
    seconds["total"] = round(time.perf_counter() - started, 2)
    outcome = MatchOutcome(
        records=n_records,
        registry_entities=n_entities,
        registry_names=n_names,
        candidate_pairs=n_pairs,
        matched=n_matched,
        above_threshold=n_above,
        review=n_review_records,
        unmatched=n_records - n_above,
        model_version=model_version,
        matches_path=str(matches_path),
        review_path=str(review_path),
        model_path=str(model_path) if model_path else None,
        seconds=seconds,
        training=training,
        splink_version=splink.__version__,
        retrain_reason=retrain if training != "reused" else None,
        records_scored=n_records - reused,
    )
    log.info(
        "probabilistic matching: %d records, %d linked (p >= %s), %d to review, %d pairs, %.1fs",
        n_records,
        n_above,
        threshold,
        n_review_records,
        n_pairs,
        seconds["total"],
    )
    return outcome.to_dict()


def _train(linker: Any, seed: int, lap: Any) -> tuple[dict[str, Any], str]:
    """u by random sampling, m by EM on two blockings; the settled model and how it was made."""
    training = "em"
    # The sampled pairs counted in one pass: Splink's chunks are cut by the engine's own
    # hash function and counting stops at the first chunk that has enough, so chunked
    # counts would depend on the engine (and each chunk costs Spark a round of jobs)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed, num_chunks=U_CHUNKS)
    lap("train_u")
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            "l.division = r.division and l.address_norm = r.address_norm",
            fix_u_probabilities=True,
            max_pairs=EM_MAX_PAIRS,
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            "l.division = r.division and l.name_core = r.name_core",
            fix_u_probabilities=True,
            max_pairs=EM_MAX_PAIRS,
        )
    except Exception as exc:  # noqa: BLE001 - Splink raises bare Exceptions on EM failure
        log.warning("EM training did not converge, scoring with the starting m values: %s", exc)
        training = "prior"
    lap("train_em")
    return _settle(_floor_m(linker.misc.save_model_to_json())), training


def _finish_results(con: Any) -> None:
    """Complete any result left open on the connection: Splink's queries refuse to start while
    one is (DuckDB: "connection has an unfinished result")."""
    con.execute("select 1").fetchall()


def _predict(con: Any, linker: Any, engine: str = "duckdb") -> None:
    pairs = linker.inference.predict(threshold_match_weight=MIN_MATCH_WEIGHT)
    _collect_scored(con, pairs, engine)


def _posterior(con: Any, threshold: float) -> int:
    """``resolution_posterior`` from ``resolution_scored``; returns the records whose best
    registered entity reaches ``threshold``."""
    # Posterior over each record's candidate entities: at most one of them is the record's
    # entity, none with prior 1 - MATCHABLE_SHARE. Match weights are log2 odds.
    none_w = math.log2(1 - MATCHABLE_SHARE)
    con.execute(
        f"""
        create or replace table resolution_posterior as
        with per_entity as (
            select unique_id_l as record_id, entity_id, is_registered,
                   least(greatest(max(match_weight), -60), 60) as w
            from resolution_scored
            group by all
        ),
        normed as (
            select *, greatest(max(w) over (partition by record_id), {none_w}) as top
            from per_entity
        ),
        -- summed in entity order: a floating-point sum in no fixed order differs between runs
        totals as (
            select record_id, list_sum(list(pow(2, w - top) order by entity_id)) as total
            from normed
            group by record_id
        )
        select record_id, entity_id, is_registered, w as match_weight,
            pow(2, w - top) / (pow(2, {none_w} - top) + totals.total) as match_probability,
            row_number() over (
                partition by record_id order by w desc, entity_id) as candidate_rank
        from normed
        inner join totals using (record_id)
        """
    )
    con.execute("insert into resolution_posterior select * from resolution_reused").fetchall()
    return con.execute(
        "select count(*) from resolution_posterior "
        f"where candidate_rank = 1 and is_registered and match_probability >= {threshold}"
    ).fetchone()[0]


def _fingerprint(settings: Any) -> str:
    """The model's structure (comparison levels, term-frequency columns and blockings, not
    their probabilities): a kept model trained for other comparisons is not reused."""
    spec = settings.create_settings_dict("duckdb")
    shape = {
        "comparisons": [
            [
                {k: v for k, v in lv.items() if k not in ("m_probability", "u_probability")}
                for lv in c["comparison_levels"]
            ]
            for c in spec["comparisons"]
        ],
        "blocking": spec.get("blocking_rules_to_generate_predictions"),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _load_kept(kept_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    try:
        model = json.loads((kept_dir / MODEL_FILE).read_text(encoding="utf-8"))
        meta = json.loads((kept_dir / KEPT_META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return model, meta


def _save_kept(kept_dir: Path, model: dict[str, Any], meta: dict[str, Any]) -> None:
    """The model, then its metadata, each written atomically (the metadata last: a kept model
    without metadata is not reused)."""
    kept_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in ((MODEL_FILE, model), (KEPT_META_FILE, meta)):
        tmp = kept_dir / (name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, kept_dir / name)


def _retrain_reason(
    kept: tuple[dict[str, Any], dict[str, Any]] | None,
    fingerprint: str,
    as_of: str | None,
    policy: RetrainPolicy,
) -> str | None:
    """Why the model is trained on this run, or None: the kept model is reused."""
    if kept is None:
        return "no kept model"
    meta = kept[1]
    if meta.get("fingerprint") != fingerprint:
        return "comparisons changed"
    trained_on = meta.get("trained_on")
    if as_of is None or trained_on is None:
        return "no logical date to age the kept model by"
    from datetime import date

    age = (date.fromisoformat(as_of) - date.fromisoformat(trained_on)).days
    if age >= policy.every_days or age < 0:
        return f"kept model trained on {trained_on}, {age} day(s) before {as_of}"
    return None


_POSTERIOR_EMPTY = (
    "select null::varchar as record_id, null::varchar as entity_id, null::boolean as "
    "is_registered, null::double as match_weight, null::double as match_probability, "
    "null::bigint as candidate_rank where false"
)
SCORED_RECORDS_FILE = "scored_records.parquet"
SCORED_POSTERIOR_FILE = "scored_posterior.parquet"


def _tf_columns(model: dict[str, Any]) -> list[str]:
    return sorted(
        {
            lv["tf_adjustment_column"]
            for c in model["comparisons"]
            for lv in c["comparison_levels"]
            if lv.get("tf_adjustment_column")
        }
    )


def _input_hashes_sql() -> str:
    return (
        "select unique_id as record_id, md5(cast(t as varchar)) as input_hash "
        "from resolution_records as t"
    )


def _reuse_scores(con: Any, kept_dir: Path, model_version: str) -> int:
    """Records scored before by the same model whose inputs did not change, and whose
    candidate entities are all still registered, keep their outcome (``resolution_reused``);
    the others go to ``resolution_records_todo`` to be scored. Returns how many are kept."""
    records, posterior = kept_dir / SCORED_RECORDS_FILE, kept_dir / SCORED_POSTERIOR_FILE
    if records.is_file() and posterior.is_file():
        con.execute(
            f"""
            create or replace table resolution_reusable as
            with now as ({_input_hashes_sql()}),
            before as (
                select record_id, input_hash from read_parquet('{records}')
                where model_version = {_sql_str(model_version)}
            ),
            gone as (
                select distinct p.record_id from read_parquet('{posterior}') as p
                anti join resolution_registry as r using (entity_id)
            )
            select record_id from now inner join before using (record_id, input_hash)
            anti join gone using (record_id)
            """
        )
        con.execute(
            f"insert into resolution_reused select p.* from read_parquet('{posterior}') as p "
            "semi join resolution_reusable using (record_id)"
        ).fetchall()
    else:
        con.execute("create or replace table resolution_reusable (record_id varchar)")
    con.execute(
        "create or replace table resolution_records_todo as select * from resolution_records "
        "where unique_id not in (select record_id from resolution_reusable)"
    )
    return con.execute("select count(*) from resolution_reusable").fetchone()[0]


def _save_scores(con: Any, kept_dir: Path, model_version: str) -> None:
    """What this run scored, for the next runs: every record's input hash and the best
    candidates of each (enough for the matches and the review list)."""
    kept_dir.mkdir(parents=True, exist_ok=True)
    version = _sql_str(model_version)
    for name, query in (
        (
            SCORED_RECORDS_FILE,
            f"select *, {version} as model_version from ({_input_hashes_sql()}) order by all",
        ),
        (
            SCORED_POSTERIOR_FILE,
            "select * from resolution_posterior "
            f"where candidate_rank <= {REVIEW_CANDIDATES} order by record_id, candidate_rank",
        ),
    ):
        tmp = kept_dir / (name + ".tmp")
        con.execute(f"copy ({query}) to '{tmp}' (format parquet, compression zstd)")
        os.replace(tmp, kept_dir / name)

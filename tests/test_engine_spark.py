"""The pipeline's stages on Spark (PANORAMA_ENGINE=spark) give what they give on DuckDB: the
probabilistic matcher on Splink's Spark backend, the gate's expectations on Spark dataframes.

One local SparkSession (local[2]) serves the whole module."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest
from panorama.build.resolution import match_unresolved
from panorama.settings import get_settings

# a local Spark session: start-up and Splink's hundreds of small Spark jobs take minutes
pytestmark = pytest.mark.slow

_SHOPS = "老张饭店 鲁祥商贸 平安水果 金鼎建材 华联超市 惠民药房 兴旺五金 福满楼 春晖茶庄 天成汽修"
_FORMS = ("有限公司", "经营部", "商行", "个体工商户")
_ROADS = ("新华路", "东风路", "解放大道", "天衢路", "湖滨大道")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """The engine's SparkSession, its warehouse in a temporary folder."""
    from panorama import spark as engine

    mp = pytest.MonkeyPatch()
    mp.setenv("PANORAMA_DATA_DIR", str(tmp_path_factory.mktemp("spark-data")))
    session = engine.session(get_settings())
    yield session
    mp.undo()


def tiny_candidate(path: Path, seed: int = 7) -> Path:
    """A candidate with the matcher's three inputs: 60 registered entities (a few sharing a
    name), and 45 records no identifier resolved: department records with the registered
    name, consumer complaints with a shop sign and an address, typos, strangers."""
    rng = random.Random(seed)
    divisions = ("371402", "371403", "371422", "371423")
    shops = _SHOPS.split()
    entities = []
    for i in range(60):
        shop = shops[i % len(shops)] + ("" if i < 10 else str(i // 10))
        division = divisions[i % len(divisions)]
        name = f"德州{shop}{_FORMS[i % len(_FORMS)]}"
        address = f"山东省德州市{_ROADS[i % len(_ROADS)]}{10 + i}号"
        entities.append((f"E{i:03d}", name, address, division, f"法人{i % 13}", None))
    entities.append(("E900", entities[0][1], "山东省德州市远郊路1号", "371423", "法人X", None))
    records = []
    for j in range(45):
        e = entities[rng.randrange(60)]
        eid, name, address, division, rep, _ = e
        kind = j % 3
        if kind == 0:  # a department copies the registered name
            records.append((f"R{j:03d}", "penalty", name, None, division, rep, None, None))
        elif kind == 1:  # a consumer writes the shop sign and the address
            sign = name.removeprefix("德州").removesuffix("有限公司").removesuffix("经营部")
            records.append(
                (
                    f"R{j:03d}",
                    "complaint",
                    sign,
                    address.removeprefix("山东省"),
                    division,
                    None,
                    None,
                    None,
                )
            )
        else:  # a typo, or nobody registered
            typo = name.replace("德州", "德州市", 1)[:-1] if j % 2 else f"无名小店{j}"
            records.append((f"R{j:03d}", "inspection", typo, None, division, None, None, None))
    con = duckdb.connect(str(path))
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_resolution__registry (entity_id varchar, entity_name "
        "varchar, address varchar, division_code varchar, legal_rep varchar, uscc varchar)"
    )
    con.executemany(
        "insert into intermediate.int_resolution__registry values (?, ?, ?, ?, ?, ?)", entities
    )
    con.execute(
        "create table intermediate.int_resolution__entity_names as select entity_id, "
        "entity_name as name_key, 'current' as name_source "
        "from intermediate.int_resolution__registry"
    )
    con.execute(
        "create table intermediate.int_resolution__candidates_unmatched (record_id varchar, "
        "record_kind varchar, party_name varchar, address varchar, division_code varchar, "
        "legal_rep varchar, uscc varchar, unresolved_reason varchar, name_key varchar)"
    )
    con.executemany(
        "insert into intermediate.int_resolution__candidates_unmatched "
        "values (?, ?, ?, ?, ?, ?, ?, ?, null)",
        records,
    )
    con.close()
    return path


def _matches(path: str) -> list[tuple]:
    return duckdb.sql(
        f"select record_id, entity_id, round(match_probability, 6), model_version "
        f"from read_parquet('{path}') order by record_id"
    ).fetchall()


def test_matcher_on_spark_gives_the_links_it_gives_on_duckdb(spark, tmp_path):
    cand = tiny_candidate(tmp_path / "candidate.duckdb")
    on = {}
    for engine in ("duckdb", "spark"):
        on[engine] = match_unresolved(
            cand,
            tmp_path / engine / "resolution",
            tmp_path / engine / "model",
            engine=engine,
            spark=spark if engine == "spark" else None,
        )
    duck, sprk = on["duckdb"], on["spark"]
    assert duck["training"] == sprk["training"] == "em"
    assert duck["above_threshold"] >= 10  # the input links something, not a vacuous equality
    for key in ("records", "candidate_pairs", "matched", "above_threshold", "review"):
        assert sprk[key] == duck[key], key
    # the same links with the same probabilities, under the same model version
    assert _matches(sprk["matches_path"]) == _matches(duck["matches_path"])
    assert sprk["model_version"] == duck["model_version"]
    assert '"sql_dialect": "spark"' in Path(sprk["model_path"]).read_text(encoding="utf-8")
    # a second matching in the same session (a worker or a bench running several days)
    again = match_unresolved(
        cand,
        tmp_path / "again" / "resolution",
        tmp_path / "again" / "model",
        engine="spark",
        spark=spark,
    )
    assert _matches(again["matches_path"]) == _matches(sprk["matches_path"])


def test_matcher_refuses_an_unknown_engine(tmp_path):
    with pytest.raises(ValueError, match="engine must be duckdb or spark"):
        match_unresolved(tmp_path / "c.duckdb", tmp_path / "o", tmp_path / "m", engine="polars")


def _marts_of(db: Path, root: Path) -> Path:
    """The tables of a DuckDB candidate as Parquet marts, ``<schema>/<table>/part-*.parquet``."""
    con = duckdb.connect(str(db), read_only=True)
    for schema, table in con.execute(
        "select schema_name, table_name from duckdb_tables() order by 1, 2"
    ).fetchall():
        folder = root / schema / table
        folder.mkdir(parents=True)
        con.execute(f"copy {schema}.{table} to '{folder}/part-00000.parquet' (format parquet)")
    con.close()
    return root


def test_gate_expectations_on_spark_dataframes_find_what_they_find_on_duckdb(spark, tmp_path):
    from panorama import warehouse
    from panorama.gate.gx_audit import run_checkpoint
    from test_gx_audit import AS_OF, ID_CARD, _baseline, build_candidate

    db = tmp_path / "candidate.duckdb"
    ids = build_candidate(db)
    con = duckdb.connect(str(db))
    con.execute(
        "insert into entity.dim_entity select * from entity.dim_entity "
        f"where entity_id = '{ids[3]}'"
    )
    con.execute(f"update risk.fct_risk_grade set score = 1200 where entity_id = '{ids[11]}'")
    con.execute(
        f"update public_record.pub_penalty set remarks = '身份证 {ID_CARD}' "
        f"where uscc = '{ids[20]}'"
    )
    con.close()
    marts = _marts_of(db, tmp_path / "marts")
    views = tmp_path / "views.duckdb"
    warehouse.parquet_views(views, warehouse.parquet_folders(marts))

    # the last publication's grade shares far from these: the drift comparison fails too
    baseline = _baseline(db, shares={"A": 0.91, "B": 0.03, "C": 0.03, "D": 0.03})
    on_duckdb = run_checkpoint(db, AS_OF, "run-duckdb", baseline=baseline)
    on_spark = run_checkpoint(
        views,
        AS_OF,
        "run-spark",
        docs_dir=tmp_path / "docs",
        baseline=baseline,
        engine="spark",
        spark=spark,
    )

    def found(res) -> list[tuple]:
        return sorted((f["table"], f["expectation"], f["column"]) for f in res.failures)

    assert not on_spark.success
    assert found(on_spark) == found(on_duckdb)
    assert ("risk.fct_risk_grade", "expect_column_values_to_be_between", "score") in found(on_spark)
    # every expectation evaluated on Spark (the grade shares are means of 0/1 columns)
    assert not [f for f in on_spark.failures if "could not be evaluated" in f["message"]]
    drift = [f for f in on_spark.failures if f.get("baseline") == "grade_shares"]
    assert len(drift) == 4 and all("share of grade" in f["message"] for f in drift)
    for key in ("evaluated_expectations", "unsuccessful_expectations", "rows"):
        assert on_spark.statistics[key] == on_duckdb.statistics[key], key
    # the failure examples reach the report masked, on Spark as on DuckDB
    assert ID_CARD not in str(on_spark.to_dict())
    assert on_spark.docs_index and on_spark.docs_index.exists()

"""Synthetic Dezhou deliveries: determinism, valid and planted-invalid identifiers, proportions,
feed YAML files, ground truth consistent with what was written."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml
from panorama.identity import codes as identity
from panorama_dev.synth import EXCHANGE_JSONL, generate
from panorama_dev.synth import deliveries as dlv
from python_calamine import CalamineWorkbook
from stdnum.cn import ric, uscc

AS_OF = dt.date(2024, 6, 30)
N = 2_000
FEEDS_DIR = Path(__file__).resolve().parents[1] / "feeds"
README = FEEDS_DIR / "README.md"


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    data = tmp_path_factory.mktemp("synth")
    summary = generate(data, N, seed=11, as_of=AS_OF, progress=False)
    return data, summary


@pytest.fixture(scope="module")
def truth(run: tuple[Path, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    data, _ = run
    return (
        pd.read_parquet(data / "ground_truth" / "entities.parquet"),
        pd.read_parquet(data / "ground_truth" / "records.parquet"),
    )


def _csv_rows(path: Path, encoding: str) -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_same_bytes_other_seed_differs(run: tuple[Path, dict], tmp_path: Path) -> None:
    data, _ = run
    again = tmp_path / "again"
    generate(again, N, seed=11, as_of=AS_OF, progress=False)
    first, second = _hashes(data), _hashes(again)
    assert any(k.endswith(".xlsx") for k in first) and any(k.endswith(".sqlite") for k in first)
    assert first == second
    other = tmp_path / "other"
    generate(other, N, seed=12, as_of=AS_OF, progress=False)
    third = _hashes(other)
    assert third.keys() == first.keys()
    assert all(third[k] != first[k] for k in first if "registration__amr" in k)


def test_summary_counts_match_ground_truth(run: tuple[Path, dict], truth) -> None:
    data, summary = run
    _, records = truth
    assert summary["entities"] == N
    assert set(summary["feeds"]) == set(dlv.FEEDS)
    per_feed = records.groupby("feed").size().to_dict()
    assert per_feed == {f: n for f, n in summary["feeds"].items() if n}
    # about 8-10 department records per entity
    assert 5.0 <= sum(summary["feeds"].values()) / N <= 11
    assert not records.duplicated(["feed", "source_file", "source_row"]).any()


def test_record_counts_match_files(run: tuple[Path, dict], truth) -> None:
    data, _ = run
    _, records = truth
    landing = data / "landing"
    by_file = records.groupby(["feed", "source_file"]).source_row.agg(["count", "max"])
    assert (by_file["count"] == by_file["max"]).all()  # 1..n without gaps
    csv_feeds = {
        "registration__amr": "utf-8",
        "registration_change__amr": "utf-8-sig",
        "penalty__amr": "gbk",
        "licence__amr": "gb18030",
        "abnormal_list__amr": "gbk",
        "abnormal_state__amr": "utf-8-sig",
        "serious_dishonest__amr": "utf-8",
        "annual_report__amr": "utf-8",
        "model_shop__amr": "utf-8",
    }
    for feed, enc in csv_feeds.items():
        (path,) = (landing / feed).glob("*.csv")
        assert len(_csv_rows(path, enc)) == by_file.loc[(feed, path.name), "count"], feed
    for path in (landing / "spot_check__amr").glob("*.csv"):
        enc = "utf-8" if path.stem.endswith(str(AS_OF.year)) else "gbk"
        assert len(_csv_rows(path, enc)) == by_file.loc[("spot_check__amr", path.name), "count"]
    lines = (landing / EXCHANGE_JSONL).read_text(encoding="utf-8").splitlines()
    assert len(lines) == by_file.loc[("penalty__exchange", "/api/v1/penalties"), "count"]
    (jl,) = (landing / "complaint__12315").glob("*.jsonl")
    n = len(jl.read_text(encoding="utf-8").splitlines())
    assert n == by_file.loc[("complaint__12315", jl.name), "count"]
    with sqlite3.connect(landing / "court_dishonest__court" / "court.sqlite") as db:
        (n,) = db.execute("select count(*) from dishonest_debtor").fetchone()
    assert n == by_file.loc[("court_dishonest__court", "dishonest_debtor"), "count"]
    for path in (landing / "penalty__env_legacy").glob("*.xlsx"):
        rows = CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
        assert rows[2][0] == "CF_WSH"  # header on row 3 under a title and a note
        assert len(rows) - 3 == by_file.loc[("penalty__env_legacy", path.name), "count"]


def test_registration_codes_valid_and_unique(run: tuple[Path, dict], truth) -> None:
    data, _ = run
    entities, _ = truth
    assert entities.entity_id.is_unique and len(entities) == N
    for code in entities.entity_id:
        assert identity.is_valid_uscc(code) and uscc.is_valid(code), code
    reg = entities.reg_no.dropna()
    assert reg.is_unique and len(reg) > 0
    for code, kind in zip(reg, entities.loc[reg.index, "entity_type"], strict=True):
        assert identity.is_valid_regno(code)
        assert (code[6] in "6789") == (kind == "individual")
    # the registration delivery carries valid codes (after normalisation) and valid ID cards
    (path,) = (data / "landing" / "registration__amr").glob("*.csv")
    rows = _csv_rows(path, "utf-8")
    codes = [identity.normalize_code(r["统一社会信用代码"]) for r in rows]
    assert set(codes) == set(entities.entity_id)
    assert all(ric.is_valid(r["证件号码"]) for r in rows)
    divisions = {r["行政区划代码"] for r in rows}
    assert divisions <= {
        "371402",
        "371403",
        "371422",
        "371423",
        "371424",
        "371425",
        "371426",
        "371427",
        "371428",
        "371481",
        "371482",
    }


def test_planted_defects_really_defective(run: tuple[Path, dict], truth) -> None:
    data, _ = run
    _, records = truth
    (path,) = (data / "landing" / "penalty__amr").glob("*.csv")
    rows = _csv_rows(path, "gbk")
    recs = records[records.feed == "penalty__amr"].set_index("source_row").fillna("")
    seen = {"invalid_uscc": 0, "clean": 0}
    for i, row in enumerate(rows, start=1):
        planted = recs.at[i, "planted"]
        code = identity.normalize_code(row["统一社会信用代码"])
        if "invalid_uscc" in planted:
            seen["invalid_uscc"] += 1
            assert identity.uscc_problem(code) == "check" and not uscc.is_valid(code)
        elif "missing_code" not in planted:
            seen["clean"] += 1
            assert code == recs.at[i, "true_entity_id"]
    assert seen["clean"] > 0
    invalid = records.planted.fillna("").str.contains("invalid_uscc").sum()
    assert 0 < invalid < 0.05 * len(records)
    broken = records.planted.fillna("").str.contains("unparseable").mean()
    assert 0 < broken < 0.01


def test_proportions(truth) -> None:
    entities, records = truth
    share = entities.entity_type.value_counts(normalize=True)
    assert 0.60 < share["individual"] < 0.74
    assert 0.24 < share["enterprise"] < 0.36
    assert 0.01 < share["cooperative"] < 0.06
    assert entities.reg_no.notna().mean() == pytest.approx(0.05, abs=0.03)
    grades = entities[entities.entity_type == "individual"].latent_class.value_counts(
        normalize=True
    )
    assert all(0.05 < grades[g] < 0.6 for g in "ABCD")
    complaints = records[records.feed == "complaint__12315"]
    without_code = complaints.planted.fillna("").str.contains("missing_code").mean()
    assert without_code >= 0.8
    court = records[records.feed == "court_dishonest__court"]
    assert court.true_entity_id.isna().any() and court.true_entity_id.notna().any()
    assert (entities.established_date <= AS_OF).all()


def test_risk_is_recoverable_from_events(truth) -> None:
    """A plain additive score over observable facts ranks entities like the latent risk."""
    e, _ = truth
    age = (pd.Timestamp(AS_OF) - pd.to_datetime(e.established_date)).dt.days / 365.25
    industry_risk = e.industry_code.map(
        {
            i.code: i.risk
            for i in __import__("panorama_dev.synth.vocab", fromlist=["INDUSTRIES"]).INDUSTRIES
        }
    )
    score = (
        1.2 * e.reports_missed
        - 2 * e.reports_due
        + e.abnormal_current
        + e.n_penalties
        + 0.3 * e.fine_total_wan.clip(upper=5)
        + e.n_complaints
        + 1.2 * e.n_spot_problems
        + 1.2 * e.serious_current
        + 2.5 * (e.court_cases > 0)
        + 1.2 * e.changes_rep_address_3y
        + 3 * (age < 1)
        + (age < 3)
        + (age < 6)
        - 1.2 * (age > 12)
        - 0.5 * (age > 20)
        + 3.5 * (e.entity_type == "individual")
        + 13 * industry_risk
        + 4 * e.shared_address
    )
    rho = score.rank().corr(e.latent_risk.rank())
    assert rho >= 0.8


def _kind_fields() -> dict[str, set[str]]:
    text = README.read_text(encoding="utf-8")
    fields: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("| `") and "|" in line[3:]:
            kind = line.split("`")[1]
            body = line.split("|")[2]
            names = {w.strip().split(" ")[0].rstrip("*#") for w in body.split(",")}
            fields[kind] = {n for n in names if n}
    return fields


def test_feed_yaml_files_map_canonical_fields() -> None:
    kinds = _kind_fields()
    assert {"penalty", "registration", "complaint"} <= kinds.keys()
    for feed in dlv.FEEDS:
        spec = yaml.safe_load((FEEDS_DIR / f"{feed}.yaml").read_text(encoding="utf-8"))
        assert spec["name"] == feed
        assert feed.startswith(spec["kind"] + "__")
        unknown = set(spec["columns"]) - kinds[spec["kind"]]
        assert not unknown, (feed, unknown)
    exchange = yaml.safe_load((FEEDS_DIR / "penalty__exchange.yaml").read_text(encoding="utf-8"))
    assert exchange["transport"]["endpoint"] == "/api/v1/penalties"
    assert exchange["transport"]["items_path"] == "data.items"


def test_feed_yaml_files_validate_with_registry() -> None:
    feeds = pytest.importorskip("panorama.ingest.feeds")
    registry = feeds.load_registry(FEEDS_DIR)
    assert set(dlv.FEEDS) <= set(registry)


def test_yaml_sources_exist_in_deliveries(run: tuple[Path, dict]) -> None:
    """Every mapped source column is in the delivery's header; some delivered columns are
    deliberately left unmapped (schema drift)."""
    data, _ = run
    landing = data / "landing"
    headers = {
        "registration__amr": dlv.REGISTRATION_HEADER,
        "registration_change__amr": dlv.CHANGE_HEADER,
        "penalty__amr": dlv.PENALTY_AMR_HEADER,
        "penalty__env_legacy": dlv.PENALTY_ENV_HEADER,
        "licence__amr": dlv.LICENCE_HEADER,
        "spot_check__amr": dlv.SPOT_HEADER,
        "abnormal_list__amr": dlv.ABNORMAL_HEADER,
        "serious_dishonest__amr": dlv.SERIOUS_HEADER,
        "court_dishonest__court": dlv.COURT_COLUMNS,
        "annual_report__amr": dlv.REPORT_HEADER,
        "model_shop__amr": dlv.MODEL_SHOP_HEADER,
        "credit_repair__amr": dlv.CREDIT_REPAIR_HEADER,
        "penalty__exchange": list(
            json.loads((landing / EXCHANGE_JSONL).read_text(encoding="utf-8").splitlines()[0])
        ),
        "complaint__12315": list(
            json.loads(
                next((landing / "complaint__12315").glob("*.jsonl"))
                .read_text(encoding="utf-8")
                .splitlines()[0]
            )
        ),
    }
    drift = 0
    for feed, header in headers.items():
        spec = yaml.safe_load((FEEDS_DIR / f"{feed}.yaml").read_text(encoding="utf-8"))
        sources = {c["source"] for c in spec["columns"].values() if "source" in c}
        assert sources <= set(header), (feed, sources - set(header))
        drift += bool(set(header) - sources)
    assert drift >= 2


def test_spot_check_encodings_are_detectable(run: tuple[Path, dict]) -> None:
    from charset_normalizer import from_bytes

    data, _ = run
    files = sorted((data / "landing" / "spot_check__amr").glob("*.csv"))
    assert len(files) >= 2
    for path in files:
        best = from_bytes(path.read_bytes()).best()
        assert best is not None
        assert str(best).splitlines()[0].startswith("抽查任务编号"), (path.name, best.encoding)


def test_excel_split_and_dates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dlv, "XLSX_MAX_ROWS", 8)
    summary = generate(tmp_path, 1_000, seed=3, as_of=AS_OF, progress=False)
    books = sorted((tmp_path / "landing" / "penalty__env_legacy").glob("*.xlsx"))
    expected = -(-summary["feeds"]["penalty__env_legacy"] // 8)
    assert len(books) == expected >= 2
    records = pd.read_parquet(tmp_path / "ground_truth" / "records.parquet")
    env = records[records.feed == "penalty__env_legacy"]
    assert env.groupby("source_file").source_row.max().max() == 8
    values = [
        r[15]
        for b in books
        for r in CalamineWorkbook.from_path(b).get_sheet_by_index(0).to_python()[3:]
    ]
    assert any(isinstance(v, float) for v in values)  # serial numbers
    assert any(isinstance(v, dt.date) for v in values)  # real date cells

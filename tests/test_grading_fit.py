"""The weight fit behind the risk seeds (panorama_dev.quality.fit), on tiny made-up data: it
recovers known step points with the signs a regulator can defend, and the thresholds it
chooses reproduce the reference shares of individual businesses, overrides included."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from panorama_dev.quality import fit
from panorama_dev.quality.grading import REFERENCE_INDIVIDUAL_SHARE


def _frame(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "entity_id": [f"e{i:05d}" for i in range(n)],
            "entity_type": "individual",
            "base_risk_model": "individual",
            "industry_risk_model": None,
            "individual_business": 1,
            "enterprise": 0,
            "cooperative": 0,
            "entity_age_years": rng.uniform(0, 30, n),
            "penalties_3y": rng.poisson(0.1, n),
            "complaints_12m": rng.poisson(0.6, n),
            "industry_risk_level": rng.integers(0, 4, n),
            "annual_reports_missed": rng.poisson(0.5, n),
            "expired_licences": rng.poisson(0.3, n),
        }
    )
    for column in {s.indicator for s in fit.COMMON + fit.MARKED + fit.LISTED} - set(df):
        df[column] = 0
    df["highly_sensitive_industry"] = 0
    risk = (
        200
        + 150 * (df.entity_age_years < 3)
        + 40 * (df.entity_age_years < 6)
        - 60 * (df.entity_age_years >= 20)
        + 120 * (df.penalties_3y >= 1)
        + 80 * (df.penalties_3y >= 2)
        + 90 * (df.complaints_12m >= 1)
        + 60 * (df.complaints_12m >= 2)
        + 45 * df.industry_risk_level
        + 70 * (df.annual_reports_missed >= 1)
        + 35 * (df.expired_licences >= 1)
    )
    df["latent_risk"] = (risk + rng.normal(0, 5, n)) / 1000
    return df


def test_fit_recovers_step_points_with_defensible_signs() -> None:
    df = _frame()
    points = fit.fit_model(df, [fit.LEVEL, *fit.COMMON])
    by_name = {(s.indicator, s.method, s.threshold): p for s, p in points.items()}
    assert abs(by_name[("individual_business", "at_least", 1)] - 200) <= 10
    assert abs(by_name[("entity_age_years", "below", 3)] - 150) <= 10
    assert abs(by_name[("entity_age_years", "at_least", 20)] + 60) <= 10
    assert abs(by_name[("penalties_3y", "at_least", 1)] - 120) <= 10
    assert abs(by_name[("penalties_3y", "at_least", 2)] - 80) <= 15
    assert abs(by_name[("complaints_12m", "at_least", 1)] - 90) <= 10
    for step, p in points.items():
        assert p * step.sign > 0, step  # risk steps add, protective steps subtract
    scores = fit.score(df, points)
    assert pd.Series(scores).corr(df.latent_risk, method="spearman") > 0.9


def test_thresholds_reproduce_reference_shares_with_overrides(tmp_path: Path) -> None:
    df = _frame()
    points = fit.fit_model(df, [fit.LEVEL, *fit.COMMON])
    fitted = dict.fromkeys(("individual", "general", "cooperative"), points)
    scores = fit.final_scores(df, fitted)
    thresholds = fit.thresholds_for(scores)
    assert thresholds["A"] == 0 < thresholds["B"] < thresholds["C"] < thresholds["D"]
    rank = 1 + sum((scores.base >= thresholds[g]).astype(int) for g in "BCD")
    rank = np.maximum(rank, scores.override)
    shares = {g: float((rank == i).mean()) for i, g in enumerate("ABCD", start=1)}
    for g, share in REFERENCE_INDIVIDUAL_SHARE.items():
        assert abs(shares[g] - share) < 0.04, (g, shares)
    # a recent penalty is at least B (the override), so no penalised entity is A
    assert not ((rank == 1) & (df.penalties_3y >= 1)).any()
    fit.write_seeds(fitted, thresholds, tmp_path)
    with (tmp_path / "risk_grade_thresholds.csv").open(encoding="utf-8") as fh:
        written = {r["grade"]: int(r["min_score"]) for r in csv.DictReader(fh)}
    assert written == thresholds
    with (tmp_path / "risk_indicator_weights.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["method"] for r in rows} <= {"at_least", "below"}
    assert len(rows) == 3 * len(points)

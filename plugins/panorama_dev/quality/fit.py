"""Fit the risk models' points and the grade thresholds on a generated tuning population.

The seeds ``risk_indicator_weights.csv`` and ``risk_grade_thresholds.csv`` are policy data that
a person reviews; this module only *proposes* them from a population whose answer key is known
(``ground_truth/entities.parquet``), so that the basis of every number can be re-run:

- every weight row is a step the seed can express (``below`` / ``at_least`` a threshold), so a
  model's score is a sum of defensible steps: "at least one penalty in 3 years", "at least two";
- each model is fitted on its own entities (individual businesses, co-operatives, the other
  enterprises; the industry models on the entities of their industries) by least squares of
  1000 × latent risk on those steps, with a small ridge; points of risk indicators are kept
  non-negative and those of protective ones (long-established, large capital) non-positive;
  a model's level is carried by the attribute of its entity type (``individual_business``,
  ``enterprise``, ``cooperative``: every entity of the type has it), so that scores of
  different models mean the same risk;
- the thresholds B / C / D are the scores at which the individual businesses' grades, overrides
  applied as ``fct_risk_grade`` applies them, reproduce the 德城区 shares.

``python -m panorama_dev.quality.fit --db TUNING.duckdb --truth DIR --out dbt_project/seeds``
writes both seeds and prints the fit (Spearman per model on the tuning population).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear

from panorama_dev.quality.grading import REFERENCE_INDIVIDUAL_SHARE

GRADES = ("A", "B", "C", "D")
GRADE_LABELS = {"A": "信用风险低", "B": "信用风险一般", "C": "信用风险较高", "D": "信用风险高"}
RIDGE = 1.0  # per entity-free step: keeps rare steps (few entities) near 0
MIN_ENTITIES = 400  # an industry model with fewer entities copies its base model


@dataclass(frozen=True)
class Step:
    """One weight row: ``indicator`` ``method`` ``threshold``; ``sign`` +1 risk, -1 protective."""

    indicator: str
    method: str
    threshold: float
    sign: int = 1

    def fires(self, values: pd.Series) -> np.ndarray:
        v = values.fillna(0).to_numpy(float)
        return (v < self.threshold if self.method == "below" else v >= self.threshold).astype(float)


def _counts(indicator: str, most: int) -> list[Step]:
    return [Step(indicator, "at_least", k) for k in range(1, most + 1)]


COMMON = [
    Step("entity_age_years", "below", 1),
    Step("entity_age_years", "below", 3),
    Step("entity_age_years", "below", 6),
    Step("entity_age_years", "at_least", 12, -1),
    Step("entity_age_years", "at_least", 20, -1),
    *_counts("industry_risk_level", 3),
    *_counts("address_shared_entities", 2),
    Step("status_revoked", "at_least", 1),
    *_counts("annual_reports_missed", 3),
    *_counts("penalties_3y", 3),
    Step("severe_penalties_3y", "at_least", 1),
    Step("court_debtor_now", "at_least", 1),
    Step("legal_rep_court_debtor", "at_least", 1),
    *_counts("spot_check_problems_3y", 2),
    *_counts("spot_check_unreachable_3y", 2),
    *_counts("complaints_12m", 3),
    *_counts("legal_rep_changes_12m", 2),
    *_counts("address_changes_12m", 2),
    *_counts("expired_licences", 2),
    *_counts("related_bad_entities", 2),
]
CAPITAL = [
    Step("registered_capital", "below", 50),
    Step("registered_capital", "at_least", 1000, -1),
]
LISTED = [
    Step("abnormal_list_now", "at_least", 1),
    *_counts("abnormal_listings_5y", 3),
    Step("serious_dishonest_now", "at_least", 1),
    Step("serious_dishonest_past_5y", "at_least", 1),
]
MARKED = [Step("abnormal_state_now", "at_least", 1), *_counts("abnormal_state_marks_5y", 3)]
LEVEL = Step("individual_business", "at_least", 1)
ENTERPRISE = Step("enterprise", "at_least", 1)
COOPERATIVE = Step("cooperative", "at_least", 1)
# the level of a model: the points of its entity type (an attribute every entity of the type
# has), fitted without ridge; an industry model grades every type and has all three
LEVELS = (LEVEL, ENTERPRISE, COOPERATIVE)

BASE_MODEL_OF = {"individual": "individual", "cooperative": "cooperative"}
# model -> (which entities it is fitted on, its steps)
MODELS: dict[str, tuple[str, list[Step]]] = {
    "individual": ("entity_type == 'individual'", [LEVEL, *COMMON, *MARKED]),
    "general": ("entity_type == 'enterprise'", [ENTERPRISE, *COMMON, *CAPITAL, *LISTED]),
    "cooperative": ("entity_type == 'cooperative'", [COOPERATIVE, *COMMON, *CAPITAL, *LISTED]),
    "food": ("industry_risk_model == 'food'", [*LEVELS, *COMMON, *CAPITAL, *LISTED, *MARKED]),
    "special_equipment": (
        "industry_risk_model == 'special_equipment'",
        [*LEVELS, *COMMON, *CAPITAL, *LISTED, *MARKED],
    ),
}


def load(db: Path, truth_dir: Path) -> pd.DataFrame:
    """int_risk__indicators of the tuning warehouse joined to the latent risk."""
    with duckdb.connect(str(db), read_only=True) as con:
        ind = con.execute("select * from intermediate.int_risk__indicators").df()
    truth = pd.read_parquet(truth_dir / "entities.parquet", columns=["entity_id", "latent_risk"])
    for step in LEVELS:  # a warehouse built before the type attributes existed
        if step.indicator not in ind:
            kind = {"individual_business": "individual"}.get(step.indicator, step.indicator)
            ind[step.indicator] = (ind.entity_type == kind).astype(int)
    return ind.merge(truth, on="entity_id", how="inner", validate="one_to_one")


def fit_model(part: pd.DataFrame, steps: list[Step]) -> dict[Step, int]:
    """Points per step: least squares of 1000 × latent risk, signs bounded, ridge on each step."""
    x = np.column_stack([s.fires(part[s.indicator]) for s in steps])
    y = 1000.0 * part.latent_risk.to_numpy(float)
    ridge = np.sqrt(RIDGE) * np.eye(len(steps))
    lower = [0.0 if s.sign > 0 else -np.inf for s in steps]
    upper = [np.inf if s.sign > 0 else 0.0 for s in steps]
    for i, s in enumerate(steps):
        if s in LEVELS:
            ridge[i, i] = 0.0
    result = lsq_linear(
        np.vstack([x, ridge]), np.concatenate([y, np.zeros(len(steps))]), bounds=(lower, upper)
    )
    return {s: int(round(w)) for s, w in zip(steps, result.x, strict=True) if round(w) != 0}


def score(part: pd.DataFrame, points: dict[Step, int]) -> np.ndarray:
    total = np.zeros(len(part))
    for s, p in points.items():
        total += p * s.fires(part[s.indicator])
    return np.clip(np.round(total), 0, 1000)


def fit_all(df: pd.DataFrame) -> dict[str, dict[Step, int]]:
    fitted: dict[str, dict[Step, int]] = {}
    for model, (where, steps) in MODELS.items():
        part = df.query(where)
        if len(part) < MIN_ENTITIES:
            fitted[model] = fitted["general"]
            continue
        usable = [s for s in steps if s.fires(part[s.indicator]).sum() > 0]
        fitted[model] = fit_model(part, usable)
    return fitted


OVERRIDES = (  # indicator, min value, min grade rank (seed risk_overrides)
    ("serious_dishonest_now", 1, 4),
    ("court_debtor_now", 1, 4),
    ("abnormal_list_now", 1, 3),
    ("highly_sensitive_industry", 1, 3),
    ("severe_penalties_3y", 1, 3),
    ("penalties_3y", 1, 2),
)


def final_scores(df: pd.DataFrame, fitted: dict[str, dict[Step, int]]) -> pd.DataFrame:
    """Base and industry score of each entity and its override rank."""
    out = pd.DataFrame({"entity_id": df.entity_id, "entity_type": df.entity_type})
    base = np.zeros(len(df))
    industry = np.full(len(df), np.nan)
    # the base model by entity type, as seed risk_models routes it (the tuning warehouse may
    # have been built before a model was added)
    base_of = df.entity_type.map(BASE_MODEL_OF).fillna("general")
    for model in ("individual", "general", "cooperative"):
        mask = (base_of == model).to_numpy()
        if mask.any():
            base[mask] = score(df[mask], fitted[model])
    for model in ("food", "special_equipment"):
        mask = (df.industry_risk_model == model).to_numpy()
        if mask.any():
            industry[mask] = score(df[mask], fitted[model])
    override = np.zeros(len(df), dtype=int)
    for indicator, low, rank in OVERRIDES:
        hit = df[indicator].fillna(0).to_numpy(float) >= low
        override = np.where(hit, np.maximum(override, rank), override)
    out["base"], out["industry"], out["override"] = base, industry, override
    return out


def thresholds_for(scores: pd.DataFrame) -> dict[str, int]:
    """B, C, D thresholds at which the individual businesses' final grades (worst model grade,
    overrides) reach the 德城区 shares at or above each grade."""
    part = scores[scores.entity_type == "individual"]
    top = np.fmax(part.base.to_numpy(), np.nan_to_num(part.industry.to_numpy(), nan=-1.0))
    found = {"A": 0}
    for rank, grade in enumerate(GRADES[1:], start=2):
        target = sum(REFERENCE_INDIVIDUAL_SHARE[g] for g in GRADES[rank - 1 :])
        forced = part.override.to_numpy() >= rank
        best = min(
            range(found[GRADES[rank - 2]] + 1, 1001),
            key=lambda t: abs(float(np.mean(forced | (top >= t))) - target),
        )
        found[grade] = best
    return found


def write_seeds(fitted: dict[str, dict[Step, int]], thresholds: dict[str, int], out: Path) -> None:
    with (out / "risk_indicator_weights.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["model_name", "indicator", "method", "threshold", "points", "max_points"])
        for model, points in fitted.items():
            for s, p in points.items():
                writer.writerow([model, s.indicator, s.method, f"{s.threshold:g}", p, ""])
    with (out / "risk_grade_thresholds.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["grade", "min_score", "grade_rank", "grade_label"])
        for rank, g in enumerate(GRADES, start=1):
            writer.writerow([g, thresholds[g], rank, GRADE_LABELS[g]])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fit", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="tuning build warehouse")
    parser.add_argument("--truth", type=Path, required=True, help="its ground_truth/ dir")
    parser.add_argument("--out", type=Path, help="write the two seeds into this dir")
    args = parser.parse_args(argv)
    df = load(args.db, args.truth)
    fitted = fit_all(df)
    scores = final_scores(df, fitted)
    thresholds = thresholds_for(scores)
    deciding = pd.Series(
        np.fmax(scores.base.to_numpy(), np.nan_to_num(scores.industry.to_numpy(), nan=-1))
    )
    risk = df.latent_risk.reset_index(drop=True)
    print(f"tuning population: {len(df)} entities, thresholds {thresholds}")
    print(f"Spearman all {deciding.rank().corr(risk.rank()):.4f}")
    for t, part in df.reset_index(drop=True).groupby("entity_type"):
        rho = deciding[part.index].rank().corr(risk[part.index].rank())
        print(f"  {t}: {rho:.4f} ({len(part)})")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_seeds(fitted, thresholds, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

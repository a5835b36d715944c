"""How well each risk model predicts what the spot checks find.

For each risk model (general, individual, food, special equipment) and for the grade as
published (the deciding model, overrides applied), over the spot checks of the last four
quarters (the quarter of the as-of date and the three before it):

- the AUC of the score for "the check found a problem" (发现问题…),
- the problem-found rate by grade (it should rise from A to D),
- a calibration table: score bands with the observed problem rate and the rate a logistic fit
  of the outcome on the score expects.

Checks that could not be carried out (the entity was unreachable, refused, or no longer does
the business checked) are counted apart and left out of the rates, as the bureau reports them.

A check's outcome feeds the score (``spot_check_*`` indicators); judging a score by the
outcomes it already counts would flatter it. Every check is therefore scored *without* the
points of the spot-check outcome indicators ("leave the outcome out"), and graded from that
score by the thresholds plus the overrides that fired.

Where a generator's answer key exists (``ground_truth/entities.parquet``), the same measures
are given against the latent risk: Spearman of the score, AUC for latent class C or D, and the
mean latent risk per grade.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

GRADES = ("A", "B", "C", "D")
OUTCOME_INDICATORS = ("spot_check_problems_3y", "spot_check_unreachable_3y")
NOT_CARRIED_OUT = ("%无法联系%", "%不配合%", "%未发现开展%", "%已关闭停业%")
FINAL = "final"
CALIBRATION_BANDS = 5


class GradingEvaluationError(RuntimeError):
    """The warehouse cannot be evaluated (names the file and what is missing)."""


def quarter_window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """First day of the quarter three quarters before the quarter of ``as_of``, and ``as_of``."""
    month = 3 * ((as_of.month - 1) // 3) + 1 - 9
    year = as_of.year
    while month < 1:
        month += 12
        year -= 1
    return dt.date(year, month, 1), as_of


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _as_of(con: duckdb.DuckDBPyConnection) -> dt.date:
    value = con.execute("select max(as_of_date) from risk.fct_risk_grade").fetchone()[0]
    if value is None:
        raise GradingEvaluationError("risk.fct_risk_grade holds no grade")
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def load_checks(db_path: Path, as_of: dt.date | None = None) -> dict[str, Any]:
    """The checks of the window, every graded entity's leave-outcome-out score per model, the
    overrides that fired, and the thresholds, read from a built warehouse file."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise GradingEvaluationError(f"warehouse file {db_path} does not exist")
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        needed = {
            "risk.fct_risk_grade",
            "intermediate.int_risk__entity_models",
            "intermediate.int_risk__indicator_points",
            "entity.fct_entity_event",
            "staging.stg_raw__spot_check",
            "reference.risk_grade_thresholds",
            "reference.risk_overrides",
        }
        missing = sorted(needed - tables)
        if missing:
            raise GradingEvaluationError(
                f"{db_path} lacks {', '.join(missing)}: evaluate a build warehouse "
                "(the candidate file under build/), not a served one"
            )
        as_of = as_of or _as_of(con)
        start, end = quarter_window(as_of)
        not_done = " or ".join("s.check_result like ?" for _ in NOT_CARRIED_OUT)
        checks = _query(
            con,
            f"""
            select e.entity_id, e.event_id, s.check_date, s.check_result,
                s.problem_found, (s.not_reachable or {not_done}) as not_carried_out
            from entity.fct_entity_event as e
            inner join staging.stg_raw__spot_check as s on s.record_id = e.record_id
            where e.event_type = 'spot_check' and s.check_date between ? and ?
            order by e.event_id
            """,
            [*NOT_CARRIED_OUT, start, end],
        )
        outcome = ", ".join(f"'{i}'" for i in OUTCOME_INDICATORS)
        scores = _query(
            con,
            f"""
            select m.entity_id, m.model_name, m.model_role,
                greatest(least(coalesce(sum(p.points)
                    filter (where p.indicator not in ({outcome})), 0), 1000), 0) as score,
                greatest(least(coalesce(sum(p.points), 0), 1000), 0) as full_score
            from intermediate.int_risk__entity_models as m
            left join intermediate.int_risk__indicator_points as p
                on p.entity_id = m.entity_id and p.model_name = m.model_name
            group by m.entity_id, m.model_name, m.model_role
            order by m.entity_id, m.model_name
            """,
        )
        grades = _query(
            con,
            "select entity_id, model_name as deciding_model, overrides_fired, grade "
            "from risk.fct_risk_grade order by entity_id",
        )
        thresholds = _query(
            con, "select grade, min_score from reference.risk_grade_thresholds order by grade"
        )
        overrides = _query(
            con,
            "select override_code, indicator, min_grade from reference.risk_overrides "
            "order by override_code",
        )
    return {
        "as_of": as_of,
        "window": (start, end),
        "checks": checks,
        "scores": scores,
        "grades": grades,
        "thresholds": dict(zip(thresholds.grade, thresholds.min_score.astype(float), strict=True)),
        "overrides": overrides,
    }


def grade_of(score: pd.Series, thresholds: dict[str, float]) -> pd.Series:
    """Grade rank 1–4 of each score: the highest grade whose min_score the score reaches."""
    rank = pd.Series(1, index=score.index)
    for i, g in enumerate(GRADES, start=1):
        rank = rank.where(score < thresholds[g], i)
    return rank


def _override_rank(data: dict[str, Any]) -> pd.Series:
    """Per entity: the highest min grade of the overrides that fired, leaving out any override
    built on a spot-check outcome."""
    ov = data["overrides"]
    usable = ov[~ov.indicator.isin(OUTCOME_INDICATORS)]
    rank_of = {
        code: GRADES.index(g) + 1
        for code, g in zip(usable.override_code, usable.min_grade, strict=True)
    }
    fired = data["grades"].set_index("entity_id").overrides_fired.fillna("")
    return fired.map(lambda text: max((rank_of.get(c, 0) for c in text.split(",") if c), default=0))


def graded_scores(data: dict[str, Any], thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per entity and model, plus one ``final`` row per entity (the deciding model's
    score, the worst of its models' grades and its overrides): score and grade rank."""
    thresholds = thresholds or data["thresholds"]
    scores = data["scores"].copy()
    override = _override_rank(data)
    scores["override_rank"] = scores.entity_id.map(override).fillna(0).astype(int)
    scores["score_rank"] = grade_of(scores.score, thresholds)
    scores["grade_rank"] = scores[["score_rank", "override_rank"]].max(axis=1)
    worst = scores.groupby("entity_id").grade_rank.max()
    deciding = data["grades"].set_index("entity_id").deciding_model
    final = scores[scores.model_name == scores.entity_id.map(deciding)].copy()
    final["grade_rank"] = final.entity_id.map(worst)
    final["model_name"] = FINAL
    out = pd.concat([scores, final], ignore_index=True)
    return out[["entity_id", "model_name", "score", "full_score", "grade_rank"]]


def auc(score: pd.Series, positive: pd.Series) -> float | None:
    """Area under the ROC curve of ``score`` for ``positive`` (ties count half)."""
    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = score.rank(method="average")
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return round(float(u / (n_pos * n_neg)), 4)


def _logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of a one-variable logistic regression (Newton's method)."""
    xs = (x - x.mean()) / (x.std() or 1.0)
    beta = np.zeros(2)
    design = np.column_stack([np.ones_like(xs), xs])
    for _ in range(25):
        p = 1 / (1 + np.exp(-(design @ beta)))
        w = p * (1 - p) + 1e-9
        hessian = design.T @ (design * w[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    slope = beta[1] / (x.std() or 1.0)
    return float(beta[0] - slope * x.mean()), float(slope)


def calibration(score: pd.Series, outcome: pd.Series, bands: int = CALIBRATION_BANDS) -> list:
    """Score bands (quantiles of the checked scores) with checks, problems, observed rate and
    the rate a logistic fit of outcome on score expects."""
    if len(score) < bands or outcome.nunique() < 2:
        return []
    x, y = score.to_numpy(float), outcome.to_numpy(float)
    a, b = _logistic(x, y)
    expected = 1 / (1 + np.exp(-(a + b * x)))
    band = pd.qcut(score.rank(method="first"), bands, labels=False)
    rows = []
    for i in range(bands):
        mask = (band == i).to_numpy()
        rows.append(
            {
                "band": i + 1,
                "score_min": float(x[mask].min()),
                "score_max": float(x[mask].max()),
                "checks": int(mask.sum()),
                "problems": int(y[mask].sum()),
                "observed_rate": round(float(y[mask].mean()), 4),
                "expected_rate": round(float(expected[mask].mean()), 4),
            }
        )
    return rows


def _by_grade(grade_rank: pd.Series, outcome: pd.Series) -> dict[str, dict[str, Any]]:
    out = {}
    for i, g in enumerate(GRADES, start=1):
        mask = grade_rank == i
        n, k = int(mask.sum()), int(outcome[mask].sum())
        out[g] = {"checks": n, "problems": k, "rate": round(k / n, 4) if n else None}
    return out


def _rises(by_grade: dict[str, dict[str, Any]]) -> bool:
    rates = [by_grade[g]["rate"] for g in GRADES]
    return all(r is not None for r in rates) and all(
        a < b for a, b in zip(rates, rates[1:], strict=False)
    )


def _ratio(by_grade: dict[str, dict[str, Any]]) -> float | None:
    a, d = by_grade["A"]["rate"], by_grade["D"]["rate"]
    if a is None or d is None:
        return None
    return round(d / a, 2) if a > 0 else math.inf


def _checks_of(data: dict[str, Any]) -> pd.DataFrame:
    checks = data["checks"]
    return checks[~checks.not_carried_out.astype(bool)]


def _latent(graded: pd.DataFrame, truth_dir: Path) -> dict[str, Any] | None:
    path = Path(truth_dir) / "entities.parquet"
    if not path.exists():
        return None
    truth = pd.read_parquet(path, columns=["entity_id", "latent_risk", "latent_class"])
    joined = graded.merge(truth, on="entity_id", how="inner")
    out: dict[str, Any] = {}
    for model, part in sorted(joined.groupby("model_name")):
        high = part.latent_class.isin(["C", "D"])
        out[model] = {
            "entities": len(part),
            "spearman": round(float(part.full_score.rank().corr(part.latent_risk.rank())), 4)
            if part.full_score.nunique() > 1
            else None,
            "auc_latent_c_or_d": auc(part.full_score, high),
            "mean_latent_risk_by_grade": {
                g: round(float(part.latent_risk[part.grade_rank == i].mean()), 4)
                if (part.grade_rank == i).any()
                else None
                for i, g in enumerate(GRADES, start=1)
            },
        }
    return out


def evaluate(
    db_path: Path,
    as_of: dt.date | None = None,
    ground_truth_dir: Path | None = None,
    thresholds: dict[str, float] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation of every model in ``db_path`` (see the module text); ``thresholds``
    replaces the seed's to evaluate a proposal on the same checks."""
    data = data or load_checks(db_path, as_of)
    graded = graded_scores(data, thresholds)
    checks = _checks_of(data)
    all_checks = data["checks"]
    models: dict[str, Any] = {}
    for model, part in sorted(graded.groupby("model_name")):
        joined = checks.merge(part, on="entity_id", how="inner")
        outcome = joined.problem_found.astype(bool)
        by_grade = _by_grade(joined.grade_rank, outcome)
        models[model] = {
            "entities": len(part),
            "checks": len(joined),
            "problems": int(outcome.sum()),
            "problem_rate": round(float(outcome.mean()), 4) if len(joined) else None,
            "auc": auc(joined.score, outcome),
            "by_grade": by_grade,
            "rate_rises_a_to_d": _rises(by_grade),
            "d_over_a": _ratio(by_grade),
            "calibration": calibration(joined.score, outcome),
        }
    start, end = data["window"]
    result: dict[str, Any] = {
        "as_of": data["as_of"].isoformat(),
        "window": [start.isoformat(), end.isoformat()],
        "thresholds": thresholds or data["thresholds"],
        "checks_in_window": len(all_checks),
        "checks_not_carried_out": int(all_checks.not_carried_out.astype(bool).sum()),
        "models": models,
    }
    if ground_truth_dir is not None:
        result["latent"] = _latent(graded, ground_truth_dir)
    return result


def format_evaluation(result: dict[str, Any]) -> str:
    """A short text rendering of :func:`evaluate`'s result."""
    lines = [
        f"as of {result['as_of']}, checks {result['window'][0]} .. {result['window'][1]}: "
        f"{result['checks_in_window']} ({result['checks_not_carried_out']} not carried out)",
        f"thresholds {result['thresholds']}",
        "",
        f"{'model':<18}{'checks':>7}{'probl.':>7}{'AUC':>7}   rate by grade A / B / C / D"
        "   rises  D/A",
    ]
    for model, m in result["models"].items():
        rates = " / ".join(
            "-" if m["by_grade"][g]["rate"] is None else f"{m['by_grade'][g]['rate']:.1%}"
            for g in GRADES
        )
        lines.append(
            f"{model:<18}{m['checks']:>7}{m['problems']:>7}{m['auc'] or '-':>7}   {rates}"
            f"   {'yes' if m['rate_rises_a_to_d'] else 'no':<5}  {m['d_over_a']}"
        )
    final = result["models"].get(FINAL)
    if final and final["calibration"]:
        lines += [
            "",
            "calibration (final grade's score): band, score range, checks, observed"
            " vs expected rate",
        ]
        for row in final["calibration"]:
            lines.append(
                f"  {row['band']}  {row['score_min']:>6.0f}-{row['score_max']:<6.0f}"
                f"{row['checks']:>6}  {row['observed_rate']:.1%} vs {row['expected_rate']:.1%}"
            )
    latent = result.get("latent")
    if latent:
        lines += ["", "against the latent risk: model, Spearman, AUC(latent C/D)"]
        for model, m in latent.items():
            lines.append(f"  {model:<18}{m['spearman']}  {m['auc_latent_c_or_d']}")
    return "\n".join(lines)

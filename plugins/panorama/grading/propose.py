"""Propose grade thresholds fitted on what the spot checks found.

The fit: over the checks of the evaluation window (see :mod:`panorama.grading.evaluate`), each
check scored without its own outcome and graded as published (deciding model, worst of the
models, overrides), choose the three thresholds (B, C, D) among the 5 %, 10 %, … 95 % quantiles
of the graded population's scores that maximise the likelihood of the outcomes under one
problem rate per grade, subject to

- the problem rate rising strictly from A to D,
- every grade holding at least ``min_share`` of the graded entities (no empty grade).

Ties go to the thresholds nearest the current ones. The proposal is written as files and
changes nothing: ``risk_grade_thresholds.csv`` (the seed, same columns), the evaluation before
and after on the same checks, and ``PROPOSAL.md`` saying how a person accepts it.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from panorama.grading.evaluate import (
    FINAL,
    GRADES,
    _checks_of,
    _override_rank,
    evaluate,
    format_evaluation,
    graded_scores,
    load_checks,
)

GRADE_LABELS = {"A": "信用风险低", "B": "信用风险一般", "C": "信用风险较高", "D": "信用风险高"}
QUANTILES = tuple(round(q, 2) for q in np.arange(0.05, 0.96, 0.05))
MIN_SHARE = 0.05


def _log_likelihood(n: np.ndarray, k: np.ndarray) -> float:
    total = 0.0
    for ni, ki in zip(n, k, strict=True):
        if ni == 0:
            continue
        p = min(max(ki / ni, 1e-6), 1 - 1e-6)
        total += ki * math.log(p) + (ni - ki) * math.log(1 - p)
    return total


class _FinalGrades:
    """The final grade rank of every graded entity for any thresholds, vectorised: the worst
    of its models' score grades and its overrides (as :func:`graded_scores`)."""

    def __init__(self, data: dict[str, Any]) -> None:
        rows = graded_scores(data)
        models = rows[rows.model_name != FINAL]
        final = rows[rows.model_name == FINAL]
        self.entities = final.entity_id.to_numpy()
        code = {e: i for i, e in enumerate(self.entities)}
        self.index = models.entity_id.map(code).to_numpy()
        self.scores = models.score.to_numpy(float)
        ranks = _override_rank(data)
        self.override = pd.Series(self.entities).map(ranks).fillna(0).to_numpy(int)

    def ranks(self, thresholds: dict[str, float]) -> np.ndarray:
        b, c, d = (thresholds[g] for g in ("B", "C", "D"))
        model_rank = 1 + (self.scores >= b) + (self.scores >= c) + (self.scores >= d)
        out = self.override.copy()
        out = np.maximum(out, 1)
        np.maximum.at(out, self.index, model_rank.astype(int))
        return out


def fit_thresholds(
    data: dict[str, Any], min_share: float = MIN_SHARE
) -> tuple[dict[str, float], dict[str, Any]]:
    """The fitted thresholds ``{"A": 0, "B": .., "C": .., "D": ..}`` and how they were chosen."""
    current = data["thresholds"]
    grades = _FinalGrades(data)
    final = graded_scores(data)
    final = final[final.model_name == FINAL]
    checks = _checks_of(data)
    position = {e: i for i, e in enumerate(grades.entities)}
    checked = checks.entity_id.map(position)
    outcome = checks.problem_found.astype(bool).to_numpy()[checked.notna().to_numpy()]
    checked = checked.dropna().to_numpy(int)
    candidates = sorted({float(round(final.score.quantile(q))) for q in QUANTILES} - {0.0})
    if len(checked) == 0 or len(set(outcome)) < 2 or len(candidates) < 3:
        return dict(current), {"fitted": False, "why": "too few checks or outcomes to fit"}
    best: tuple[float, float, tuple[float, ...]] | None = None
    tried = kept = 0
    for cut in itertools.combinations(candidates, 3):
        tried += 1
        thresholds = {"A": 0.0, "B": cut[0], "C": cut[1], "D": cut[2]}
        ranks = grades.ranks(thresholds)
        population = np.bincount(ranks, minlength=5)[1:] / len(ranks)
        if (population < min_share).any():
            continue
        check_ranks = ranks[checked]
        n = np.bincount(check_ranks, minlength=5)[1:]
        k = np.bincount(check_ranks, weights=outcome, minlength=5)[1:]
        if (n == 0).any():
            continue
        rates = k / n
        if not all(a < b for a, b in zip(rates, rates[1:], strict=False)):
            continue
        kept += 1
        distance = sum(abs(thresholds[g] - current[g]) for g in GRADES)
        key = (_log_likelihood(n, k), -distance, cut)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return dict(current), {
            "fitted": False,
            "why": f"no thresholds among {tried} candidates give rising rates and grades of at "
            f"least {min_share:.0%}",
        }
    cut = best[2]
    return {"A": 0.0, "B": cut[0], "C": cut[1], "D": cut[2]}, {
        "fitted": True,
        "log_likelihood": round(best[0], 3),
        "candidates_tried": tried,
        "candidates_kept": kept,
        "min_share": min_share,
    }


def _write_seed(path: Path, thresholds: dict[str, float]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["grade", "min_score", "grade_rank", "grade_label"])
        for rank, g in enumerate(GRADES, start=1):
            writer.writerow([g, f"{thresholds[g]:g}", rank, GRADE_LABELS[g]])


def _summary(before: dict[str, Any], after: dict[str, Any], fit: dict[str, Any]) -> str:
    lines = [
        "# Proposed grade thresholds",
        "",
        f"Fitted on the spot checks of {before['window'][0]} .. {before['window'][1]} "
        f"(as of {before['as_of']}). Nothing has changed: the seed in this folder is a "
        "proposal.",
        "",
        f"fit: {json.dumps(fit, ensure_ascii=False)}",
        "",
        "To accept it: review the evaluation below, copy `risk_grade_thresholds.csv` over "
        "`dbt_project/seeds/risk_grade_thresholds.csv` in a reviewed change, and trigger the run "
        'with conf `{"accept_baseline_change": ["grade_shares"], "accept_reason": "..."}` so '
        "that the gate accepts the moved grade shares once, with the reason recorded.",
        "",
        "## Before",
        "",
        "```",
        format_evaluation(before),
        "```",
        "",
        "## After",
        "",
        "```",
        format_evaluation(after),
        "```",
        "",
    ]
    return "\n".join(lines)


def propose(
    db_path: Path,
    out_dir: Path,
    as_of: dt.date | None = None,
    ground_truth_dir: Path | None = None,
    min_share: float = MIN_SHARE,
) -> dict[str, Any]:
    """Fit thresholds on the checks in ``db_path`` and write the proposal into ``out_dir``.
    Returns ``{"thresholds", "fit", "before", "after", "files"}``."""
    data = load_checks(db_path, as_of)
    thresholds, fit = fit_thresholds(data, min_share)
    before = evaluate(db_path, ground_truth_dir=ground_truth_dir, data=data)
    after = evaluate(db_path, ground_truth_dir=ground_truth_dir, thresholds=thresholds, data=data)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = out_dir / "risk_grade_thresholds.csv"
    _write_seed(seed, thresholds)
    files = [seed]
    for name, result in (("evaluation_before.json", before), ("evaluation_after.json", after)):
        path = out_dir / name
        path.write_text(
            json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n",
            encoding="utf-8",
        )
        files.append(path)
    summary = out_dir / "PROPOSAL.md"
    summary.write_text(_summary(before, after, fit), encoding="utf-8")
    files.append(summary)
    return {
        "thresholds": thresholds,
        "fit": fit,
        "before": before,
        "after": after,
        "files": [str(f) for f in files],
    }


def shares(data: dict[str, Any], thresholds: dict[str, float]) -> dict[str, float]:
    """Grade shares of the graded population under ``thresholds`` (final grade)."""
    grades = graded_scores(data, thresholds)
    ranks = grades[grades.model_name == FINAL].grade_rank
    counts = pd.Series(ranks).value_counts(normalize=True)
    return {g: round(float(counts.get(i, 0.0)), 4) for i, g in enumerate(GRADES, start=1)}

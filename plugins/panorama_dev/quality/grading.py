"""How well the risk grades track the true risk of a generated population.

The synthetic generator writes each entity's latent risk and latent class (A–D) into
``ground_truth/entities.parquet``; the pipeline never reads it. :func:`evaluate` joins that
answer key to ``risk.fct_risk_grade`` of a built warehouse file and measures:

- the Spearman rank correlation of the score with the latent risk (overall and per entity type),
- the confusion table grade × latent class,
- the grade distribution (overall and per entity type), and the individual businesses' one
  against the 德城区 reference (overall and in 371402 德城区 itself),
- the share of B/C/D grades whose every indicator earning points and every override that fired
  cites records that are on the entity's timeline (or is a registration attribute),
- where the file is a build warehouse: the spot-check evaluation of
  :mod:`panorama.grading.evaluate` (AUC, problem-found rate by grade).

:func:`build_population` produces such a warehouse from nothing (generate → extract every feed
→ dbt build) for benchmarks and tests. ``main()`` prints the evaluation as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from panorama.settings import Settings, get_settings

GRADES = ("A", "B", "C", "D")
# 德城区 individual businesses, 62,143 graded (DOMAIN.md): the reference distribution.
REFERENCE_INDIVIDUAL_SHARE = {"A": 0.269, "B": 0.281, "C": 0.066, "D": 0.384}
DECHENG = "371402"


class GradingQualityError(RuntimeError):
    """A population could not be built or evaluated (names the step and the file)."""


def _spearman(a: pd.Series, b: pd.Series) -> float | None:
    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return None
    return round(float(a.rank().corr(b.rank())), 4)


def _shares(grades: pd.Series) -> dict[str, float]:
    counts = grades.value_counts()
    total = int(counts.sum()) or 1
    return {g: round(int(counts.get(g, 0)) / total, 4) for g in GRADES}


def citations(db_path: Path) -> dict[str, Any]:
    """B/C/D grades citing their records: every indicator earning points with basis records
    and every override that fired with basis records names at least one event id, and every
    event id named is in entity.fct_entity_event: on the entity's own timeline, or, for a
    relationship indicator (关联关系), on the related entity's."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        graded = con.execute(
            "select entity_id, grade, indicator_points, override_evidence "
            "from risk.fct_risk_grade where grade in ('B', 'C', 'D') order by entity_id"
        ).fetchall()
        events = con.execute("select entity_id, event_id from entity.fct_entity_event").fetchall()
        related = {
            i
            for (i,) in con.execute(
                "select indicator from reference.risk_indicators where dimension = '关联关系'"
            ).fetchall()
        }
    known: dict[str, set[str]] = {}
    for entity, event in events:
        known.setdefault(entity, set()).add(event)
    everywhere = {event for _, event in events}
    uncited: list[str] = []
    for entity, _, points_text, overrides_text in graded:
        items = [(k, v) for k, v in json.loads(points_text or "{}").items() if v["points"] > 0]
        items += list(json.loads(overrides_text or "{}").items())
        own = known.get(entity, set())
        for name, item in items:
            if item["basis"] != "records":
                continue
            ids = set(item["event_ids"] or [])
            if not ids or not ids <= (everywhere if name in related else own):
                uncited.append(entity)
                break
    n = len(graded)
    return {
        "bcd_grades": n,
        "bcd_citing_records": round((n - len(uncited)) / n, 4) if n else None,
        "bcd_uncited_examples": uncited[:5],
    }


def _outcomes(db_path: Path) -> dict[str, Any] | None:
    from panorama.grading.evaluate import GradingEvaluationError
    from panorama.grading.evaluate import evaluate as evaluate_outcomes

    try:
        result = evaluate_outcomes(db_path)
    except GradingEvaluationError:
        return None
    return {
        model: {k: m[k] for k in ("checks", "problems", "auc", "rate_rises_a_to_d", "d_over_a")}
        | {"rate_by_grade": {g: m["by_grade"][g]["rate"] for g in GRADES}}
        for model, m in result["models"].items()
    }


def load_graded(db_path: Path, ground_truth_dir: Path) -> pd.DataFrame:
    """fct_risk_grade joined to the ground truth, one row per entity graded."""
    db_path, truth_path = Path(db_path), Path(ground_truth_dir) / "entities.parquet"
    if not db_path.exists():
        raise GradingQualityError(f"warehouse file {db_path} does not exist")
    if not truth_path.exists():
        raise GradingQualityError(f"ground truth {truth_path} does not exist")
    with duckdb.connect(str(db_path), read_only=True) as con:
        graded = con.execute(
            "select entity_id, score, score_grade, grade, model_name from risk.fct_risk_grade"
        ).df()
    truth = pd.read_parquet(
        truth_path,
        columns=[
            "entity_id",
            "entity_type",
            "division_code",
            "status",
            "latent_risk",
            "latent_class",
        ],
    )
    joined = graded.merge(truth, on="entity_id", how="inner", validate="one_to_one")
    if joined.empty:
        raise GradingQualityError(
            f"no entity of {db_path} (risk.fct_risk_grade) is in the ground truth {truth_path}"
        )
    return joined


def evaluate(db_path: Path, ground_truth_dir: Path) -> dict[str, Any]:
    """Compare the grades in ``db_path`` with the generator's answer key in ``ground_truth_dir``.

    Returns ``{"entities", "spearman", "spearman_grade", "spearman_by_type", "confusion",
    "distribution", "distribution_by_type", "reference_individual", "latent_distribution",
    "exact_match", "within_one", "individual_max_deviation", "decheng_individual",
    "decheng_individual_latent", "citations", "outcomes"}``; ``confusion[grade][latent_class]``
    counts entities; ``outcomes`` is None for a file without the build's staging tables.
    """
    df = load_graded(db_path, ground_truth_dir)
    rank = {g: i for i, g in enumerate(GRADES, start=1)}
    grade_rank = df.grade.map(rank)
    latent_rank = df.latent_class.map(rank)
    confusion = pd.crosstab(df.grade, df.latent_class).reindex(
        index=list(GRADES), columns=list(GRADES), fill_value=0
    )
    individual = df[df.entity_type == "individual"]
    dezhou = individual[individual.division_code == DECHENG]
    individual_shares = _shares(individual.grade)
    return {
        "entities": len(df),
        "spearman": _spearman(df.score, df.latent_risk),
        # the grade after overrides, ties broken by score
        "spearman_grade": _spearman(grade_rank * 10_000 + df.score, df.latent_risk),
        "spearman_by_type": {
            t: _spearman(part.score, part.latent_risk)
            for t, part in sorted(df.groupby("entity_type"))
        },
        "confusion": {g: {c: int(confusion.loc[g, c]) for c in GRADES} for g in GRADES},
        "distribution": _shares(df.grade),
        "distribution_by_type": {t: _shares(p.grade) for t, p in sorted(df.groupby("entity_type"))},
        "reference_individual": REFERENCE_INDIVIDUAL_SHARE,
        "latent_distribution": _shares(df.latent_class),
        "exact_match": round(float((grade_rank == latent_rank).mean()), 4),
        "within_one": round(float(((grade_rank - latent_rank).abs() <= 1).mean()), 4),
        "individual_max_deviation": round(
            max(abs(individual_shares[g] - REFERENCE_INDIVIDUAL_SHARE[g]) for g in GRADES), 4
        ),
        "decheng_individual": _shares(dezhou.grade) if len(dezhou) else None,
        "decheng_individual_latent": _shares(dezhou.latent_class) if len(dezhou) else None,
        "citations": citations(db_path),
        "outcomes": _outcomes(db_path),
    }


def build_population(
    data_dir: Path,
    entities: int,
    seed: int,
    as_of: dt.date,
    *,
    dbt_project_dir: Path | None = None,
    progress: bool = False,
) -> Path:
    """Generate ``entities`` synthetic entities under ``data_dir``, extract every feed for
    ``as_of`` and ``dbt build`` (no data tests) into ``data_dir/build/population.duckdb``.

    ``dbt_project_dir`` builds another copy of the project (a changed policy). Returns the
    DuckDB path.
    """
    from panorama_dev.local_platform import extract_all, forget_landed
    from panorama_dev.synth import generate

    base = get_settings()
    settings = dataclasses.replace(
        base,
        data_dir=Path(data_dir).resolve(),
        dbt_project_dir=Path(dbt_project_dir) if dbt_project_dir else base.dbt_project_dir,
    )
    ds = as_of.isoformat()
    forget_landed(settings.data_dir)
    generate(settings.data_dir, entities=entities, seed=seed, as_of=as_of, progress=progress)
    extract_all(settings, ds, run_id="population")
    return build_warehouse(settings, ds)


def build_warehouse(settings: Settings, ds: str, db_name: str = "population.duckdb") -> Path:
    """``dbt build`` (models, seeds, unit tests; no data tests) of the raw zone of ``settings``
    into ``settings.build_dir / db_name``."""
    from panorama.build.dbt_runner import run_dbt

    db = settings.build_dir / db_name
    db.parent.mkdir(parents=True, exist_ok=True)
    result = run_dbt(
        ["build", "--exclude-resource-type", "test"],
        settings=settings,
        db_path=db,
        run_dir=settings.build_dir / f"run_{db.stem}",
        as_of=ds,
        run_id=f"population-{ds}",
    )
    if not result.success:
        failed = [f"{n.unique_id}: {n.message}" for n in result.failed_nodes()]
        raise GradingQualityError(
            f"dbt build of {settings.dbt_project_dir} into {db} failed:\n"
            + "\n".join(failed[:20] or [result.log_tail])
        )
    return db


def format_report(result: dict[str, Any]) -> str:
    """A short text rendering: figures, confusion table, distributions."""
    lines = [
        f"entities graded: {result['entities']}",
        f"Spearman(score, latent_risk): {result['spearman']}"
        f"   (grade then score: {result['spearman_grade']})",
        "by entity type: " + ", ".join(f"{t} {v}" for t, v in result["spearman_by_type"].items()),
        f"grade = latent class: {result['exact_match']:.1%}, "
        f"within one: {result['within_one']:.1%}",
        "",
        "confusion (rows grade, columns latent class):",
        "       " + "".join(f"{c:>8}" for c in GRADES),
    ]
    for g in GRADES:
        lines.append(f"  {g}    " + "".join(f"{result['confusion'][g][c]:>8}" for c in GRADES))
    lines += ["", "distribution:", "                 " + "".join(f"{g:>8}" for g in GRADES)]

    def row(label: str, shares: dict[str, float]) -> str:
        return f"  {label:<15}" + "".join(f"{shares[g]:>8.1%}" for g in GRADES)

    lines.append(row("all", result["distribution"]))
    for t, shares in result["distribution_by_type"].items():
        lines.append(row(t, shares))
    lines.append(row("latent class", result["latent_distribution"]))
    lines.append(row("德城区 individual", result["reference_individual"]))
    if result.get("decheng_individual"):
        lines.append(row("371402 indiv.", result["decheng_individual"]))
        lines.append(row("371402 latent", result["decheng_individual_latent"]))
    lines.append(
        f"individual businesses vs 德城区: at most {result['individual_max_deviation']:.1%} off"
    )
    c = result["citations"]
    lines.append(
        f"B/C/D grades citing their records: {c['bcd_citing_records']} of {c['bcd_grades']}"
    )
    for model, m in (result.get("outcomes") or {}).items():
        rates = " / ".join("-" if r is None else f"{r:.1%}" for r in m["rate_by_grade"].values())
        lines.append(
            f"spot checks, {model}: {m['checks']} checks, AUC {m['auc']}, A/B/C/D {rates}, "
            f"D/A {m['d_over_a']}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``grading-quality [--db FILE] [--truth DIR] [--generate N --seed S --date D] [--json]``."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="grading-quality", description="Compare risk grades with the generator's ground truth"
    )
    parser.add_argument("--db", type=Path, help="warehouse file (default: the serving file)")
    parser.add_argument("--truth", type=Path, default=settings.ground_truth_dir)
    parser.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help="first generate N entities under PANORAMA_DATA_DIR, extract and build them",
    )
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--date", default="2026-06-30", help="as_of date of --generate")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        if args.generate:
            db = build_population(
                settings.data_dir,
                args.generate,
                args.seed,
                dt.date.fromisoformat(args.date),
                progress=True,
            )
        else:
            db = args.db or settings.serving_path
        result = evaluate(db, args.truth)
    except GradingQualityError as exc:
        print(f"grading-quality: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else format_report(result))
    return 0


__all__ = ["build_population", "build_warehouse", "evaluate", "format_report", "main"]

if __name__ == "__main__":
    sys.exit(main())

"""The probabilistic matcher keeps its trained model and reuses it until a retrain is due.

Starts from the session's first publication (its run trained the model and kept it); a second
run on the same candidate reuses the kept model without training and gives the same links; a
run on a date when the schedule says the model is too old trains again.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import duckdb
import pytest
from panorama import pipeline
from panorama.build.resolution import KEPT_META_FILE, MODEL_FILE, RetrainPolicy, match_unresolved
from pipeline_fixtures import DS, FIRST_RUN, published_copy


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    yield published_copy(tmp_path_factory, mp, "matcher_reuse")
    mp.undo()


def _candidate(settings, run_id: str):
    run = pipeline.run_dir(settings, run_id)
    run.mkdir(parents=True, exist_ok=True)
    db = pipeline.candidate_path(settings, run_id)
    shutil.copyfile(pipeline.built_path(settings, FIRST_RUN), db)
    return db


def _links(path: str) -> list[tuple]:
    return duckdb.sql(
        f"select record_id, entity_id, match_probability from read_parquet('{path}') order by all"
    ).fetchall()


def test_first_run_kept_its_trained_model(published):
    kept = published.settings.matcher_model_dir
    meta = json.loads((kept / KEPT_META_FILE).read_text(encoding="utf-8"))
    assert published.first_build["resolve"]["training"] == "em"
    assert meta["trained_on"] == DS and meta["reason"] == "no kept model"
    assert meta["model_version"] == published.first_build["resolve"]["model_version"]
    assert json.loads((kept / MODEL_FILE).read_text(encoding="utf-8"))["comparisons"]


def test_second_run_reuses_the_model_and_gives_the_same_links(published):
    settings = published.settings
    first = published.first_build["resolve"]
    _candidate(settings, "reuse")
    out = pipeline.resolve(DS, "reuse", settings)
    assert out["training"] == "reused" and out["retrain_reason"] is None
    assert "train_u" not in out["seconds"] and "train_em" not in out["seconds"]
    assert out["records"] > 0 and out["records_scored"] == 0  # nothing new: nothing scored
    assert out["model_version"] == first["model_version"]
    assert _links(out["matches_path"]) == _links(first["matches_path"])
    assert out["matches_path"] != first["matches_path"]


def test_only_a_changed_record_is_scored(published):
    settings = published.settings
    first = published.first_build["resolve"]
    db = _candidate(settings, "changed")
    table = "intermediate.int_resolution__candidates_unmatched"
    with duckdb.connect(str(db)) as con:
        (changed,) = con.execute(
            f"select min(record_id) from {table} where address is not null"
        ).fetchone()
        con.execute(
            f"update {table} set address = address || '附1号' where record_id = ?", [changed]
        )
    out = pipeline.resolve(DS, "changed", settings)
    assert out["training"] == "reused" and out["records_scored"] == 1
    before = [r for r in _links(first["matches_path"]) if r[0] != changed]
    assert [r for r in _links(out["matches_path"]) if r[0] != changed] == before


def test_a_due_retrain_trains(published):
    settings = published.settings
    later = (date.fromisoformat(DS) + timedelta(days=2)).isoformat()
    db = _candidate(settings, "retrain")
    run = pipeline.run_dir(settings, "retrain")
    out = match_unresolved(
        db,
        pipeline.resolution_dir(settings, "retrain"),
        run / "resolution_model",
        kept_model_dir=settings.matcher_model_dir,
        as_of=later,
        policy=RetrainPolicy(every_days=2),
    )
    assert out["training"] == "em" and out["records_scored"] == out["records"]
    assert "2 day(s) before" in out["retrain_reason"]
    assert "train_em" in out["seconds"]
    meta = json.loads((settings.matcher_model_dir / KEPT_META_FILE).read_text(encoding="utf-8"))
    assert meta["trained_on"] == later
    # the same records and registry: training again gives the same model and links
    first = published.first_build["resolve"]
    assert out["model_version"] == first["model_version"]
    assert _links(out["matches_path"]) == _links(first["matches_path"])


def test_drift_in_the_match_rate_retrains(published):
    settings = published.settings
    meta_path = settings.matcher_model_dir / KEPT_META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "match_rate": meta["match_rate"] + 0.2}))
    db = _candidate(settings, "drift")
    run = pipeline.run_dir(settings, "drift")
    out = match_unresolved(
        db,
        pipeline.resolution_dir(settings, "drift"),
        run / "resolution_model",
        kept_model_dir=settings.matcher_model_dir,
        as_of=meta["trained_on"],
    )
    assert out["training"] == "em" and out["retrain_reason"].startswith("match rate drift")
    kept = json.loads(meta_path.read_text(encoding="utf-8"))
    assert kept["match_rate"] == pytest.approx(meta["match_rate"])

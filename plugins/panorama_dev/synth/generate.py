"""Generate the synthetic Dezhou department deliveries and their ground truth."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any

from panorama_dev.synth import deliveries as dlv
from panorama_dev.synth import events as evt
from panorama_dev.synth.mess import Mess
from panorama_dev.synth.population import (
    EXTRA_PERSON_BASE,
    EXTRA_PERSONS_PER_CHUNK,
    chunk_rng,
    make_chunk,
)
from panorama_dev.synth.truth import TruthWriter

CHUNK_SIZE = 5_000
MAX_ENTITIES = EXTRA_PERSON_BASE


def _clean(landing: Path, truth_dir: Path) -> None:
    for feed in dlv.FEEDS:
        shutil.rmtree(landing / feed, ignore_errors=True)
    (landing / dlv.EXCHANGE_JSONL).unlink(missing_ok=True)
    for name in ("records.parquet", "entities.parquet", "feeds.json"):
        (truth_dir / name).unlink(missing_ok=True)


def generate(
    data_dir: Path, entities: int, seed: int, as_of: dt.date, progress: bool = True
) -> dict[str, Any]:
    """Write ``data_dir/landing/<feed>/...`` and ``data_dir/ground_truth/...`` for a population
    of ``entities`` market entities. Same (entities, seed, as_of) gives byte-identical files.

    Returns ``{"entities": n, "feeds": {feed: rows_written}, "seconds": t}``.
    """
    if not 1 <= entities <= MAX_ENTITIES:
        raise ValueError(f"entities must be between 1 and {MAX_ENTITIES}, got {entities}")
    started = time.perf_counter()
    data_dir = Path(data_dir)
    landing, truth_dir = data_dir / "landing", data_dir / "ground_truth"
    _clean(landing, truth_dir)
    truth = TruthWriter(truth_dir)
    out = dlv.Outputs.open(landing, as_of, truth)
    chunks = range((entities + CHUNK_SIZE - 1) // CHUNK_SIZE)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=entities, unit="entities", desc="generate")
    counts = {f: 0 for f in dlv.FEEDS}
    for chunk in chunks:
        start = chunk * CHUNK_SIZE
        count = min(CHUNK_SIZE, entities - start)
        population = make_chunk(seed, chunk, start, count, as_of)
        rng = chunk_rng(seed, chunk, "events")
        mess = Mess(chunk_rng(seed, chunk, "mess"))
        emitter = dlv.Emitter(out, mess)
        seq = evt.Sequences(chunk)
        for e in population:
            ev = evt.simulate(rng, e, as_of, seq)
            dlv.registration(emitter, e)
            dlv.changes(emitter, e, ev, rng)
            dlv.penalties(emitter, e, ev, rng, as_of)
            dlv.credit_repairs(emitter, e, ev, as_of)
            dlv.licences(emitter, e, ev, rng)
            dlv.spot_checks(emitter, e, ev)
            dlv.listings(emitter, e, ev, rng)
            dlv.court(emitter, e, ev, rng)
            dlv.complaints(emitter, e, ev)
            dlv.reports(emitter, e, ev)
            dlv.model_shops(emitter, e, as_of)
        dlv.strangers(
            emitter,
            rng,
            seq,
            chunk,
            count,
            as_of,
            EXTRA_PERSON_BASE + chunk * EXTRA_PERSONS_PER_CHUNK,
        )
        truth.entities(population)
        truth.flush()
        for feed, n in emitter.counts.items():
            counts[feed] += n
        if bar is not None:
            bar.update(count)
    if bar is not None:
        bar.close()
    files = out.close()
    truth.close()
    manifest = {feed: {"rows": counts[feed], "files": files.get(feed, [])} for feed in dlv.FEEDS}
    (truth_dir / "feeds.json").write_text(
        json.dumps(
            {"entities": entities, "seed": seed, "as_of": as_of.isoformat(), "feeds": manifest},
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return {
        "entities": entities,
        "feeds": counts,
        "seconds": round(time.perf_counter() - started, 2),
    }

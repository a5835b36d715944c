"""The generated population behaves like the real one: latent classes of individual businesses
in the 德城区 shares (enterprises and co-operatives in the documented assumption), individual
businesses marked as being in an abnormal state (never put on the enterprise list) and cleared
when they file, and every kind of record more likely the riskier the entity. No pipeline: the
generator's own functions on 10,000 entities."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest
from panorama_dev.synth import events as evt
from panorama_dev.synth.population import CLASS_SHARES, chunk_rng, make_chunk

AS_OF = dt.date(2026, 6, 30)
SEED = 424242  # not the seed the propensity knots were measured on
CHUNKS = 2


@pytest.fixture(scope="module")
def simulated() -> list[tuple]:
    out = []
    for chunk in range(CHUNKS):
        population = make_chunk(SEED, chunk, chunk * 5_000, 5_000, AS_OF)
        rng = chunk_rng(SEED, chunk, "events")
        seq = evt.Sequences(chunk)
        out += [(e, evt.simulate(rng, e, AS_OF, seq)) for e in population]
    return out


def test_latent_class_shares(simulated: list[tuple]) -> None:
    counts: dict[str, Counter] = defaultdict(Counter)
    decheng: Counter = Counter()
    for e, _ in simulated:
        counts[e.kind][e.latent_class] += 1
        if e.kind == "2" and e.division.code == "371402":
            decheng[e.latent_class] += 1
    for kind, tolerance in (("2", 0.015), ("1", 0.03), ("3", 0.06)):
        n = sum(counts[kind].values())
        for grade, share in zip("ABCD", CLASS_SHARES[kind], strict=True):
            assert counts[kind][grade] / n == pytest.approx(share, abs=tolerance), (kind, grade)
    n = sum(decheng.values())
    assert n > 1_000
    for grade, share in zip("ABCD", CLASS_SHARES["2"], strict=True):
        assert decheng[grade] / n == pytest.approx(share, abs=0.03), grade


def test_individual_businesses_are_marked_not_listed(simulated: list[tuple]) -> None:
    marked = restored = 0
    for e, ev in simulated:
        if e.kind == "2":
            assert ev.abnormal == [] and ev.serious == []
            for mark in ev.abnormal_state:
                marked += 1
                assert mark.reason in (evt.STATE_REASON_REPORT, evt.STATE_REASON_CONTACT)
                assert mark.list_date <= AS_OF
                if mark.remove_date is not None:
                    restored += 1
                    assert mark.list_date <= mark.remove_date <= AS_OF
                    assert mark.remove_reason
        else:
            assert ev.abnormal_state == []
    individuals = sum(1 for e, _ in simulated if e.kind == "2")
    # far from the 66.5 % of individual businesses on the list before
    assert 0.05 < marked / individuals < 0.5
    assert 0 < restored < marked


def test_records_more_likely_the_riskier_the_entity(simulated: list[tuple]) -> None:
    """Per latent class, mean records per entity: missed reports, marks/listings, penalties,
    complaints and court cases rise from A to D."""
    totals: dict[str, Counter] = defaultdict(Counter)
    for e, ev in simulated:
        c = totals[e.latent_class]
        c["n"] += 1
        c["missed"] += sum(not r.filed for r in ev.reports)
        c["marks"] += len(ev.abnormal) + len(ev.abnormal_state)
        c["penalties"] += len(ev.penalties)
        c["complaints"] += len(ev.complaints)
        c["court"] += len(ev.court)
    for what in ("missed", "marks", "penalties", "complaints", "court"):
        means = [totals[g][what] / totals[g]["n"] for g in "ABCD"]
        if what != "court":  # rare: only D against A
            assert all(a < b for a, b in zip(means, means[1:], strict=False)), (what, means)
        assert means[3] > 3 * means[0], (what, means)

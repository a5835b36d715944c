"""The synthetic population: market entities with a latent credit risk.

Each chunk of entities is built from its own RNG, seeded from (seed, chunk), so any chunk can be
rebuilt alone and memory stays flat however large the population is.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from panorama_dev.synth import names, vocab
from panorama_dev.synth.vocab import Division, Industry

REFORM_DATE = dt.date(2015, 10, 1)  # USCCs replace registration numbers
COOP_LAW_DATE = dt.date(2007, 7, 1)
REGNO_SHARE_OF_OLDER = 0.25
ACTIVE_STATUSES = ("存续", "在业")
EXTRA_PERSON_BASE = 10_000_000  # person indices above every entity index
EXTRA_PERSONS_PER_CHUNK = 3_000
CLASS_THRESHOLDS = (("A", 0.40), ("B", 0.60), ("C", 0.70))  # latent_risk < bound
# Latent class shares A/B/C/D per USCC entity kind. Individual businesses: 德城区, 62,143
# graded (DOMAIN.md). Enterprises and co-operatives: no published figure; assumed — enterprises
# mostly low risk, co-operatives with more dormant shells (空壳社) in C and D.
CLASS_SHARES = {
    "2": (0.269, 0.281, 0.066, 0.384),
    "1": (0.45, 0.35, 0.12, 0.08),
    "3": (0.30, 0.35, 0.15, 0.20),
}
# Propensity z at the 1 % quantile, the three cumulative class shares and the 99 % quantile,
# per kind: measured once on 150,000 generated entities (seed 99, panorama_dev.synth
# population propensities); they depend on the propensity formula, not on the seed.
PROPENSITY_KNOTS = {
    "2": (0.2557, 0.819, 1.0793, 1.1376, 1.8535),
    "1": (-0.4194, 0.4353, 0.8427, 1.0752, 1.4692),
    "3": (-0.3173, 0.1087, 0.357, 0.5009, 1.0124),
}
RISK_AT_KNOTS = (0.05, 0.40, 0.60, 0.70, 0.95)
# What no record shows: the operator's own propensity (shared by the entities a person runs)
# and the entity's own; the rest of the propensity comes from observable attributes.
PERSON_EFFECT_SD = 0.10
ENTITY_NOISE_SD = 0.07


@dataclass
class Person:
    index: int
    name: str
    id_card: str
    phone: str
    effect: float  # the person's own propensity to break rules


@dataclass
class Entity:
    index: int
    kind: str  # USCC position 2: 1 enterprise, 2 individual business, 3 farmer co-operative
    entity_type: str  # enterprise / individual / cooperative
    type_text: str
    division: Division
    industry: Industry
    name: str
    address: str
    legal_rep: Person
    capital_wan: float
    established: dt.date
    uscc: str
    reg_no: str | None
    status: str
    status_date: dt.date | None
    latent_risk: float
    latent_class: str
    shared_rep: bool
    shared_address: bool
    counts: dict[str, float] = field(default_factory=dict)

    @property
    def end(self) -> dt.date:
        """Last day the entity can have events: termination date or as_of."""
        return self.status_date if self.status not in ACTIVE_STATUSES else self._as_of

    _as_of: dt.date = dt.date(2000, 1, 1)


def chunk_rng(seed: int, chunk: int, stream: str = "") -> random.Random:
    return random.Random(f"panorama-synth:{seed}:{chunk}:{stream}")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def latent_class(risk: float) -> str:
    for label, bound in CLASS_THRESHOLDS:
        if risk < bound:
            return label
    return "D"


def new_person(rng: random.Random, index: int, division: Division, as_of: dt.date) -> Person:
    id_card = names.id_card_for(index, division.code, as_of)
    return Person(
        index=index,
        name=names.person_name(rng, names.is_male(id_card)),
        id_card=id_card,
        phone=names.mobile(rng),
        effect=rng.gauss(0.0, PERSON_EFFECT_SD),
    )


def _kind(rng: random.Random) -> str:
    x = rng.random()
    return "2" if x < 0.67 else "1" if x < 0.97 else "3"


def _industry(rng: random.Random, kind: str) -> Industry:
    attr = {"1": "w_enterprise", "2": "w_individual", "3": "w_coop"}[kind]
    return rng.choices(vocab.INDUSTRIES, [getattr(i, attr) for i in vocab.INDUSTRIES])[0]


def _established(rng: random.Random, kind: str, as_of: dt.date) -> dt.date:
    mean = {"1": 8.0, "2": 5.0, "3": 7.0}[kind]
    years = min(rng.expovariate(1.0 / mean), 29.9)
    date = as_of - dt.timedelta(days=max(1, int(years * 365.25)))
    if kind == "3" and date < COOP_LAW_DATE:
        date = COOP_LAW_DATE + dt.timedelta(days=rng.randrange(3000))
    return min(date, as_of - dt.timedelta(days=1))


def _capital(rng: random.Random, kind: str) -> float:
    median = {"1": 100.0, "2": 5.0, "3": 100.0}[kind]
    value = median * math.exp(rng.gauss(0.0, 1.1))
    return round(value, 1) if value < 10 else float(round(value / 10) * 10 or 10)


def _propensity(
    rng: random.Random,
    kind: str,
    industry: Industry,
    age_years: float,
    capital: float,
    person: Person,
    shared_address: bool,
) -> float:
    z = {"1": 0.0, "2": 0.5, "3": 0.1}[kind] + 2.0 * industry.risk
    z += (
        0.5
        if age_years < 1
        else 0.3
        if age_years < 3
        else 0.1
        if age_years < 6
        else (-0.4 if age_years > 20 else -0.25 if age_years > 12 else 0.0)
    )
    if kind == "1":
        z += 0.3 if capital < 50 else -0.4 if capital > 1000 else 0.0
    z += 0.6 if shared_address else 0.0
    z += person.effect + rng.gauss(0.0, ENTITY_NOISE_SD)
    return z


def _status(
    rng: random.Random, kind: str, risk: float, established: dt.date, as_of: dt.date
) -> tuple[str, dt.date | None]:
    span = (as_of - established).days
    if span > 400:
        x = rng.random()
        cancel = (0.10 + 0.10 * risk) if kind == "2" else 0.07
        revoke = (0.01 + 0.10 * risk**2) if kind == "2" else (0.01 + 0.08 * risk**2)
        moved = 0.0 if kind == "2" else 0.01
        date = established + dt.timedelta(days=180 + rng.randrange(span - 180))
        if x < cancel:
            return "注销", date
        if x < cancel + revoke:
            return "吊销", date
        if x < cancel + revoke + moved:
            return "迁出", date
    return ("在业" if rng.random() < 0.15 else "存续"), None


def make_chunk(seed: int, chunk: int, start: int, count: int, as_of: dt.date) -> list[Entity]:
    """Entities ``start`` .. ``start + count - 1`` (global indices) of chunk ``chunk``."""
    rng = chunk_rng(seed, chunk, "population")
    people: list[Person] = []
    addresses: dict[str, list[str]] = {}
    entities: list[Entity] = []
    div_weights = [d.weight for d in vocab.DIVISIONS]
    for index in range(start, start + count):
        kind = _kind(rng)
        division = rng.choices(vocab.DIVISIONS, div_weights)[0]
        industry = _industry(rng, kind)
        shared_rep = bool(people) and rng.random() < 0.06
        person = rng.choice(people) if shared_rep else new_person(rng, index, division, as_of)
        people.append(person)
        pool = addresses.setdefault(division.code, [])
        shared_address = bool(pool) and rng.random() < 0.04
        address = rng.choice(pool) if shared_address else names.address(rng, division)
        pool.append(address)
        established = _established(rng, kind, as_of)
        adult = names.birth_of(person.id_card) + dt.timedelta(days=20 * 366)
        established = max(established, min(adult, as_of - dt.timedelta(days=1)))
        capital = _capital(rng, kind)
        age_years = (as_of - established).days / 365.25
        z = _propensity(rng, kind, industry, age_years, capital, person, shared_address)
        risk = latent_risk(kind, z)
        if kind == "2":
            type_text = vocab.INDIVIDUAL_TYPE
            name = names.individual_name(rng, division, industry, person.name)
        elif kind == "3":
            type_text = vocab.COOP_TYPE
            name = names.coop_name(rng, division, industry)
        else:
            type_text, _, suffix = rng.choices(
                vocab.ENTERPRISE_TYPES, [t[1] for t in vocab.ENTERPRISE_TYPES]
            )[0]
            name = names.enterprise_name(rng, division, industry, suffix)
        reformed = established >= REFORM_DATE or kind == "2"
        uscc = names.uscc_for(index, kind, division.code, reformed)
        reg_no = None
        if established < REFORM_DATE and rng.random() < REGNO_SHARE_OF_OLDER:
            reg_no = names.regno_for(index, kind, division.code, rng)
        status, status_date = _status(rng, kind, risk, established, as_of)
        entity = Entity(
            index=index,
            kind=kind,
            entity_type={"1": "enterprise", "2": "individual", "3": "cooperative"}[kind],
            type_text=type_text,
            division=division,
            industry=industry,
            name=name,
            address=address,
            legal_rep=person,
            capital_wan=capital,
            established=established,
            uscc=uscc,
            reg_no=reg_no,
            status=status,
            status_date=status_date,
            latent_risk=risk,
            latent_class=latent_class(risk),
            shared_rep=shared_rep,
            shared_address=shared_address,
        )
        entity._as_of = as_of
        entities.append(entity)
    return entities


def latent_risk(kind: str, z: float) -> float:
    """The latent risk (0–1) of an entity of ``kind`` with risk propensity ``z``: a monotone,
    piecewise-linear map whose knots are the propensity quantiles at the class bounds, so that
    the latent classes of each kind have the shares of :data:`CLASS_SHARES`."""
    knots = PROPENSITY_KNOTS[kind]
    for i in range(1, len(knots)):
        if z < knots[i] or i == len(knots) - 1:
            lo, hi = knots[i - 1], knots[i]
            r_lo, r_hi = RISK_AT_KNOTS[i - 1], RISK_AT_KNOTS[i]
            break
    risk = r_lo + (z - lo) * (r_hi - r_lo) / (hi - lo)
    return min(0.995, max(0.005, risk))

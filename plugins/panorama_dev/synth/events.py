"""What happens to each entity: reports, listings, penalties, licences, checks, complaints,
court cases and registration changes, with rates driven by the entity's latent risk r (0–1).

How the likelihoods rise with r (per entity; "exposure" scales a rate by the part of the
window the entity existed, up to 1):

=============================  =============================================================
annual report missed           per due year ``0.01 + 0.9 r^2.5`` (r 0.2: 2 %, 0.5: 17 %,
                               0.8: 52 %); filed late afterwards with ``0.5 (1 - r)``
→ enterprise, co-operative     put on the abnormal-operations list (经营异常名录) from 1 July,
                               removed after the late filing
→ individual business          marked as being in an abnormal state (经营异常状态,
                               《个体工商户年度报告暂行办法》) between 1 July and 31 December of
                               the due year, cleared (恢复正常记载状态) after the late filing
unreachable at its address     drawn with the spot checks (``_checks``); listed (enterprise,
                               co-operative) or marked (individual business) the same way
penalties (5 years)            Poisson, exposure × ``0.02 + 1.6 r^3``
complaints (3 years)           Poisson, exposure × ``0.05 + 1.8 r^2.5`` (consumer-facing
                               industries) or ``0.01 + 0.4 r^2.5``
court dishonest debtor         ``0.004 + 0.25 r^4``
changes of representative /    Poisson per year ``0.01 + 0.3 r^2``
address
spot checks                    see ``_checks``
=============================  =============================================================
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from panorama_dev.synth import names, vocab
from panorama_dev.synth.population import ACTIVE_STATUSES, Entity
from panorama_dev.synth.vocab import Authority

LONG_TERM = dt.date(2099, 12, 31)
DAY = dt.timedelta(days=1)


@dataclass
class Penalty:
    agency: str  # amr / env / emergency / tax
    doc_no: str
    date: dt.date
    category: str
    violation: str
    facts: str
    basis: str
    content: str
    fine_yuan: int
    confiscated_yuan: int
    licence_action: str
    authority: Authority
    publicity_end: dt.date


@dataclass
class Change:
    date: dt.date
    item: str
    before: str
    after: str


@dataclass
class Licence:
    doc_name: str
    doc_no: str
    category: str
    cert_name: str
    cert_no: str
    content: str
    decided: dt.date
    valid_from: dt.date
    valid_to: dt.date | None
    authority: Authority
    state: str


@dataclass
class Listing:
    reason: str
    list_date: dt.date
    list_org: str
    remove_reason: str | None = None
    remove_date: dt.date | None = None
    remove_org: str | None = None


@dataclass
class SpotCheck:
    task_id: str
    task_name: str
    date: dt.date
    org: str
    result: str
    inspectors: str
    check_type: str = "不定向"
    items: str = ""


@dataclass
class Complaint:
    complaint_id: str
    date: dt.date
    shop_name: str
    name_variant: str | None
    address: str
    division_code: str
    category: str
    content: str
    phone: str
    result: str
    with_code: bool


@dataclass
class CourtCase:
    case_no: str
    name: str
    id_code: str
    is_person: bool
    legal_rep: str
    court: str
    basis_no: str
    filing_date: dt.date
    basis_org: str
    obligation: str
    performance: str
    behaviour: str
    publish_date: dt.date


@dataclass
class AnnualReport:
    year: int
    filed: bool
    filed_date: dt.date | None


@dataclass
class Events:
    penalties: list[Penalty] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    licences: list[Licence] = field(default_factory=list)
    abnormal: list[Listing] = field(default_factory=list)
    # an individual business's abnormal-state marks (标记为经营异常状态), never the list above
    abnormal_state: list[Listing] = field(default_factory=list)
    serious: list[Listing] = field(default_factory=list)
    checks: list[SpotCheck] = field(default_factory=list)
    complaints: list[Complaint] = field(default_factory=list)
    court: list[CourtCase] = field(default_factory=list)
    # cases against the legal representative of an enterprise or cooperative, as a person
    rep_court: list[CourtCase] = field(default_factory=list)
    reports: list[AnnualReport] = field(default_factory=list)


class Sequences:
    """Per-chunk counters that make document numbers unique across the whole population."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        self._next: dict[str, int] = {}

    def next(self, key: str) -> int:
        n = self._next.get(key, 0) + 1
        self._next[key] = n
        return self.chunk * 100_000 + n


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-min(lam, 30.0)), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def rand_date(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date | None:
    if hi < lo:
        return None
    return lo + dt.timedelta(days=rng.randrange((hi - lo).days + 1))


def add_years(date: dt.date, years: int) -> dt.date:
    if date.month == 2 and date.day == 29:
        return dt.date(date.year + years, 2, 28)
    return date.replace(year=date.year + years)


def years_between(lo: dt.date, hi: dt.date) -> float:
    return max(0.0, (hi - lo).days / 365.25)


def court_name(division: vocab.Division) -> str:
    prefix = "德州市" if division.name.endswith("区") else ""
    return f"{prefix}{division.name}人民法院"


# agency -> (violation, facts, basis, scope) ; scope: any / food / special
VIOLATIONS = {
    "amr": (
        (
            "销售超过保质期的食品",
            "当事人经营超过保质期的食品",
            "《中华人民共和国食品安全法》第一百二十四条第一款",
            "food",
        ),
        (
            "未取得许可从事食品经营",
            "当事人未取得食品经营许可从事食品经营活动",
            "《中华人民共和国食品安全法》第一百二十二条第一款",
            "food",
        ),
        (
            "使用未经检定的计量器具",
            "当事人使用未经检定的电子计价秤",
            "《中华人民共和国计量法》第二十六条",
            "any",
        ),
        (
            "发布虚假广告",
            "当事人在宣传单中发布虚假广告",
            "《中华人民共和国广告法》第五十五条第一款",
            "any",
        ),
        (
            "销售不合格产品",
            "当事人销售经抽检不合格的产品",
            "《中华人民共和国产品质量法》第四十九条",
            "any",
        ),
        (
            "不明码标价",
            "当事人销售商品未按规定明码标价",
            "《明码标价和禁止价格欺诈规定》第二十一条",
            "any",
        ),
        (
            "特种设备未经定期检验继续使用",
            "当事人使用未经定期检验的特种设备",
            "《中华人民共和国特种设备安全法》第八十四条",
            "special",
        ),
    ),
    "env": (
        (
            "超标排放大气污染物",
            "当事人废气排放口颗粒物浓度超过排放标准",
            "《中华人民共和国大气污染防治法》第九十九条",
            "any",
        ),
        (
            "未批先建",
            "当事人建设项目环境影响评价文件未经批准擅自开工建设",
            "《中华人民共和国环境影响评价法》第三十一条第一款",
            "any",
        ),
        (
            "危险废物贮存不规范",
            "当事人未按规定贮存危险废物",
            "《中华人民共和国固体废物污染环境防治法》第一百一十二条",
            "any",
        ),
    ),
    "emergency": (
        (
            "未按规定开展安全生产教育培训",
            "当事人未对从业人员进行安全生产教育和培训",
            "《中华人民共和国安全生产法》第九十七条",
            "any",
        ),
        (
            "未建立事故隐患排查治理制度",
            "当事人未建立事故隐患排查治理制度",
            "《中华人民共和国安全生产法》第一百零一条",
            "any",
        ),
    ),
    "tax": (
        (
            "未按期办理纳税申报",
            "当事人未按照规定期限办理纳税申报和报送纳税资料",
            "《中华人民共和国税收征收管理法》第六十二条",
            "any",
        ),
        (
            "未按规定开具发票",
            "当事人未按规定开具发票",
            "《中华人民共和国发票管理办法》第三十五条",
            "any",
        ),
    ),
}
DOC_PREFIX = {"env": "德环罚字", "emergency": "（德）应急罚", "tax": "德税稽罚"}
AGENCY_AUTHORITY = {
    "env": vocab.ENV_BUREAU,
    "emergency": vocab.EMERGENCY_BUREAU,
    "tax": vocab.TAX_BUREAU,
}


def _agency(rng: random.Random, entity: Entity) -> str:
    section = entity.industry.code[0]
    if section in "CD":
        weights = (0.35, 0.40, 0.15, 0.10)
    elif entity.industry.food and entity.industry.consumer:
        weights = (0.80, 0.04, 0.04, 0.12)
    else:
        weights = (0.55, 0.10, 0.10, 0.25)
    return rng.choices(("amr", "env", "emergency", "tax"), weights)[0]


def _fine(rng: random.Random, entity: Entity, agency: str) -> int:
    base = 1_000.0 if entity.kind == "2" else 10_000.0
    if agency == "env":
        base *= 3
    value = base * math.exp(rng.gauss(0.0, 0.8)) * (1 + 4 * entity.latent_risk)
    step = 100 if value < 10_000 else 1_000
    return max(step, int(round(value / step) * step))


def _penalties(rng: random.Random, e: Entity, as_of: dt.date, seq: Sequences, ev: Events) -> None:
    lo = max(e.established, as_of - dt.timedelta(days=5 * 365))
    exposure = min(1.0, years_between(lo, e.end) / 1.5)
    n = poisson(rng, exposure * (0.02 + 1.6 * e.latent_risk**3))
    for _ in range(n):
        date = rand_date(rng, lo, e.end)
        agency = _agency(rng, e)
        options = [
            v
            for v in VIOLATIONS[agency]
            if v[3] == "any"
            or (v[3] == "food" and e.industry.food)
            or (v[3] == "special" and e.industry.special_equipment)
        ]
        violation, facts, basis, _ = rng.choice(options)
        x = rng.random()
        fine = confiscated = 0
        licence_action = ""
        if x < 0.18 - 0.1 * e.latent_risk:
            category, content = "警告", "警告"
        else:
            fine = _fine(rng, e, agency)
            category, content = "罚款", f"罚款人民币{fine}元"
            if x > 0.82:
                confiscated = int(fine * rng.uniform(0.1, 0.8)) // 10 * 10 + 10
                category = "没收违法所得、没收非法财物"
                content = f"没收违法所得{confiscated}元，并处罚款{fine}元"
            elif x > 0.97 - 0.05 * e.latent_risk:
                category = "暂扣或者吊销许可证、暂扣或者吊销执照"
                licence_action = "吊销许可证"
                content += "，吊销许可证"
        if agency == "amr":
            authority = (
                vocab.DIVISION_AMR[e.division.code] if rng.random() < 0.8 else vocab.CITY_AMR
            )
            short = "德市监" if authority is vocab.CITY_AMR else f"{e.division.short}市监"
            doc_no = f"{short}罚字〔{date.year}〕{seq.next(short)}号"
        else:
            authority = AGENCY_AUTHORITY[agency]
            doc_no = f"{DOC_PREFIX[agency]}〔{date.year}〕{seq.next(agency)}号"
        span = 365 if category == "警告" else 3 * 365
        ev.penalties.append(
            Penalty(
                agency=agency,
                doc_no=doc_no,
                date=date,
                category=category,
                violation=violation,
                facts=facts,
                basis=basis,
                content=content,
                fine_yuan=fine,
                confiscated_yuan=confiscated,
                licence_action=licence_action,
                authority=authority,
                publicity_end=date + dt.timedelta(days=span),
            )
        )


STATE_REASON_REPORT = "未按照规定报送年度报告"
STATE_REASON_CONTACT = "通过登记的经营场所无法联系"


def _missed_report(rng: random.Random, e: Entity) -> bool:
    return rng.random() < 0.005 + 0.95 * e.latent_risk**3


def _reports_and_listings(rng: random.Random, e: Entity, as_of: dt.date, ev: Events) -> None:
    last = as_of.year - 1 if as_of >= dt.date(as_of.year, 7, 1) else as_of.year - 2
    org = vocab.DIVISION_AMR[e.division.code].name
    for year in range(max(e.established.year, last - 4), last + 1):
        due = dt.date(year + 1, 6, 30)
        if e.established > dt.date(year, 12, 31) or e.end < due:
            continue
        on_time = not _missed_report(rng, e)
        filed_date = None
        if on_time:
            filed_date = due - dt.timedelta(days=int(rng.triangular(0, 179, 0)))
        elif rng.random() < 0.5 * (1 - e.latent_risk):
            filed_date = rand_date(rng, due + 2 * DAY, min(as_of, e.end))
        if year > last - 3:
            ev.reports.append(AnnualReport(year, filed_date is not None, filed_date))
        if on_time:
            continue
        if e.kind == "2":
            _mark_state(rng, e, STATE_REASON_REPORT, year, filed_date, as_of, ev)
            continue
        list_date = dt.date(year + 1, 7, 1) + dt.timedelta(days=rng.randrange(45))
        if list_date > as_of:
            continue
        listing = Listing("未按照规定期限公示年度报告", list_date, org)
        if filed_date is not None:
            listing.remove_date = min(
                as_of, max(filed_date, list_date) + dt.timedelta(days=rng.randrange(1, 20))
            )
            listing.remove_reason = "补报未报年份的年度报告并公示"
            listing.remove_org = org
        ev.abnormal.append(listing)


def _mark_state(
    rng: random.Random,
    e: Entity,
    reason: str,
    year: int,
    filed_date: dt.date | None,
    as_of: dt.date,
    ev: Events,
) -> None:
    """An individual business that missed the report for ``year`` is marked between 1 July and
    31 December of the due year; the mark is cleared when it files and asks to restore."""
    mark_date = dt.date(year + 1, 7, 1) + dt.timedelta(days=rng.randrange(184))
    if mark_date > as_of:
        return
    org = vocab.DIVISION_AMR[e.division.code].name
    mark = Listing(reason, mark_date, org)
    if filed_date is not None:
        mark.remove_date = min(
            as_of, max(filed_date, mark_date) + dt.timedelta(days=rng.randrange(1, 20))
        )
        mark.remove_reason = "补报年度报告并申请恢复正常记载状态"
        mark.remove_org = org
    ev.abnormal_state.append(mark)


def _contact_loss(rng: random.Random, e: Entity, date: dt.date, as_of: dt.date, ev: Events) -> None:
    list_date = date + dt.timedelta(days=rng.randrange(10, 40))
    if list_date > as_of or e.status not in ACTIVE_STATUSES:
        return
    org = vocab.DIVISION_AMR[e.division.code].name
    if e.kind == "2":
        listing = Listing(STATE_REASON_CONTACT, list_date, org)
        target = ev.abnormal_state
    else:
        listing = Listing("通过登记的住所或者经营场所无法联系", list_date, org)
        target = ev.abnormal
    if rng.random() < 0.3:
        listing.remove_date = rand_date(rng, list_date + DAY, as_of)
        if listing.remove_date:
            listing.remove_reason = "依法办理住所或者经营场所变更登记"
            if e.kind == "2":
                listing.remove_reason = "经营场所可以联系，申请恢复正常记载状态"
            listing.remove_org = org
    target.append(listing)


def _serious(rng: random.Random, e: Entity, as_of: dt.date, ev: Events) -> None:
    if e.kind == "2":
        return
    for listing in ev.abnormal:
        if listing.remove_date is None:
            date = listing.list_date + dt.timedelta(days=3 * 365 + rng.randrange(60))
            if date <= as_of:
                ev.serious.append(
                    Listing("被列入经营异常名录届满3年仍未履行相关义务", date, vocab.CITY_AMR.name)
                )
                break
    heavy = [p for p in ev.penalties if p.fine_yuan >= 100_000 and p.agency == "amr"]
    if heavy and not ev.serious and rng.random() < 0.3:
        date = heavy[0].date + dt.timedelta(days=rng.randrange(30, 90))
        if date <= as_of:
            ev.serious.append(Listing("因违法行为受到较重行政处罚", date, vocab.CITY_AMR.name))
    for listing in ev.serious:
        if rng.random() < 0.08:
            listing.remove_date = rand_date(rng, listing.list_date + 365 * DAY, as_of)
            if listing.remove_date:
                listing.remove_reason = "信用修复"
                listing.remove_org = vocab.CITY_AMR.name


def _licence_kind(e: Entity) -> tuple[str, str, str, int, Authority] | None:
    """(certificate, content, category, validity years, authority) for the industry."""
    ind = e.industry
    div_amr = vocab.DIVISION_AMR[e.division.code]
    if ind.food and ind.code[0] in "CA":
        if ind.code[0] == "A":
            return None
        return "食品生产许可证", f"{ind.label}（生产）", "普通", 5, vocab.CITY_AMR
    if ind.food:
        content = (
            "热食类食品制售；冷食类食品制售"
            if ind.code[0] == "H"
            else "预包装食品（含冷藏冷冻食品）销售；散装食品销售"
        )
        return "食品经营许可证", content, "普通", 5, div_amr
    if ind.code == "F5251":
        return "药品经营许可证", "处方药、非处方药零售", "普通", 5, vocab.CITY_AMR
    if ind.code in ("C3411", "C3435"):
        return "特种设备生产许可证", f"{ind.label}（制造）", "认可", 4, vocab.CITY_AMR
    if ind.special_equipment:
        return "特种设备使用登记证", "承压类/机电类特种设备使用登记", "登记", 0, div_amr
    return None


def _cert_no(rng: random.Random, cert: str, e: Entity, seq: Sequences) -> str:
    n = seq.next("cert")
    if cert == "食品经营许可证":
        body = f"{'2' if e.industry.code[0] == 'H' else '1'}{e.division.code}{n % 1_000_000:06d}"
        return f"JY{body}{n // 1_000_000 % 10}"
    if cert == "食品生产许可证":
        return f"SC{rng.choice(('101', '103', '124'))}{e.division.code}{n % 100_000:05d}"
    if cert == "药品经营许可证":
        return f"鲁DA{n % 10_000_000:07d}"
    if cert == "特种设备生产许可证":
        return f"TS{n % 10_000_000:07d}"
    return f"{rng.choice(('容', '梯', '锅'))}1{rng.randrange(10)}鲁N{n % 100_000:05d}"


def _licences(rng: random.Random, e: Entity, as_of: dt.date, seq: Sequences, ev: Events) -> None:
    kind = _licence_kind(e)
    if kind is None:
        return
    cert, content, category, years, authority = kind
    short = "德市监" if authority is vocab.CITY_AMR else f"{e.division.short}市监"
    start = max(e.established, as_of - dt.timedelta(days=15 * 365))
    decided = rand_date(rng, start + 5 * DAY, min(e.end, start + 90 * DAY))
    renew = 0.97 - 0.8 * e.latent_risk
    while decided is not None:
        valid_to = add_years(decided, years) - DAY if years else None
        lic = Licence(
            doc_name=f"准予{cert}行政许可决定书",
            doc_no=f"{short}许准〔{decided.year}〕{seq.next(short)}号",
            category=category,
            cert_name=cert,
            cert_no=_cert_no(rng, cert, e, seq),
            content=content,
            decided=decided,
            valid_from=decided,
            valid_to=valid_to,
            authority=authority,
            state="有效",
        )
        ev.licences.append(lic)
        if e.status not in ACTIVE_STATUSES and (valid_to is None or valid_to > e.end):
            lic.state = "注销"
            break
        if valid_to is None or valid_to >= as_of:
            break
        if e.end > valid_to and rng.random() < renew:
            lic.state = "无效"
            decided = valid_to - dt.timedelta(days=rng.randrange(5, 40))
            continue
        lic.state = "注销" if e.status not in ACTIVE_STATUSES else "过期"
        break


# Spot checks (双随机抽查): each quarter's plan of the entity's division draws it with a
# probability rising with latent risk (and with food / special-equipment industries); the check
# finds a problem with probability ``spot_problem_probability``. Results use the gsxt wording.
SPOT_NO_PROBLEM = "未发现问题"
SPOT_PROBLEM_RESULTS = (
    ("发现问题已责令改正", 0.71),
    ("发现问题待后续处理", 0.17),
    ("未按规定公示应当公示的信息", 0.09),
    ("公示信息隐瞒真实情况、弄虚作假", 0.03),
)
SPOT_NOT_OPERATING = "未发现开展本次抽查涉及的经营活动"
# results counted as problems in the ground truth (lost contact included, as before)
SPOT_BAD_PREFIXES = ("发现", "不配合", "通过", "未按规定", "公示信息")
SPOT_NOT_REACHABLE = "通过登记的住所（经营场所）无法联系"
SPOT_ITEMS = {
    0: "食品经营许可情况的检查；食品经营者落实食品安全主体责任情况的检查",
    1: "特种设备使用登记情况的检查；特种设备定期检验情况的检查",
    2: "年度报告公示信息的检查",
    3: "产品质量监督抽查",
    4: "明码标价情况的检查",
    5: "营业执照（登记证）规范使用情况的检查；住所（经营场所）登记事项的检查",
    6: "广告发布行为的检查",
}


def spot_problem_probability(latent_risk: float) -> float:
    """Probability that a check of an operating entity finds a problem: 0.01 + 0.25 r³.

    Weighted by who is drawn and still in business (``spot_draw_probability``; high-risk
    entities close sooner and lose contact more often), it gives about 8.5 % of checked
    operating entities over the generated population (Dezhou 2024: 433 of 4,990 ≈ 8.7 %), from
    about 1 % for latent class A to about 14 % for D."""
    return min(0.9, 0.01 + 0.25 * latent_risk**3)


def spot_draw_probability(latent_risk: float, sensitive: bool) -> float:
    """Probability that one quarterly plan draws the entity: about 3 % a year at low latent
    risk, 15 % at high risk, more in food and special-equipment industries."""
    return 0.004 + 0.05 * latent_risk**2 + 0.015 * sensitive


def _spot_result(rng: random.Random, e: Entity) -> str:
    if rng.random() < 0.01 + 0.05 * e.latent_risk**2:
        return SPOT_NOT_REACHABLE
    if rng.random() < 0.04:
        return SPOT_NOT_OPERATING
    if rng.random() < spot_problem_probability(e.latent_risk):
        return rng.choices(
            [r for r, _ in SPOT_PROBLEM_RESULTS], [w for _, w in SPOT_PROBLEM_RESULTS]
        )[0]
    return SPOT_NO_PROBLEM


def _checks(rng: random.Random, e: Entity, as_of: dt.date, ev: Events) -> None:
    """The entity's checks by the quarterly plans of the last three years. Drawn from the
    entity's own seeded stream, so the other events do not move with them."""
    spot = random.Random(f"spot-check|{e.uscc}")
    lo = max(e.established, as_of - dt.timedelta(days=3 * 365))
    sensitive = e.industry.food or e.industry.special_equipment
    p_draw = spot_draw_probability(e.latent_risk, sensitive)
    year, quarter = lo.year, (lo.month - 1) // 3 + 1
    while dt.date(year, 3 * quarter - 2, 1) <= min(as_of, e.end):
        first = dt.date(year, 3 * quarter - 2, 1)
        last = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
        if spot.random() < p_draw:
            date = rand_date(spot, max(first, lo), min(last - DAY, as_of, e.end))
            if date is not None:
                _one_check(spot, e, date, quarter, as_of, ev)
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    if e.status in ACTIVE_STATUSES and rng.random() < 0.01 + 0.06 * e.latent_risk**2:
        _contact_loss(rng, e, rand_date(rng, lo, as_of) or as_of, as_of, ev)


def _one_check(
    rng: random.Random, e: Entity, date: dt.date, quarter: int, as_of: dt.date, ev: Events
) -> None:
    if e.industry.food:
        topic = 0
    elif e.industry.special_equipment:
        topic = 1
    else:
        topic = rng.randrange(2, len(vocab.SPOT_TOPICS))
    targeted = e.latent_risk >= 0.85 and rng.random() < 0.5
    result = _spot_result(rng, e)
    a, b = rng.sample(vocab.INSPECTORS, 2)
    ev.checks.append(
        SpotCheck(
            task_id=f"{e.division.code}{date.year}{quarter:02d}{topic:03d}",
            task_name=(
                f"{date.year}年第{quarter}季度{e.division.name}{vocab.SPOT_TOPICS[topic]}双随机抽查"
            ),
            date=date,
            org=vocab.DIVISION_AMR[e.division.code].name,
            result=result,
            inspectors=f"{a}、{b}",
            check_type="定向" if targeted else "不定向",
            items=SPOT_ITEMS[topic],
        )
    )
    if result == SPOT_NOT_REACHABLE:
        _contact_loss(rng, e, date, as_of, ev)


_TYPO = {
    "鑫": "金",
    "源": "园",
    "旺": "望",
    "店": "点",
    "记": "纪",
    "德": "得",
    "恒": "横",
    "华": "化",
    "盛": "胜",
    "泰": "太",
    "祥": "详",
    "丰": "风",
    "馆": "管",
    "达": "大",
}


def complaint_name(rng: random.Random, e: Entity) -> tuple[str, str | None]:
    """The name a consumer gives: often not the registered one."""
    x = rng.random()
    if x < 0.35:
        return e.name, None
    if x < 0.65:
        return names.shop_sign(e.name, e.division), "shop_sign"
    if x < 0.80 and e.name.startswith(e.division.name):
        return e.name.removeprefix(e.division.name), "no_division_prefix"
    if x < 0.85 and "（" in e.name:
        return e.name.replace("（", "(").replace("）", ")"), "brackets"
    chars = list(e.name)
    spots = [i for i, c in enumerate(chars) if c in _TYPO]
    if spots:
        i = rng.choice(spots)
        chars[i] = _TYPO[chars[i]]
        return "".join(chars), "typo"
    return names.shop_sign(e.name, e.division), "shop_sign"


def make_complaint(
    rng: random.Random,
    date: dt.date,
    shop: str,
    variant: str | None,
    address: str,
    division: vocab.Division,
    food: bool,
    seq: Sequences,
    with_code: bool,
) -> Complaint:
    category = (
        "食品安全" if food and rng.random() < 0.5 else rng.choice(vocab.COMPLAINT_CATEGORIES[1:])
    )
    if rng.random() < 0.4:
        address = address.removeprefix("山东省").removeprefix("德州市")
    return Complaint(
        complaint_id=f"12315{date:%Y%m%d}{seq.next('complaint'):09d}",
        date=date,
        shop_name=shop,
        name_variant=variant,
        address=address,
        division_code=division.code,
        category=category,
        content=rng.choice(vocab.COMPLAINT_CONTENT[category]),
        phone=names.mobile(rng),
        result=rng.choice(vocab.COMPLAINT_RESULTS),
        with_code=with_code,
    )


def _complaints(rng: random.Random, e: Entity, as_of: dt.date, seq: Sequences, ev: Events) -> None:
    lo = max(e.established, as_of - dt.timedelta(days=3 * 365))
    share = min(1.0, years_between(lo, e.end) / 1.5)
    r25 = e.latent_risk**2.5
    lam = share * ((0.05 + 1.8 * r25) if e.industry.consumer else (0.01 + 0.4 * r25))
    for _ in range(poisson(rng, lam)):
        shop, variant = complaint_name(rng, e)
        ev.complaints.append(
            make_complaint(
                rng,
                rand_date(rng, lo, e.end),
                shop,
                variant,
                e.address,
                e.division,
                e.industry.food,
                seq,
                with_code=rng.random() < 0.15,
            )
        )


BEHAVIOURS = (
    "有履行能力而拒不履行生效法律文书确定义务",
    "违反财产报告制度",
    "违反限制消费令",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
)


def make_case(
    rng: random.Random,
    as_of: dt.date,
    division: vocab.Division,
    name: str,
    id_code: str,
    is_person: bool,
    legal_rep: str,
    seq: Sequences,
) -> CourtCase | None:
    filing = as_of - dt.timedelta(days=rng.randrange(30, 5 * 365))
    publish = filing + dt.timedelta(days=rng.randrange(30, 200))
    if publish > as_of:
        return None
    amount = int(math.exp(rng.gauss(10.5, 1.2))) // 100 * 100 + 100
    return CourtCase(
        case_no=f"（{filing.year}）{division.court}执{seq.next('case')}号",
        name=name,
        id_code=id_code,
        is_person=is_person,
        legal_rep=legal_rep,
        court=court_name(division),
        basis_no=f"（{filing.year - 1}）{division.court}民初{seq.next('civil')}号",
        filing_date=filing,
        basis_org=court_name(division),
        obligation=f"被执行人于判决生效后十日内支付申请执行人货款{amount}元",
        performance=rng.choice(("全部未履行", "全部未履行", "部分未履行")),
        behaviour=rng.choice(BEHAVIOURS),
        publish_date=publish,
    )


def _court(rng: random.Random, e: Entity, as_of: dt.date, seq: Sequences, ev: Events) -> None:
    if e.status in ("注销", "迁出"):
        return
    p = 0.004 + 0.25 * e.latent_risk**4
    if rng.random() >= p:
        return
    for _ in range(1 + poisson(rng, 0.4)):
        if e.kind == "2":
            case = make_case(
                rng, as_of, e.division, e.legal_rep.name, e.legal_rep.id_card, True, "", seq
            )
        else:
            case = make_case(
                rng, as_of, e.division, e.name, e.uscc[8:17], False, e.legal_rep.name, seq
            )
        if case is not None:
            ev.court.append(case)


def _rep_court(e: Entity, as_of: dt.date, seq: Sequences, ev: Events) -> None:
    """The legal representative of an enterprise or cooperative on the dishonest-debtor list as
    a natural person (an individual business's operator already is, through ``_court``). Drawn
    from the entity's own seeded stream, so the other events do not move."""
    if e.kind == "2" or e.status in ("注销", "迁出"):
        return
    rng = random.Random(f"rep-court|{e.uscc}")
    if rng.random() >= 0.002 + 0.12 * e.latent_risk**4:
        return
    rep = e.legal_rep
    case = make_case(rng, as_of, e.division, rep.name, rep.id_card, True, "", seq)
    if case is not None:
        ev.rep_court.append(case)


CHANGE_ITEMS = {
    "1": ("法定代表人", "住所", "名称", "注册资本", "经营范围"),
    "2": ("经营者", "经营场所", "名称", "资金数额", "经营范围"),
    "3": ("法定代表人", "住所", "名称", "成员出资总额", "业务范围"),
}


def _changes(rng: random.Random, e: Entity, as_of: dt.date, ev: Events) -> None:
    lo = e.established + 30 * DAY
    years = min(15.0, years_between(lo, e.end))
    r2 = e.latent_risk**2
    rep_rate = (0.01 + 0.3 * r2) * (0.3 if e.kind == "2" else 1.0)
    rates = (rep_rate, 0.01 + 0.3 * r2, 0.01, 0.03 if e.kind != "2" else 0.01, 0.05)
    labels = CHANGE_ITEMS[e.kind]
    for slot, rate in enumerate(rates):
        dates = sorted(
            d for d in (rand_date(rng, lo, e.end) for _ in range(poisson(rng, years * rate))) if d
        )
        current = (
            e.legal_rep.name,
            e.address,
            e.name,
            f"{e.capital_wan:g}万元",
            "一般项目：销售、服务（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
        )[slot]
        for date in reversed(dates):
            if slot == 0:
                before = names.person_name(rng, rng.random() < 0.7)
            elif slot == 1:
                before = names.address(rng, e.division)
            elif slot == 2:
                before = (
                    e.name[:-2] + rng.choice(("商店", "门市", "经营部"))
                    if e.kind == "2"
                    else (names.enterprise_name(rng, e.division, e.industry, "有限公司"))
                )
            elif slot == 3:
                before = f"{max(1.0, round(e.capital_wan * rng.uniform(0.2, 0.9), 1)):g}万元"
            else:
                before = "一般经营项目：零售、批发"
            ev.changes.append(Change(date, labels[slot], before, current))
            current = before
    ev.changes.sort(key=lambda c: c.date)


def simulate(rng: random.Random, e: Entity, as_of: dt.date, seq: Sequences) -> Events:
    """Draw every event of ``e`` up to ``as_of`` and record counts in ``e.counts``."""
    ev = Events()
    _changes(rng, e, as_of, ev)
    _penalties(rng, e, as_of, seq, ev)
    _reports_and_listings(rng, e, as_of, ev)
    _checks(rng, e, as_of, ev)
    _serious(rng, e, as_of, ev)
    _licences(rng, e, as_of, seq, ev)
    _complaints(rng, e, as_of, seq, ev)
    _court(rng, e, as_of, seq, ev)
    _rep_court(e, as_of, seq, ev)
    three_years_ago = as_of - dt.timedelta(days=3 * 365)
    e.counts = {
        "n_penalties": len(ev.penalties),
        "fine_total_wan": sum(p.fine_yuan for p in ev.penalties) / 10_000,
        "n_abnormal": len(ev.abnormal),
        "abnormal_current": sum(1 for x in ev.abnormal if x.remove_date is None),
        "n_abnormal_state": len(ev.abnormal_state),
        "abnormal_state_current": sum(1 for x in ev.abnormal_state if x.remove_date is None),
        "reports_due": len(ev.reports),
        "reports_missed": sum(1 for r in ev.reports if not r.filed),
        "serious_current": sum(1 for x in ev.serious if x.remove_date is None),
        "court_cases": len(ev.court),
        "n_complaints": len(ev.complaints),
        "n_spot_checks": len(ev.checks),
        "n_spot_problems": sum(1 for c in ev.checks if c.result.startswith(SPOT_BAD_PREFIXES)),
        "n_licences": len(ev.licences),
        "licence_expired": sum(1 for x in ev.licences if x.state == "过期"),
        "n_changes": len(ev.changes),
        "changes_rep_address_3y": sum(
            1
            for c in ev.changes
            if c.date >= three_years_ago and c.item in ("法定代表人", "经营者", "住所", "经营场所")
        ),
    }
    return ev

"""Department deliveries: how each department writes the facts of an entity, in its own
columns, encoding and container, with the mess of real data. One function per feed."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panorama_dev.synth import events as evt
from panorama_dev.synth import names, vocab
from panorama_dev.synth.mess import Mess, excel_serial
from panorama_dev.synth.population import ACTIVE_STATUSES, REFORM_DATE, Entity
from panorama_dev.synth.sinks import CsvSink, JsonlSink, SqliteSink, XlsxSink
from panorama_dev.synth.truth import TruthWriter

EXCHANGE_JSONL = "_exchange/penalty__exchange.jsonl"
EXCHANGE_SOURCE = "/api/v1/penalties"
XLSX_MAX_ROWS = 1_000_000

FEEDS = (
    "registration__amr",
    "registration_change__amr",
    "penalty__amr",
    "penalty__env_legacy",
    "penalty__exchange",
    "licence__amr",
    "spot_check__amr",
    "abnormal_list__amr",
    "abnormal_state__amr",
    "serious_dishonest__amr",
    "court_dishonest__court",
    "complaint__12315",
    "annual_report__amr",
    "credit_repair__amr",
    "model_shop__amr",
)

REGISTRATION_HEADER = [
    "统一社会信用代码",
    "注册号",
    "主体名称",
    "主体类型",
    "住所",
    "行政区划代码",
    "行业代码",
    "法定代表人（负责人、经营者）",
    "证件号码",
    "联系电话",
    "注册资本（万元）",
    "成立日期",
    "登记状态",
    "状态变更日期",
    "登记机关",
]
CHANGE_HEADER = ["统一社会信用代码", "注册号", "变更日期", "变更事项", "变更前内容", "变更后内容"]
PENALTY_AMR_HEADER = [
    "行政相对人名称",
    "行政相对人类别",
    "统一社会信用代码",
    "工商注册号",
    "组织机构代码",
    "税务登记号",
    "事业单位证书号",
    "社会组织登记证号",
    "法定代表人",
    "法定代表人证件类型",
    "法定代表人证件号码",
    "证件类型",
    "证件号码",
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额(万元)",
    "没收违法所得、没收非法财物的金额(万元)",
    "暂扣或吊销证照名称及编号",
    "处罚决定日期",
    "处罚有效期",
    "公示截止期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
]
PENALTY_ENV_HEADER = [
    "CF_WSH",
    "CF_CFMC",
    "CF_CFLB1",
    "CF_CFLB2",
    "CF_SY",
    "CF_YJ",
    "CF_XDR_MC",
    "CF_XDR_DM_1",
    "CF_XDR_DM_2",
    "CF_XDR_DM_3",
    "CF_XDR_DM_4",
    "CF_XDR_DM_5",
    "CF_FR",
    "CF_JG",
    "CF_FKJE",
    "CF_JDRQ",
    "CF_XZJG",
    "CF_ZT",
    "DFBM",
    "SJC",
    "BZ",
]
LICENCE_HEADER = [
    "行政相对人名称",
    "行政相对人类别",
    "统一社会信用代码",
    "工商注册号",
    "组织机构代码",
    "法定代表人",
    "行政许可决定文书名称",
    "行政许可决定文书号",
    "许可类别",
    "许可证书名称",
    "许可编号",
    "许可内容",
    "许可决定日期",
    "有效期自",
    "有效期至",
    "许可机关",
    "许可机关统一社会信用代码",
    "当前状态",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
]
SPOT_HEADER = [
    "抽查任务编号",
    "抽查任务名称",
    "检查日期",
    "统一社会信用代码",
    "注册号",
    "市场主体名称",
    "检查实施机关",
    "检查结果",
    "检查人员",
    "检查类型",
    "抽查事项",
]
ABNORMAL_HEADER = [
    "企业名称",
    "统一社会信用代码",
    "注册号",
    "列入经营异常名录原因",
    "列入日期",
    "作出决定机关(列入)",
    "移出经营异常名录原因",
    "移出日期",
    "作出决定机关(移出)",
]
ABNORMAL_STATE_HEADER = [
    "个体工商户名称",
    "统一社会信用代码",
    "注册号",
    "标记经营异常状态原因",
    "标记日期",
    "作出标记决定机关",
    "恢复正常记载状态原因",
    "恢复日期",
    "作出恢复决定机关",
]
SERIOUS_HEADER = [
    "企业名称",
    "统一社会信用代码",
    "注册号",
    "列入严重违法失信名单原因",
    "列入日期",
    "作出决定机关(列入)",
    "移出严重违法失信名单原因",
    "移出日期",
    "作出决定机关(移出)",
]
COURT_COLUMNS = [
    "caseCode",
    "iname",
    "cardNum",
    "businessEntity",
    "courtName",
    "areaName",
    "gistId",
    "regDate",
    "gistUnit",
    "duty",
    "performance",
    "disruptTypeName",
    "publishDate",
]
CREDIT_REPAIR_HEADER = [
    "信用修复决定书文号",
    "当事人名称",
    "统一社会信用代码",
    "注册号",
    "行政处罚决定书文号",
    "修复决定日期",
    "修复决定机关",
    "修复内容",
]
REPORT_HEADER = ["统一社会信用代码", "注册号", "企业名称", "年报年度", "是否公示", "公示日期"]
MODEL_SHOP_HEADER = ["统一社会信用代码", "经营者名称", "称号", "授牌日期", "有效期至", "授牌单位"]
MODEL_SHOP_TITLE = "放心消费示范店"
MODEL_SHOP_PER_MILLE = 60  # share of active consumer-facing shops awarded, per mille
MODEL_SHOP_TERM_YEARS = 3
SPOT_ENCODING_LATEST, SPOT_ENCODING_OLDER = "utf-8", "gbk"


@dataclass
class Outputs:
    landing: Path
    as_of: dt.date
    sinks: dict[str, Any]
    spot: dict[int, CsvSink]
    truth: TruthWriter

    @classmethod
    def open(cls, landing: Path, as_of: dt.date, truth: TruthWriter) -> Outputs:
        stamp = f"{as_of:%Y%m%d}"

        def csv_sink(feed: str, header: list[str], encoding: str, eol: str = "\n") -> CsvSink:
            return CsvSink(landing / feed / f"{feed}_{stamp}.csv", header, encoding, eol)

        sinks: dict[str, Any] = {
            "registration__amr": csv_sink("registration__amr", REGISTRATION_HEADER, "utf-8"),
            "registration_change__amr": csv_sink(
                "registration_change__amr", CHANGE_HEADER, "utf-8-sig"
            ),
            "penalty__amr": csv_sink("penalty__amr", PENALTY_AMR_HEADER, "gbk", "\r\n"),
            "penalty__env_legacy": XlsxSink(
                landing / "penalty__env_legacy",
                f"penalty__env_legacy_{stamp}",
                "德州市生态环境局行政处罚信息",
                f"填报单位：德州市生态环境局　导出日期：{as_of:%Y年%m月%d日}",
                PENALTY_ENV_HEADER,
                XLSX_MAX_ROWS,
                dt.datetime(as_of.year, as_of.month, as_of.day),
            ),
            "penalty__exchange": JsonlSink(landing / EXCHANGE_JSONL, EXCHANGE_SOURCE),
            "licence__amr": csv_sink("licence__amr", LICENCE_HEADER, "gb18030", "\r\n"),
            "abnormal_list__amr": csv_sink("abnormal_list__amr", ABNORMAL_HEADER, "gbk", "\r\n"),
            "abnormal_state__amr": csv_sink(
                "abnormal_state__amr", ABNORMAL_STATE_HEADER, "utf-8-sig"
            ),
            "serious_dishonest__amr": csv_sink("serious_dishonest__amr", SERIOUS_HEADER, "utf-8"),
            "court_dishonest__court": SqliteSink(
                landing / "court_dishonest__court" / "court.sqlite",
                "dishonest_debtor",
                COURT_COLUMNS,
            ),
            "complaint__12315": JsonlSink(
                landing / "complaint__12315" / f"complaint__12315_{stamp}.jsonl"
            ),
            "annual_report__amr": csv_sink("annual_report__amr", REPORT_HEADER, "utf-8"),
            "credit_repair__amr": csv_sink("credit_repair__amr", CREDIT_REPAIR_HEADER, "utf-8"),
            "model_shop__amr": csv_sink("model_shop__amr", MODEL_SHOP_HEADER, "utf-8"),
        }
        return cls(landing, as_of, sinks, {}, truth)

    def spot_sink(self, year: int) -> CsvSink:
        sink = self.spot.get(year)
        if sink is None:
            latest = year >= self.as_of.year
            sink = CsvSink(
                self.landing / "spot_check__amr" / f"spot_check__amr_{year}.csv",
                SPOT_HEADER,
                SPOT_ENCODING_LATEST if latest else SPOT_ENCODING_OLDER,
                "\n" if latest else "\r\n",
            )
            self.spot[year] = sink
        return sink

    def close(self) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for feed, sink in self.sinks.items():
            sink.close()
            files[feed] = (
                [p.name for p in sink.files] if isinstance(sink, XlsxSink) else [sink.name]
            )
        for year in sorted(self.spot):
            self.spot[year].close()
        files["spot_check__amr"] = [self.spot[y].name for y in sorted(self.spot)]
        return files


class Emitter:
    """Writes one record (and sometimes its exact duplicate) and its ground-truth line."""

    def __init__(self, out: Outputs, mess: Mess) -> None:
        self.out = out
        self.mess = mess
        self.counts: dict[str, int] = {f: 0 for f in FEEDS}

    def emit(
        self,
        feed: str,
        row: Any,
        entity_id: str | None,
        related: str | None = None,
        sink: Any = None,
        dup_ok: bool = True,
    ) -> None:
        sink = sink or self.out.sinks[feed]
        planted = self.mess.take()
        name, index = sink.write(row)
        self.out.truth.record(feed, name, index, entity_id, planted, related)
        self.counts[feed] += 1
        if dup_ok and self.mess.duplicate():
            name, index = sink.write(row)
            both = f"{planted},duplicate" if planted else "duplicate"
            self.out.truth.record(feed, name, index, entity_id, both, related)
            self.counts[feed] += 1


def _lb(e: Entity) -> str:
    return "个体工商户" if e.kind == "2" else "法人及非法人组织"


def _regno_only(e: Entity, rng: random.Random, m: Mess, share: float) -> bool:
    """Whether this record knows the entity only by its old registration number."""
    if e.reg_no and rng.random() < share:
        m.planted.append("regno_only")
        return True
    return False


def registration(em: Emitter, e: Entity) -> None:
    m = em.mess
    capital: str = f"{e.capital_wan:g}"
    if m.hit():
        m.planted.append("amount_wan_text")
        capital = f"{e.capital_wan:g}万元"
    type_text = e.type_text
    if "(" in type_text and m.hit(2):
        m.planted.append("fullwidth_brackets")
        type_text = type_text.replace("(", "（").replace(")", "）")
    row = [
        m.code(e.uscc, invalid_ok=False, missing_ok=False),
        e.reg_no or "",
        m.name(e.name),
        type_text,
        m.address(e.address),
        e.division.code,
        e.industry.code,
        e.legal_rep.name,
        e.legal_rep.id_card,
        e.legal_rep.phone,
        capital,
        m.date(e.established),
        e.status,
        m.date(e.status_date, broken_ok=False),
        vocab.DIVISION_AMR[e.division.code].name,
    ]
    em.emit("registration__amr", row, e.uscc, dup_ok=False)


def changes(em: Emitter, e: Entity, ev: evt.Events, rng: random.Random) -> None:
    m = em.mess
    for c in ev.changes:
        old = bool(e.reg_no) and c.date < REFORM_DATE
        if old:
            m.planted.append("regno_only")
        uscc = "" if old else m.code(e.uscc)
        em.emit(
            "registration_change__amr",
            [uscc, e.reg_no or "", m.date(c.date), c.item, c.before, c.after],
            e.uscc,
        )


def penalties(em: Emitter, e: Entity, ev: evt.Events, rng: random.Random, as_of: dt.date) -> None:
    m = em.mess
    for p in ev.penalties:
        if p.agency == "amr":
            org = e.uscc[8:17] if e.kind != "2" and rng.random() < 0.3 else ""
            row = [
                m.name(e.name),
                _lb(e),
                m.code(e.uscc),
                e.reg_no or "",
                org,
                "",
                "",
                "",
                e.legal_rep.name,
                "",
                "",
                "",
                "",
                p.doc_no,
                p.violation,
                p.facts,
                p.basis,
                p.category,
                p.content,
                m.amount_wan(p.fine_yuan),
                m.amount_wan(p.confiscated_yuan),
                p.licence_action,
                m.date(p.date),
                m.date(p.publicity_end, broken_ok=False),
                m.date(p.publicity_end, broken_ok=False),
                p.authority.name,
                p.authority.uscc,
                p.authority.name,
                p.authority.uscc,
                "",
            ]
            em.emit("penalty__amr", row, e.uscc)
        elif p.agency == "env":
            env_legacy(em, e, p, rng, as_of)
        else:
            exchange(em, e, p, rng)


#: Fines (元) at or below which a market-regulation penalty is likely minor (3 months' publicity,
#: too short for a repair to matter): individual businesses, others.
REPAIR_MIN_FINE_YUAN = {"2": 10_000}
REPAIR_MIN_FINE_YUAN_DEFAULT = 100_000


def credit_repairs(em: Emitter, e: Entity, ev: evt.Events, as_of: dt.date) -> None:
    """Credit-repair decisions (信用修复: publicity of a penalty ended early) for some of the
    market regulator's heavier penalties, one to three years after the decision, likelier for
    entities of low latent risk. Drawn from each penalty's own seeded stream and written
    without mess, so no other record of the population moves."""
    for p in ev.penalties:
        if p.agency != "amr" or p.category == "警告":
            continue
        light = p.category == "罚款" and p.fine_yuan <= REPAIR_MIN_FINE_YUAN.get(
            e.kind, REPAIR_MIN_FINE_YUAN_DEFAULT
        )
        rng = random.Random(f"credit-repair|{p.doc_no}")
        if light or rng.random() >= 0.3 * (1.0 - e.latent_risk):
            continue
        latest = min(as_of, p.date + dt.timedelta(days=3 * 365 - 1))
        date = evt.rand_date(rng, p.date + dt.timedelta(days=365), latest)
        if date is None:
            continue
        short = p.doc_no.split("罚字", 1)[0]
        row = [
            f"{short}信修〔{date.year}〕{rng.randrange(1, 100_000):05d}号",
            e.name,
            e.uscc,
            e.reg_no or "",
            p.doc_no,
            date.isoformat(),
            p.authority.name,
            "提前停止公示行政处罚信息",
        ]
        em.emit("credit_repair__amr", row, e.uscc, dup_ok=False)


def env_legacy(em: Emitter, e: Entity, p: evt.Penalty, rng: random.Random, as_of: dt.date) -> None:
    m = em.mess
    regno_only = _regno_only(e, rng, m, 0.6)
    org = e.uscc[8:17] if e.kind != "2" else ""
    org_text = f"{org[:8]}-{org[8]}" if org and rng.random() < 0.5 else org
    x = rng.random()
    if x < 0.5:
        decided: Any = p.date
    elif x < 0.75:
        m.planted.append("date_excel_serial")
        decided = excel_serial(p.date)
    else:
        decided = m.date(p.date)
    fine = m.amount_yuan(p.fine_yuan) if p.fine_yuan else ""
    lb2 = "责令改正" if p.category != "警告" else ""
    row = [
        p.doc_no,
        f"{p.violation}案",
        p.category,
        lb2,
        p.facts,
        p.basis,
        m.name(e.name),
        org_text if (org and (regno_only or rng.random() < 0.5)) else "",
        e.reg_no or "",
        f"{e.division.code}{org}" if org and rng.random() < 0.3 else "",
        "",
        "" if regno_only else m.code(e.uscc),
        e.legal_rep.name,
        p.content,
        fine,
        decided,
        p.authority.name,
        "0",
        vocab.CITY_CODE,
        f"{as_of:%Y-%m-%d} 18:00:00",
        "",
    ]
    em.emit("penalty__env_legacy", row, e.uscc)


def exchange(em: Emitter, e: Entity, p: evt.Penalty, rng: random.Random) -> None:
    m = em.mess
    fk: Any = round(p.fine_yuan / 10_000, 4) if p.fine_yuan else None
    if fk is not None and m.hit():
        m.planted.append("amount_wan_string")
        fk = f"{fk:g}"
    record = {
        "id": f"{p.agency}-{p.doc_no}",
        "cf_wsh": p.doc_no,
        "cf_xdr_mc": m.name(e.name),
        "cf_xdr_lb": _lb(e),
        "cf_xdr_shxym": m.code(e.uscc),
        "cf_xdr_gszc": e.reg_no or "",
        "cf_frdb": e.legal_rep.name,
        "cf_wfxw": p.violation,
        "cf_sy": p.facts,
        "cf_yj": p.basis,
        "cf_cflb": p.category,
        "cf_nr": p.content,
        "cf_nr_fk": fk,
        "cf_nr_wfff": round(p.confiscated_yuan / 10_000, 4) if p.confiscated_yuan else None,
        "cf_jdrq": m.date(p.date),
        "cf_yxq": p.publicity_end.isoformat(),
        "cf_gsjzq": p.publicity_end.isoformat(),
        "cf_cfjg": p.authority.name,
        "cf_cfjgdm": p.authority.uscc,
        "cf_sjly": p.authority.name,
        "cf_sjlydm": p.authority.uscc,
        "bz": None,
        "tbsj": f"{p.date + dt.timedelta(days=7):%Y-%m-%d} 02:00:00",
    }
    em.emit("penalty__exchange", record, e.uscc)


def licences(em: Emitter, e: Entity, ev: evt.Events, rng: random.Random) -> None:
    m = em.mess
    for lic in ev.licences:
        regno_only = lic.decided < REFORM_DATE and _regno_only(e, rng, m, 0.8)
        valid_to: str = m.date(lic.valid_to, broken_ok=False)
        if lic.valid_to is None and rng.random() < 0.3:
            valid_to = evt.LONG_TERM.isoformat()
        note = "延续" if lic.state == "无效" and rng.random() < 0.5 else ""
        row = [
            m.name(e.name),
            _lb(e),
            "" if regno_only else m.code(e.uscc),
            e.reg_no or "",
            "",
            e.legal_rep.name,
            lic.doc_name,
            lic.doc_no,
            lic.category,
            lic.cert_name,
            lic.cert_no,
            lic.content,
            m.date(lic.decided),
            m.date(lic.valid_from, "-"),
            valid_to,
            lic.authority.name,
            lic.authority.uscc,
            lic.state,
            lic.authority.name,
            lic.authority.uscc,
            note,
        ]
        em.emit("licence__amr", row, e.uscc)


def spot_checks(em: Emitter, e: Entity, ev: evt.Events) -> None:
    m = em.mess
    for c in ev.checks:
        row = [
            c.task_id,
            c.task_name,
            m.date(c.date, serial=True),
            m.code(e.uscc),
            e.reg_no or "",
            m.name(e.name),
            c.org,
            c.result,
            c.inspectors,
            c.check_type,
            c.items,
        ]
        em.emit("spot_check__amr", row, e.uscc, sink=em.out.spot_sink(c.date.year))


def listings(em: Emitter, e: Entity, ev: evt.Events, rng: random.Random) -> None:
    m = em.mess
    for feed, items in (
        ("abnormal_list__amr", ev.abnormal),
        ("abnormal_state__amr", ev.abnormal_state),
        ("serious_dishonest__amr", ev.serious),
    ):
        for x in items:
            regno_only = feed == "abnormal_list__amr" and _regno_only(e, rng, m, 0.3)
            row = [
                m.name(e.name),
                "" if regno_only else m.code(e.uscc),
                e.reg_no or "",
                x.reason,
                m.date(x.list_date),
                x.list_org,
                x.remove_reason or "",
                m.date(x.remove_date, broken_ok=False),
                x.remove_org or "",
            ]
            em.emit(feed, row, e.uscc)


def court_row(case: evt.CourtCase, m: Mess) -> list[str]:
    return [
        case.case_no,
        case.name,
        case.id_code,
        case.legal_rep,
        case.court,
        "山东",
        case.basis_no,
        m.date(case.filing_date, "c"),
        case.basis_org,
        case.obligation,
        case.performance,
        case.behaviour,
        f"{case.publish_date:%Y年%m月%d日}",
    ]


def court(em: Emitter, e: Entity, ev: evt.Events, rng: random.Random) -> None:
    m = em.mess
    for case in ev.court:
        if not case.is_person and rng.random() < 0.6:
            case.id_code = f"{case.id_code[:8]}-{case.id_code[8]}"
        row = court_row(case, m)
        if case.is_person:
            em.emit("court_dishonest__court", row, None, related=e.uscc, dup_ok=False)
        else:
            em.emit("court_dishonest__court", row, e.uscc, dup_ok=False)
    for case in ev.rep_court:
        # the legal representative as a person: no entity of its own, related to the one it
        # runs; messed from its own seeded stream so that the other records do not move
        local = Mess(random.Random(f"rep-court-mess|{case.case_no}"), m.rate, m.broken)
        row = court_row(case, local)
        m.planted.extend([*local.planted, "legal_rep_debtor"])
        em.emit("court_dishonest__court", row, None, related=e.uscc, dup_ok=False)


def complaints(em: Emitter, e: Entity, ev: evt.Events) -> None:
    m = em.mess
    for c in ev.complaints:
        if c.name_variant:
            m.planted.append(f"name_{c.name_variant}")
        em.emit("complaint__12315", complaint_record(c, e.uscc if c.with_code else "", m), e.uscc)


def complaint_record(c: evt.Complaint, code: str, m: Mess) -> dict[str, Any]:
    if not code:
        m.planted.append("missing_code")
    return {
        "tsbh": c.complaint_id,
        "djrq": m.date(c.date),
        "btsr_mc": c.shop_name,
        "btsr_dz": m.address(c.address),
        "ssqy_dm": c.division_code,
        "btsr_tyshxydm": m.code(code, missing_ok=False) if code else None,
        "tslb": c.category,
        "tsnr": c.content,
        "tsr_lxdh": c.phone,
        "cljg": c.result,
    }


def reports(em: Emitter, e: Entity, ev: evt.Events) -> None:
    m = em.mess
    for r in ev.reports:
        row = [
            m.code(e.uscc, invalid_ok=False),
            e.reg_no or "",
            m.name(e.name),
            r.year,
            "是" if r.filed else "否",
            m.date(r.filed_date),
        ]
        em.emit("annual_report__amr", row, e.uscc)


def model_shops(em: Emitter, e: Entity, as_of: dt.date) -> None:
    """放心消费示范店: awarded to a few active consumer-facing shops with a clean record so far
    (low latent risk). Chosen by a hash of the USCC, so no random stream of the other feeds
    moves; awarded on a date within the last three years, for three years."""
    if e.status not in ACTIVE_STATUSES or not e.industry.consumer or e.latent_risk >= 0.4:
        return
    digest = int(hashlib.sha256(f"model_shop|{e.uscc}".encode()).hexdigest()[:12], 16)
    if digest % 1000 >= MODEL_SHOP_PER_MILLE:
        return
    awarded = max(e.established, as_of - dt.timedelta(days=30 + (digest >> 10) % 1000))
    until = evt.add_years(awarded, MODEL_SHOP_TERM_YEARS) - dt.timedelta(days=1)
    org = f"{e.division.name}市场监督管理局"
    row = [e.uscc, e.name, MODEL_SHOP_TITLE, awarded.isoformat(), until.isoformat(), org]
    em.emit("model_shop__amr", row, e.uscc, dup_ok=False)


def strangers(
    em: Emitter,
    rng: random.Random,
    seq: evt.Sequences,
    chunk: int,
    count: int,
    as_of: dt.date,
    extra_base: int,
) -> None:
    """Records about parties that are not registered entities: unlicensed street vendors in
    complaints, private persons on the court's dishonest-debtor list."""
    m = em.mess
    for _ in range(int(count * 0.02)):
        division = rng.choices(vocab.DIVISIONS, [d.weight for d in vocab.DIVISIONS])[0]
        stall = rng.choice(("小吃摊", "早点铺", "烧烤摊", "水果摊"))
        shop = f"{rng.choice(vocab.SHOP_PREFIXES)}{stall}"
        c = evt.make_complaint(
            rng,
            as_of - dt.timedelta(days=rng.randrange(1, 3 * 365)),
            shop,
            None,
            names.address(rng, division),
            division,
            True,
            seq,
            False,
        )
        m.planted.append("unregistered")
        em.emit("complaint__12315", complaint_record(c, "", m), None)
    for j in range(int(count * 0.008)):
        division = rng.choices(vocab.DIVISIONS, [d.weight for d in vocab.DIVISIONS])[0]
        id_card = names.id_card_for(extra_base + j, division.code, as_of)
        name = names.person_name(rng, names.is_male(id_card))
        case = evt.make_case(rng, as_of, division, name, id_card, True, "", seq)
        if case is not None:
            m.planted.append("unregistered")
            em.emit("court_dishonest__court", court_row(case, m), None, dup_ok=False)

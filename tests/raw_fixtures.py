"""A small hand-made raw zone for dbt tests, written exactly to the raw-zone contract of
feeds/README.md: ``<raw>/<kind>__<department>/load_date=<ds>/part-0.parquet`` with every
canonical field of the kind as a string, ``_extras`` and the lineage columns.

About twenty registered entities, each chosen to exercise one case of resolution, listing,
override or indicator. :func:`write_raw_fixture` returns the codes it used and the outcomes
the dbt build must produce, so tests assert against the fixture instead of repeating it.
"""

from __future__ import annotations

import copy
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from panorama.build.dbt_runner import PARSE_CACHE_SUBDIR, run_dbt
from panorama.identity.codes import is_valid_uscc, make_regno, make_uscc, uscc_check_char
from panorama.identity.pii import is_resident_id_number
from panorama.ingest.kinds import KINDS
from panorama.settings import PROJECT_ROOT, Settings
from stdnum.cn import ric

# The canonical fields of each kind, from the registry the extractor writes by.
KIND_FIELDS: dict[str, tuple[str, ...]] = {name: tuple(k.field_names) for name, k in KINDS.items()}

LINEAGE_SCHEMA = [
    ("_extras", pa.string()),
    ("_feed", pa.string()),
    ("_source_file", pa.string()),
    ("_source_row", pa.int64()),
    ("_batch_id", pa.string()),
    ("_loaded_at", pa.timestamp("us")),
]

# A natural person's ID-card number: fixture data, never a real person.
PERSON_ID = "37140219800101123X"
LEGAL_REP_ID = "371402197505054321"


def id_number_passing_uscc_check(region: str = "371402", born: date = date(1980, 1, 1)) -> str:
    """The first resident ID number (valid region, birth date and GB 11643 check) born on or
    after ``born`` that also passes the GB 32100 USCC check (about 1 in 3,700 do)."""
    day = born
    while True:
        for seq in range(1000):
            body = f"{region}{day:%Y%m%d}{seq:03d}"
            value = body + ric.calc_check_digit(body + "0")
            if is_resident_id_number(value) and is_valid_uscc(value):
                return value
        day += timedelta(days=1)


# The legal representative of enterprise E18 (after its latest change), on the list too.
COMPANY_REP = "赵六"
COMPANY_REP_ID = "37142419850612123" + ric.calc_check_digit("37142419850612123" + "0")

# The operator of the individual business E12, on the courts' dishonest-debtor list: his ID
# number also passes the USCC check, and must still be taken for a person's.
SHOP_OPERATOR_ID = id_number_passing_uscc_check()
SHOP_OPERATOR = "王小二"


def kind_schema(kind: str) -> pa.Schema:
    fields = [pa.field(name, pa.string()) for name in KIND_FIELDS[kind]]
    return pa.schema(fields + [pa.field(n, t) for n, t in LINEAGE_SCHEMA])


def write_feed(raw_dir: Path, feed: str, ds: str, rows: list[dict[str, str | None]]) -> Path:
    """Write one feed partition (``rows`` hold canonical fields; lineage is added)."""
    kind = feed.split("__", 1)[0]
    schema = kind_schema(kind)
    unknown = {k for r in rows for k in r} - set(KIND_FIELDS[kind])
    if unknown:
        raise ValueError(f"{feed}: fields not in kind {kind}: {sorted(unknown)}")
    source_file = f"{feed}/{ds}/delivery.csv"
    loaded_at = datetime.fromisoformat(ds) + timedelta(hours=2)
    columns: dict[str, list] = {name: [r.get(name) for r in rows] for name in KIND_FIELDS[kind]}
    columns["_extras"] = [None] * len(rows)
    columns["_feed"] = [feed] * len(rows)
    columns["_source_file"] = [source_file] * len(rows)
    columns["_source_row"] = list(range(1, len(rows) + 1))
    columns["_batch_id"] = [f"{feed}:{ds}"] * len(rows)
    columns["_loaded_at"] = [loaded_at] * len(rows)
    out_dir = raw_dir / feed / f"load_date={ds}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "part-0.parquet"
    pq.write_table(pa.table(columns, schema=schema), path)
    return path


def _uscc(kind: str, i: int) -> str:
    return make_uscc("9", kind, "371402", f"3{i:07d}")


def _regno(i: int) -> str:
    return make_regno(f"3714020{i:07d}")


def _bad_check(uscc: str) -> str:
    """The same code with a wrong 18th character (the embedded org code stays valid)."""
    right = uscc_check_char(uscc[:17])
    wrong = "0" if right != "0" else "1"
    return uscc[:17] + wrong


def write_raw_fixture(raw_dir: Path, ds: str = "2026-11-25") -> dict:
    """Write the fixture raw zone under ``raw_dir`` for load date ``ds`` (and the day before).

    Returns ``{"ds", "prev_ds", "uscc": {label: code}, "reg_no", "names",
    "expected_methods": {label: method}, "expected_unresolved": {label: reason},
    "expected_min_grade": {label: grade}}``.
    """
    raw_dir = Path(raw_dir)
    prev_ds = (date.fromisoformat(ds) - timedelta(days=1)).isoformat()
    ent: dict[str, dict[str, str | None]] = {}

    def entity(
        label: str,
        i: int,
        name: str,
        *,
        kind: str = "1",
        etype: str = "有限责任公司",
        industry: str = "F5139",
        est: str = "2015-03-01",
        capital: str | None = "100",
        address: str | None = None,
        legal_rep: str | None = None,
        legal_rep_id: str | None = None,
        reg_no: bool = True,
        status: str = "存续",
    ) -> None:
        ent[label] = {
            "uscc": _uscc(kind, i),
            "reg_no": _regno(i) if reg_no else None,
            "name": name,
            "entity_type": etype,
            "division_code": "371402",
            "industry_code": industry,
            "address": address or f"山东省德州市德城区测试路{i}号",
            "legal_rep": legal_rep or f"法人{i:02d}",
            "legal_rep_id_no": legal_rep_id or f"3714021970010{i:04d}"[:17] + "1",
            "phone": f"1380534{i:04d}",
            "registered_capital": capital,
            "established_date": est,
            "status": status,
            "status_date": est,
        }

    entity("E01", 1, "德州市鲁北食品有限公司", industry="H6210")
    entity("E02", 2, "德州市长河机械有限公司", industry="C3411")
    entity("E03", 3, "德州市新湖商贸有限公司", reg_no=False)
    entity("E04", 4, "德州市运河建材有限公司", industry="C3021")
    entity("E05", 5, "德州市天衢电子有限公司", industry="C3971")
    entity("E06", 6, "德州市黑马物流有限公司", industry="G5430")
    entity("E07", 7, "德州市百货大楼有限公司", industry="F5211")
    entity("E08", 8, "德州市失信示例有限公司", legal_rep="张三", legal_rep_id=LEGAL_REP_ID)
    entity("E09", 9, "德州市移出示例有限公司")
    entity("E10", 10, "德州市异常示例有限公司", address="山东省德州市德城区共享大道8号")
    entity("E11", 11, "德州市已移出异常有限公司")
    entity(
        "E12",
        12,
        "德城区老王烧烤店",
        kind="2",
        etype="个体工商户",
        industry="H6210",
        capital=None,
        reg_no=False,
        legal_rep=SHOP_OPERATOR,
        legal_rep_id=SHOP_OPERATOR_ID,
    )
    entity("E13", 13, "德州市康宁制药有限公司", industry="C2710", est="2026-06-01")
    entity("E14", 14, "德州市过期许可有限公司", industry="F5223")
    entity(
        "E15", 15, "德城区丰收农民专业合作社", kind="3", etype="农民专业合作社", industry="A0111"
    )
    entity("E16", 16, "德州市未年报有限公司", est="2020-05-01")
    entity("E17", 17, "德州市抽查问题有限公司", industry="C1419")
    entity("E18", 18, "德州市频繁变更有限公司", legal_rep=COMPANY_REP, legal_rep_id=COMPANY_REP_ID)
    entity("E19", 19, "德州市关联示例有限公司", legal_rep="张三", legal_rep_id=LEGAL_REP_ID)
    entity("E20", 20, "德州市同址示例有限公司", address="山东省德州市德城区共享大道8号")
    u = {k: v["uscc"] for k, v in ent.items()}
    r = {k: v["reg_no"] for k, v in ent.items()}
    names = {k: v["name"] for k, v in ent.items()}
    unregistered = _uscc("1", 99)
    registration_rows = list(ent.values()) + [
        # a registration row whose USCC fails its check: not an entity, reported unresolved
        {
            **ent["E20"],
            "uscc": _bad_check(_uscc("1", 21)),
            "reg_no": None,
            "name": "德州市坏码登记有限公司",
            "address": "山东省德州市德城区坏码路1号",
        },
        # exact duplicate of E01 in the same delivery
        dict(ent["E01"]),
    ]
    write_feed(raw_dir, "registration__amr", ds, registration_rows)

    write_feed(
        raw_dir,
        "registration_change__amr",
        ds,
        [
            # E03's old registration number known only from the change history; former name
            {
                "uscc": u["E03"],
                "reg_no": _regno(3),
                "change_date": "2019-04-01",
                "change_item": "名称",
                "before_value": "德州市旧湖商贸有限公司",
                "after_value": names["E03"],
            },
            {
                "uscc": u["E18"],
                "change_date": "2026-02-01",
                "change_item": "法定代表人",
                "before_value": "李四",
                "after_value": "王五",
            },
            {
                "uscc": u["E18"],
                "change_date": "2026-08-01",
                "change_item": "法定代表人",
                "before_value": "王五",
                "after_value": "赵六",
            },
            {
                "uscc": u["E18"],
                "change_date": "2026-09-01",
                "change_item": "住所",
                "before_value": "旧址1号",
                "after_value": "新址2号",
            },
            {
                "uscc": u["E18"],
                "change_date": "2021-09-01",
                "change_item": "住所",
                "before_value": "更旧址",
                "after_value": "旧址1号",
            },
        ],
    )

    def penalty(
        wsh: str,
        name: str,
        *,
        uscc: str | None = None,
        reg_no: str | None = None,
        org: str | None = None,
        fine: str | None = "1.5",
        when: str = "2026-03-10",
        cflb: str = "罚款",
    ) -> dict[str, str | None]:
        return {
            "cf_wsh": wsh,
            "cf_xdr_mc": name,
            "cf_xdr_lb": "法人及非法人组织",
            "cf_xdr_shxym": uscc,
            "cf_xdr_gszc": reg_no,
            "cf_xdr_zzjg": org,
            "cf_frdb": "某某",
            "cf_wfxw": "违反食品安全法",
            "cf_sy": "经查……",
            "cf_yj": "《中华人民共和国食品安全法》第一百二十四条",
            "cf_cflb": cflb,
            "cf_nr": f"{cflb}{fine}万元",
            "cf_nr_fk": fine,
            "cf_nr_wfff": None,
            "cf_jdrq": when,
            "cf_yxq": "2029-03-10",
            "cf_gsjzq": "2029-03-10",
            "cf_cfjg": "德州市市场监督管理局",
            "cf_cfjgdm": "11371400MB2856789X",
            "cf_sjly": "德州市市场监督管理局",
            "cf_sjlydm": "11371400MB2856789X",
            "bz": None,
        }

    write_feed(
        raw_dir,
        "penalty__amr",
        prev_ds,
        [
            # older version of the E01 penalty: the later load must win
            penalty("德市监罚〔2026〕1号", names["E01"], uscc=u["E01"], fine="1.0"),
        ],
    )
    write_feed(
        raw_dir,
        "penalty__amr",
        ds,
        [
            penalty("德市监罚〔2026〕1号", names["E01"], uscc=u["E01"], fine="2.0"),
            penalty("德市监罚〔2026〕2号", names["E02"], reg_no=r["E02"]),
            penalty("德市监罚〔2026〕5号", names["E05"], uscc=_bad_check(u["E05"])),
            penalty("德市监罚〔2026〕6号", "德州市完全不同名称有限公司", uscc=_bad_check(u["E06"])),
            penalty("德市监罚〔2026〕9号", "济南市外地有限公司", uscc=unregistered),
            penalty(
                "德市监罚〔2026〕17号",
                names["E17"],
                uscc=u["E17"].lower(),
                fine="3",
                cflb="罚款;责令停产停业",
            ),
        ],
    )
    # the same E01 penalty delivered again by the exchange platform: one event, not two
    write_feed(
        raw_dir,
        "penalty__exchange",
        ds,
        [
            penalty("德市监罚〔2026〕1号", names["E01"], uscc=u["E01"], fine="2.0"),
        ],
    )
    write_feed(raw_dir, "penalty__env_legacy", ds, [])
    # a credit repair ending E17's penalty publicity early (提前停止公示)
    write_feed(
        raw_dir,
        "credit_repair__amr",
        ds,
        [
            {
                "repair_no": "德市监信修〔2026〕1号",
                "name": names["E17"],
                "uscc": u["E17"],
                "decision_no": "德市监罚〔2026〕17号",
                "repair_date": "2026-11-01",
                "repair_org": "德州市市场监督管理局",
                "repair_content": "提前停止公示行政处罚信息",
            }
        ],
    )

    def licence(
        wsh: str,
        name: str,
        *,
        uscc: str | None = None,
        reg_no: str | None = None,
        until: str = "2029-12-31",
    ) -> dict[str, str | None]:
        return {
            "xk_wsh": wsh,
            "xk_xdr_mc": name,
            "xk_xdr_shxym": uscc,
            "xk_xdr_gszc": reg_no,
            "xk_xdr_zzjg": None,
            "xk_frdb": "某某",
            "xk_xkws": "食品经营许可决定书",
            "xk_xklb": "普通",
            "xk_xkzs": "食品经营许可证",
            "xk_xkbh": f"JY{wsh[-3:]}",
            "xk_nr": "预包装食品销售",
            "xk_jdrq": "2021-01-01",
            "xk_yxqz": "2021-01-01",
            "xk_yxqzi": until,
            "xk_xkjg": "德州市市场监督管理局",
            "xk_xkjgdm": "11371400MB2856789X",
            "xk_zt": "有效",
            "xk_sjly": "德州市市场监督管理局",
            "xk_sjlydm": "11371400MB2856789X",
        }

    write_feed(
        raw_dir,
        "licence__amr",
        ds,
        [
            licence("德市监许〔2021〕001", names["E01"], uscc=u["E01"]),
            licence("德市监许〔2021〕003", "德州市旧湖商贸有限公司", reg_no=_regno(3)),
            licence("德市监许〔2021〕014", names["E14"], uscc=u["E14"], until="2025-12-31"),
        ],
    )
    write_feed(raw_dir, "licence__health", ds, [])

    write_feed(
        raw_dir,
        "spot_check__amr",
        ds,
        [
            {
                "task_id": "SC2026-01",
                "task_name": "2026年食品生产企业抽查",
                "check_date": "2026-05-20",
                "uscc": u["E17"],
                "name": names["E17"],
                "check_org": "德州市市场监督管理局",
                "result": "发现问题已责令改正",
                "inspectors": "甲;乙",
            },
            # E17 checked again in the same task, on another date by other inspectors: a
            # second check, not a re-delivery of the first
            {
                "task_id": "SC2026-01",
                "task_name": "2026年食品生产企业抽查",
                "check_date": "2026-06-15",
                "uscc": u["E17"],
                "name": names["E17"],
                "check_org": "德州市市场监督管理局",
                "result": "未发现问题",
                "inspectors": "丙;丁",
            },
            # an exact re-delivery of E17's first check: collapses into it
            {
                "task_id": "SC2026-01",
                "task_name": "2026年食品生产企业抽查",
                "check_date": "2026-05-20",
                "uscc": u["E17"],
                "name": names["E17"],
                "check_org": "德州市市场监督管理局",
                "result": "发现问题已责令改正",
                "inspectors": "甲;乙",
            },
            {
                "task_id": "SC2026-01",
                "task_name": "2026年食品生产企业抽查",
                "check_date": "2026-05-21",
                "uscc": u["E01"],
                "name": names["E01"],
                "check_org": "德州市市场监督管理局",
                "result": "未发现问题",
                "inspectors": "甲;乙",
            },
        ],
    )

    def listing(
        label: str, reason: str, listed: str, removed: str | None = None
    ) -> dict[str, str | None]:
        return {
            "name": names[label],
            "uscc": u[label],
            "reg_no": r[label],
            "list_reason": reason,
            "list_date": listed,
            "list_org": "德州市市场监督管理局",
            "remove_reason": "已改正" if removed else None,
            "remove_date": removed,
            "remove_org": "德州市市场监督管理局" if removed else None,
        }

    # full delivery: the older load lists E20, the latest does not -> E20 is not listed now
    write_feed(
        raw_dir,
        "abnormal_list__amr",
        prev_ds,
        [
            listing("E10", "未按规定报送年度报告", "2026-07-01"),
            listing("E20", "通过登记的住所无法联系", "2026-01-01"),
        ],
    )
    write_feed(
        raw_dir,
        "abnormal_list__amr",
        ds,
        [
            listing("E10", "未按规定报送年度报告", "2026-07-01"),
            listing("E11", "未按规定报送年度报告", "2024-07-01", removed="2025-03-01"),
        ],
    )
    # the shop E12 is marked as being in an abnormal state (individual business: never listed)
    write_feed(
        raw_dir,
        "abnormal_state__amr",
        ds,
        [
            {
                "name": names["E12"],
                "uscc": u["E12"],
                "mark_reason": "未按照规定报送年度报告",
                "mark_date": "2025-08-15",
                "mark_org": "德州市德城区市场监督管理局",
            },
            {
                "name": names["E12"],
                "uscc": u["E12"],
                "mark_reason": "通过登记的经营场所无法联系",
                "mark_date": "2024-03-01",
                "mark_org": "德州市德城区市场监督管理局",
                "restore_reason": "经营场所可以联系，申请恢复正常记载状态",
                "restore_date": "2024-05-10",
                "restore_org": "德州市德城区市场监督管理局",
            },
        ],
    )
    write_feed(
        raw_dir,
        "serious_dishonest__amr",
        ds,
        [
            listing("E08", "被列入经营异常名录届满3年仍未履行相关义务", "2025-08-01"),
            listing("E09", "提交虚假材料取得登记", "2023-01-10", removed="2025-05-01"),
        ],
    )
    write_feed(
        raw_dir,
        "court_dishonest__court",
        ds,
        [
            {
                "case_no": "(2025)鲁1402执1234号",
                "name": names["E04"],
                "id_code": u["E04"][8:17],
                "legal_rep": "某某",
                "court": "德州市德城区人民法院",
                "province": "山东",
                "basis_no": "(2024)鲁1402民初88号",
                "filing_date": "2025-02-01",
                "basis_org": "德州市德城区人民法院",
                "obligation": "支付货款",
                "performance": "全部未履行",
                "behaviour": "有履行能力而拒不履行",
                "publish_date": "2025-06-01",
            },
            {
                "case_no": "(2025)鲁1402执2222号",
                "name": "王某某",
                "id_code": PERSON_ID,
                "legal_rep": None,
                "court": "德州市德城区人民法院",
                "province": "山东",
                "basis_no": "(2024)鲁1402民初99号",
                "filing_date": "2025-02-01",
                "basis_org": "德州市德城区人民法院",
                "obligation": "支付借款",
                "performance": "全部未履行",
                "behaviour": "违反限制消费令",
                "publish_date": "2025-06-01",
            },
            # the operator of the shop E12: linked to E12 by ID number and name
            {
                "case_no": "(2025)鲁1402执3333号",
                "name": SHOP_OPERATOR,
                "id_code": SHOP_OPERATOR_ID,
                "legal_rep": None,
                "court": "德州市德城区人民法院",
                "province": "山东",
                "basis_no": "(2024)鲁1402民初111号",
                "filing_date": "2025-03-01",
                "basis_org": "德州市德城区人民法院",
                "obligation": "支付货款",
                "performance": "全部未履行",
                "behaviour": "违反财产报告制度",
                "publish_date": "2025-07-01",
            },
            # the legal representative of E18
            {
                "case_no": "(2025)鲁1402执4444号",
                "name": COMPANY_REP,
                "id_code": COMPANY_REP_ID,
                "legal_rep": None,
                "court": "德州市德城区人民法院",
                "province": "山东",
                "basis_no": "(2024)鲁1402民初122号",
                "filing_date": "2025-04-01",
                "basis_org": "德州市德城区人民法院",
                "obligation": "支付借款",
                "performance": "部分未履行",
                "behaviour": "违反限制消费令",
                "publish_date": "2025-08-01",
            },
            # E01's legal representative's ID number under another name: not linked
            {
                "case_no": "(2025)鲁1402执5555号",
                "name": "李某某",
                "id_code": ent["E01"]["legal_rep_id_no"],
                "legal_rep": None,
                "court": "德州市德城区人民法院",
                "province": "山东",
                "basis_no": "(2024)鲁1402民初133号",
                "filing_date": "2025-04-01",
                "basis_org": "德州市德城区人民法院",
                "obligation": "支付借款",
                "performance": "全部未履行",
                "behaviour": "违反限制消费令",
                "publish_date": "2025-08-01",
            },
        ],
    )
    write_feed(
        raw_dir,
        "complaint__12315",
        ds,
        [
            {
                "complaint_id": "TS20260001",
                "received_date": "2026-10-01",
                "shop_name": names["E07"],
                "uscc": u["E07"],
                "address": ent["E07"]["address"],
                "division_code": "371402",
                "category": "商品质量",
                "content": "购买的商品有质量问题",
                "complainant_phone": "13900000000",
                "handling_result": "调解成功",
            },
            {
                "complaint_id": "TS20260002",
                "received_date": "2026-10-05",
                "shop_name": "老李烧烤",
                "uscc": None,
                "address": "德州市德城区某夜市",
                "division_code": "371402",
                "category": "食品安全",
                "content": "食物不洁",
                "complainant_phone": "13900000001",
                "handling_result": "已转办",
            },
            {
                "complaint_id": "TS20260003",
                "received_date": "2026-09-05",
                "shop_name": names["E12"],
                "uscc": u["E12"],
                "address": ent["E12"]["address"],
                "division_code": "371402",
                "category": "食品安全",
                "content": "食物不洁",
                "complainant_phone": "13900000002",
                "handling_result": "调解成功",
            },
        ],
    )
    # every entity filed 2023-2025 except E16 (2023 filed, 2024 explicitly not filed, 2025 none)
    reports: list[dict[str, str | None]] = [
        {
            "uscc": u[label],
            "name": names[label],
            "report_year": str(year),
            "filed": "是",
            "filed_date": f"{year + 1}-04-01",
        }
        for label in ent
        if label != "E16"
        for year in (2023, 2024, 2025)
    ]
    reports += [
        {
            "uscc": u["E16"],
            "name": names["E16"],
            "report_year": "2023",
            "filed": "是",
            "filed_date": "2024-05-01",
        },
        {"uscc": u["E16"], "name": names["E16"], "report_year": "2024", "filed": "否"},
        # two unregistered homonym shops known by name only, one year: two reports
        {
            "name": "宁津县兴旺便利店",
            "report_year": "2024",
            "filed": "是",
            "filed_date": "2025-05-02",
        },
        {"name": "宁津县兴旺便利店", "report_year": "2024", "filed": "否"},
    ]
    write_feed(raw_dir, "annual_report__amr", ds, reports)
    model_shop = {"uscc": u["E02"], "name": names["E02"], "title": "放心消费示范店"}
    model_shop |= {"award_date": "2025-03-15", "valid_until": "2028-03-14"}
    write_feed(raw_dir, "model_shop__amr", ds, [model_shop])

    return {
        "ds": ds,
        "prev_ds": prev_ds,
        "uscc": u,
        "reg_no": r,
        "names": names,
        "unregistered_uscc": unregistered,
        "person_id": PERSON_ID,
        "person_ids": [
            PERSON_ID,
            SHOP_OPERATOR_ID,
            COMPANY_REP_ID,
            LEGAL_REP_ID,
            ent["E01"]["legal_rep_id_no"],
        ],
        # distinct records whose old staging keys collided: (kind, label) -> staged rows
        "distinct_pairs": {("spot_check", "E17"): 2},
        "homonym_reports": ("宁津县兴旺便利店", 2024, 2),
        # court debtor links: label -> relationship type; E01's rep ID under another name: none
        "debtor_links": {
            "E12": "operator_court_debtor",
            "E18": "legal_rep_court_debtor",
        },
        "expected_methods": {
            # (record_kind, entity label): resolution_method
            ("penalty", "E01"): "uscc_exact",
            ("penalty", "E02"): "reg_no",
            ("licence", "E03"): "reg_no_history",
            ("court_dishonest", "E04"): "org_code",
            ("penalty", "E05"): "uscc_invalid_name_confirmed",
            ("penalty", "E17"): "uscc_exact",
            ("complaint", "E07"): "uscc_exact",
        },
        "expected_unresolved": {
            "uscc_invalid_name_mismatch": 1,
            "uscc_not_registered": 1,
            "no_identifier": 3,
            "natural_person": 4,
            "registration_without_valid_uscc": 1,
        },
        "expected_grade": {"E04": "D", "E08": "D"},
        "expected_min_grade": {"E10": "C", "E13": "C"},
    }


def write_extra_penalty(raw_dir: Path, ds: str, uscc: str, name: str, decision_no: str) -> Path:
    """A later incremental penalty delivery with one new penalty for an entity."""
    row = {
        "cf_wsh": decision_no,
        "cf_xdr_mc": name,
        "cf_xdr_lb": "法人及非法人组织",
        "cf_xdr_shxym": uscc,
        "cf_cflb": "罚款",
        "cf_nr": "罚款5万元",
        "cf_nr_fk": "5",
        "cf_jdrq": ds,
        "cf_cfjg": "德州市市场监督管理局",
        "cf_sjly": "德州市市场监督管理局",
    }
    return write_feed(Path(raw_dir), "penalty__amr", ds, [row])


FIXTURE_RUN = "run1"
FIXTURE_DB = "fixture.duckdb"
_first_build: dict[str, Any] = {}


# the first build's run folder, in the candidate's folder: a later build that reuses its parse
# runs in a folder of the same name (the parsed sources hold the matcher output's path relative
# to the candidate, as every pipeline run has: ``runs/<id>/resolution`` beside its candidate)
FIXTURE_RUN_DIR = "run_fixture"


def first_build_copy(tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[dict, Path]:
    """The fixture raw zone and a real ``dbt build`` of it at its load date (models, seeds, unit
    and data tests; run id ``run1``), made once per session. Returns what
    :func:`write_raw_fixture` returns and a private folder holding ``raw/`` and
    ``build/fixture.duckdb`` as that build left them."""
    if "data" not in _first_build:
        data = tmp_path_factory.mktemp("fixture_first_build") / "data"
        facts = write_raw_fixture(data / "raw")
        settings = Settings(
            project_root=PROJECT_ROOT,
            data_dir=data,
            feeds_dir=data / "feeds",
            dbt_project_dir=PROJECT_ROOT / "dbt_project",
            expectations_dir=PROJECT_ROOT / "expectations",
        )
        result = run_dbt(
            ["build"],
            settings=settings,
            db_path=settings.build_dir / FIXTURE_DB,
            run_dir=settings.build_dir / FIXTURE_RUN_DIR,
            as_of=facts["ds"],
            run_id=FIXTURE_RUN,
        )
        assert result.success, result.log_tail
        _first_build.update(data=data, facts=facts)
    data = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(_first_build["data"] / "raw", data / "raw")
    (data / "build").mkdir()
    shutil.copyfile(_first_build["data"] / "build" / FIXTURE_DB, data / "build" / FIXTURE_DB)
    # the project's parse, which a later build through run_dbt on this copy reuses
    parse = _first_build["data"] / "build" / PARSE_CACHE_SUBDIR
    if parse.is_dir():
        shutil.copytree(parse, data / "build" / PARSE_CACHE_SUBDIR)
    return copy.deepcopy(_first_build["facts"]), data

"""The credit code service in process (FastAPI's test client) on the shared first publication:
entity pages from the public dataset only, opaque codes, the street ranking and its formula,
QR codes and the A4 sheet, the forms' deliveries, a publication switch, and the probes of the
public face (other codes, SQL-ish input, oversized bodies, path tricks). Every response body
of the module is scanned for grades, scores, ID-card numbers and phone numbers."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import segno
from fastapi.testclient import TestClient
from panorama.serve import publish
from panorama.serve.credit_code import app as app_module
from panorama.serve.credit_code import forms
from panorama.serve.credit_code.dataset import credit_index, open_snapshot
from panorama.settings import Settings
from pipeline_fixtures import Published, published_copy

DEV_KEY = "credit-panorama-development-code-key"
PHONE = "13800001111"
BODIES: list[tuple[str, bytes]] = []


@dataclass
class Served:
    published: Published
    client: TestClient
    settings: Settings


class RecordingClient(TestClient):
    """Keeps every response body for the scan at the end of the module."""

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        BODIES.append((f"{method} {url}", response.content))
        return response


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    mp = pytest.MonkeyPatch()
    published = published_copy(tmp_path_factory, mp, "credit_code")
    app = app_module.create_app(published.settings, public_url="https://xym.example.gov.cn")
    with RecordingClient(app, client=("198.51.100.7", 50000)) as client:
        yield Served(published, client, published.settings)
    mp.undo()


def _public(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.public_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _code_of(settings: Settings, where: str) -> tuple[str, str, str]:
    """(code, uscc, name) of the first public entity matching ``where`` (SQL on pub_entity e)."""
    (row,) = _public(
        settings,
        "select c.credit_code, e.uscc, e.entity_name from public_record.pub_entity e "
        f"join public_record.pub_credit_code c using (uscc) where {where} "
        "order by e.uscc limit 1",
    )
    return row


def test_code_is_a_keyed_hash_not_the_uscc(served: Served) -> None:
    rows = _public(
        served.settings,
        "select uscc, credit_code, code_generation from public_record.pub_credit_code",
    )
    (entities,) = _public(served.settings, "select count(*) from public_record.pub_entity")[0]
    assert len(rows) == entities and len({c for _, c, _ in rows}) == entities
    for uscc, code, generation in rows[:50]:
        assert re.fullmatch(r"[0-9a-f]{20}", code)
        assert uscc.lower() not in code
        expected = hashlib.sha256(f"{DEV_KEY}|{uscc}|{generation}".encode()).hexdigest()[:20]
        assert code == expected  # stable: the same key, USCC and generation give the same code


def test_entity_page_shows_public_facts_and_forms(served: Served) -> None:
    code, uscc, name = _code_of(
        served.settings,
        "exists (select 1 from public_record.pub_penalty p where p.uscc = e.uscc)",
    )
    r = served.client.get(f"/c/{code}")
    assert r.status_code == 200, r.text
    html = r.text
    assert name in html and "行政处罚" in html and "经营异常名录" in html
    assert "严重违法失信名单" in html
    (decision_no,) = _public(
        served.settings,
        "select decision_no from public_record.pub_penalty where uscc = ? limit 1",
        [uscc],
    )[0]
    assert decision_no in html
    assert 'href="tel:12315"' in html
    assert f'action="/c/{code}/complaint"' in html and f'action="/c/{code}/compensation"' in html
    assert uscc not in html.split("<form")[1]  # the forms carry the code, not the USCC
    assert r.headers["x-publication"] == publish.current_manifest(served.settings)["version"]


def test_individual_business_page_url_has_no_uscc(served: Served) -> None:
    code, uscc, _ = _code_of(served.settings, "e.entity_type_name like '%个体%'")
    r = served.client.get(f"/c/{code}")
    assert r.status_code == 200
    assert uscc not in str(r.url) and uscc.lower() not in code
    assert served.client.get(f"/c/{uscc}").status_code == 404
    assert served.client.get(f"/c/{uscc.lower()}").status_code == 404


def test_model_shop_flag(served: Served) -> None:
    shops = _public(
        served.settings,
        "select c.credit_code, m.title from public_record.pub_model_shop m "
        "join public_record.pub_credit_code c using (uscc)",
    )
    assert shops, "the generated population has model shops"
    code, title = shops[0]
    assert title in served.client.get(f"/c/{code}").text
    other, _, _ = _code_of(
        served.settings,
        "e.uscc not in (select uscc from public_record.pub_model_shop)",
    )
    assert "非放心消费示范店" in served.client.get(f"/c/{other}").text


def test_street_ranks_by_the_public_index_with_its_formula(served: Served) -> None:
    ((division, n_active),) = _public(
        served.settings,
        "select division_code, count(*) from public_record.pub_entity "
        "where status in ('存续', '在业') group by 1 order by 2 desc limit 1",
    )
    r = served.client.get(f"/street/{division}")
    assert r.status_code == 200
    assert "信用指数 = 100" in r.text and "不用内部信用风险分类结果" in r.text
    assert f"{n_active} 户在营经营者" in r.text
    indices = [int(x) for x in re.findall(r"</td><td>(\d+)</td></tr>", r.text)]
    assert len(indices) == app_module.STREET_PER_PAGE and indices == sorted(indices, reverse=True)
    # the index from public facts only: a listed or penalised shop ranks below a clean one
    assert credit_index({}) == 100
    assert credit_index({"penalties": 9}) == 60
    assert credit_index({"serious_listed": 1, "abnormal_listed": 1, "penalties": 1}) == 30
    assert credit_index({"model_shop": 1}) == 100
    listed = _public(
        served.settings,
        "select c.credit_code from public_record.pub_serious_dishonest s "
        "join public_record.pub_credit_code c using (uscc) where s.is_listed limit 1",
    )
    if listed:
        page = served.client.get(f"/c/{listed[0][0]}").text
        assert int(re.search(r"<dt>信用指数</dt><dd>(\d+)", page).group(1)) <= 60
    pages = -(-n_active // app_module.STREET_PER_PAGE)
    assert served.client.get(f"/street/{division}?page={pages}").status_code == 200
    assert served.client.get(f"/street/{division}?page={pages + 1}").status_code == 404


def test_qr_codes_and_a4_sheet(served: Served) -> None:
    code, _, _ = _code_of(served.settings, "true")
    svg = served.client.get(f"/c/{code}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    expected = app_module.qr_svg(segno.make(f"https://xym.example.gov.cn/c/{code}", error="m"))
    assert svg.text == expected  # the code encodes the page's public address
    png = served.client.get(f"/c/{code}/qr.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    ((division, n),) = _public(
        served.settings,
        "select division_code, count(*) from public_record.pub_entity "
        "where status in ('存续', '在业') group by 1 order by 2 limit 1",
    )
    sheet = served.client.get(f"/street/{division}/sheet").text
    assert "size:A4" in sheet
    assert sheet.count("<svg") == min(
        n, app_module.SHEET_PER_A4 * app_module.SHEET_PAGES_PER_REQUEST
    )


def _landing_files(settings: Settings) -> set[Path]:
    return {p for p in settings.data_dir.rglob("*") if p.is_file()}


def test_forms_write_12315_deliveries_into_landing_only(served: Served) -> None:
    settings = served.settings
    code, uscc, name = _code_of(settings, "e.division_code is not null")
    before = _landing_files(settings)
    r = served.client.post(
        f"/c/{code}/complaint",
        data={
            "category": "商品质量",
            "content": "买到过期食品，要求退货。",
            "phone": PHONE,
        },
    )
    assert r.status_code == 200, r.text
    reference = re.search(r'id="reference">(\w+)<', r.text).group(1)
    assert PHONE not in r.text
    r = served.client.post(
        f"/c/{code}/compensation",
        data={
            "amount": "128.50",
            "purchase_date": "2026-11-01",
            "content": "商品与宣传不符，申请先行赔付。",
            "phone": "13800002222",
        },
    )
    assert r.status_code == 200, r.text
    new = _landing_files(settings) - before
    folder = settings.landing_dir / "complaint__12315"
    assert len(new) == 2 and all(p.parent == folder and p.suffix == ".jsonl" for p in new)
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(new)]
    spec = json.loads(json.dumps(records))
    by_id = {r["tsbh"]: r for r in spec}
    complaint = by_id[reference]
    assert complaint["btsr_mc"] == name and complaint["btsr_tyshxydm"] == uscc
    assert complaint["tslb"] == "商品质量" and complaint["tsr_lxdh"] == PHONE
    (compensation,) = [r for r in spec if r["tsbh"] != reference]
    assert compensation["tslb"] == forms.COMPENSATION_CATEGORY
    assert "128.50" in compensation["tsnr"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"category": "商品质量", "content": "短"}, "content"),
        ({"category": "'; drop table pub_entity; --", "content": "正常的投诉内容"}, "category"),
        ({"category": "其他", "content": "正常的投诉内容", "phone": "12345"}, "phone"),
        ({"category": "其他", "content": "x" * (forms.CONTENT_MAX + 1)}, "content"),
    ],
)
def test_invalid_forms_are_refused_and_write_nothing(served: Served, data, field) -> None:
    code, _, _ = _code_of(served.settings, "true")
    before = _landing_files(served.settings)
    r = served.client.post(f"/c/{code}/complaint", data=data)
    assert r.status_code == 400 and field in r.text
    assert _landing_files(served.settings) == before


def test_oversized_bodies_and_wrong_types_are_refused(served: Served) -> None:
    code, _, _ = _code_of(served.settings, "true")
    before = _landing_files(served.settings)
    big = {"category": "其他", "content": "内容" * 5000}
    assert served.client.post(f"/c/{code}/complaint", data=big).status_code == 413

    def chunks():
        yield b"category=%E5%85%B6%E4%BB%96&content="
        for _ in range(100):
            yield b"a" * 1024

    r = served.client.post(
        f"/c/{code}/complaint",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413  # streamed without a length: cut at the limit
    r = served.client.post(
        f"/c/{code}/complaint", json={"category": "其他", "content": "内容五个字"}
    )
    assert r.status_code == 400
    assert _landing_files(served.settings) == before


def test_rate_limit_per_client(served: Served) -> None:
    code, _, _ = _code_of(served.settings, "true")
    app = app_module.create_app(served.settings)
    statuses = []
    with TestClient(app, client=("203.0.113.9", 40000)) as client:
        for i in range(forms.PER_CLIENT_LIMIT + 2):
            data = {"category": "其他", "content": f"第{i}次投诉，内容足够长"}
            statuses.append(client.post(f"/c/{code}/complaint", data=data).status_code)
    assert statuses == [200] * forms.PER_CLIENT_LIMIT + [429, 429]
    limiter = forms.RateLimiter()
    for _ in range(forms.PER_CLIENT_LIMIT):
        limiter.take("a", now=0.0)
    with pytest.raises(forms.RateLimited):
        limiter.take("a", now=1.0)
    limiter.take("a", now=forms.PER_CLIENT_WINDOW_S + 1.0)  # the window slides


@pytest.mark.parametrize(
    "path",
    [
        "/c/" + "0" * 20,
        "/c/" + "f" * 19,
        "/c/' or 1=1 --",
        "/c/1%27%20or%20%271%27%3D%271",
        "/c/../../serving/panorama.duckdb",
        "/c/%2e%2e%2f%2e%2e%2fserving%2fpanorama.duckdb",
        "/c/..%2F..%2Fpanorama.duckdb/qr.svg",
        "/street/371402' union select * from risk.fct_risk_grade --",
        "/street/..%2F..%2Fetc%2Fpasswd",
        "/street/999999",
        "/serving/panorama.duckdb",
        "/public.duckdb",
        "/docs",
        "/openapi.json",
        "/street/371402?page=1%20or%201=1",
    ],
)
def test_probes_find_nothing(served: Served, path: str) -> None:
    r = served.client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "duckdb" not in r.text.lower() or "panorama.duckdb" not in r.text


def test_publication_switch_is_served_at_once(served: Served) -> None:
    settings = served.settings
    code, uscc, name = _code_of(settings, "true")
    assert name in served.client.get(f"/c/{code}").text
    candidate = settings.build_dir / "switch.duckdb"
    shutil.copyfile(settings.serving_path, candidate)
    with duckdb.connect(str(candidate)) as con:
        con.execute(
            "update public_record.pub_entity set entity_name = '改名测试商店' where uscc = ?",
            [uscc],
        )
    manifest = publish.current_manifest(settings)
    new = publish.publish(
        settings,
        candidate,
        run_id="switch",
        logical_date=manifest["logical_date"],
        input_manifests=manifest["inputs"],
        audit={"passed": True},
    )
    r = served.client.get(f"/c/{code}")
    assert "改名测试商店" in r.text and r.headers["x-publication"] == new["version"]


def test_record_kinds_follow_the_dataset(tmp_path: Path) -> None:
    """Kinds whose table the dataset lacks are skipped, absent columns left out; a spot-check
    result that found a problem lowers the index."""
    path = tmp_path / "v0001" / "public.duckdb"
    path.parent.mkdir()
    code = "0123456789abcdef0123"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema public_record")
        con.execute(
            "create table public_record.pub_entity as select 'U1' as uscc, '甲店' as entity_name,"
            " '个体工商户' as entity_type_name, '存续' as status, '某路1号' as address,"
            " '371402' as division_code, '德城区' as division_name,"
            " date '2020-01-01' as established_date"
        )
        con.execute(
            f"create table public_record.pub_credit_code as select 'U1' as uscc,"
            f" '{code}' as credit_code, 0 as code_generation"
        )
        con.execute(
            "create table public_record.pub_spot_check_result as select 'U1' as uscc,"
            " '2026年双随机抽查' as task_name, date '2026-06-01' as check_date,"
            " '发现问题已责令改正' as check_result, date '2029-06-01' as publicity_until"
        )
        con.execute(
            "create table public_record.pub_licence as select 'U1' as uscc,"
            " '食品经营许可证' as certificate_name, date '2025-01-01' as decision_date"
        )
    snapshot = open_snapshot(path)
    entity = snapshot.entity(code)
    assert entity is not None and entity.index == 90
    shown = {kind.key: (rows, labels) for kind, rows, labels in entity.records}
    assert set(shown) == {"licence", "spot_check"}
    assert shown["licence"] == ([("2025-01-01", "食品经营许可证")], ["日期", "许可证书名称"])
    assert shown["spot_check"][0][0][-2:] == ("发现问题已责令改正", "2029-06-01")
    assert snapshot.street("371402")[1][0].index == 90


def test_no_response_carries_grades_scores_ids_or_phones(served: Served) -> None:
    """Runs last in the module: every body the module's requests received."""
    settings = served.settings
    assert len(BODIES) > 30
    secrets: set[str] = set()
    for feed, columns in (
        ("registration__amr", ("phone", "legal_rep_id_no")),
        ("court_dishonest__court", ("id_code",)),
        ("complaint__12315", ("complainant_phone",)),
    ):
        for path in (settings.raw_dir / feed).glob("load_date=*/*.parquet"):
            table = pq.read_table(path, columns=list(columns))
            for column in columns:
                secrets |= {v for v in table.column(column).to_pylist() if v and len(v) >= 11}
    assert len(secrets) > 1000
    phones = re.compile(rb"(?<!\d)1[3-9]\d{9}(?!\d)")
    id_numbers = re.compile(rb"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])")
    words = re.compile(
        rb"grade|score|risk_|\xe8\xaf\x84\xe5\x88\x86|\xe9\xa3\x8e\xe9\x99\xa9\xe7\xad\x89\xe7\xba\xa7"
    )
    for what, body in BODIES:
        assert not phones.search(body), what
        assert not id_numbers.search(body), what
        assert not words.search(body.lower()), what
        for secret in secrets:
            assert secret.encode() not in body, what

"""HTML of the consumer pages: mobile first, Chinese text in a CJK font, no scripts."""

from __future__ import annotations

from html import escape

from panorama.serve.credit_code.dataset import INDEX_FORMULA, Entity, StreetShop
from panorama.serve.credit_code.forms import COMPLAINT_CATEGORIES, CONTENT_MAX

HOTLINE = "12315"
STYLE = """
*{box-sizing:border-box}
body{margin:0;font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","PingFang SC",
"Microsoft YaHei",sans-serif;font-size:16px;line-height:1.5;color:#1d2733;background:#f4f6f8}
header{background:#b71c1c;color:#fff;padding:14px 16px}
header h1{font-size:20px;margin:0}
header p{margin:4px 0 0;font-size:14px;opacity:.9}
main{padding:12px;max-width:720px;margin:0 auto}
section{background:#fff;border-radius:8px;padding:12px 14px;margin:0 0 12px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;margin:0 0 8px}
dl{display:grid;grid-template-columns:6em 1fr;gap:4px 8px;margin:0}
dt{color:#5f6b77}dd{margin:0}
.badge{display:inline-block;background:#2e7d32;color:#fff;border-radius:4px;padding:2px 8px;
font-size:14px}
.record{border-top:1px solid #e3e7eb;padding:8px 0}
.record:first-of-type{border-top:0}
.none{color:#5f6b77}
.hotline{display:block;text-align:center;background:#0d47a1;color:#fff;border-radius:8px;
padding:12px;font-size:18px;text-decoration:none}
label{display:block;margin:8px 0 2px}
input,select,textarea{width:100%;font:inherit;padding:8px;border:1px solid #c5ccd3;
border-radius:6px}
button{margin-top:10px;width:100%;font:inherit;padding:10px;border:0;border-radius:6px;
background:#b71c1c;color:#fff}
table{width:100%;border-collapse:collapse}
td,th{padding:6px 4px;border-bottom:1px solid #e3e7eb;text-align:left;vertical-align:top}
th{white-space:nowrap}
footer{color:#5f6b77;font-size:13px;text-align:center;padding:8px 12px 24px}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def page(title: str, body: str, version: str | None = None) -> str:
    foot = f"<footer>数据来源：市场监管公示信息 · 版本 {_e(version)}</footer>" if version else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}{foot}</body></html>"
    )


def home_page(divisions: list[tuple[str, str]], version: str) -> str:
    links = "".join(
        f'<li><a href="/street/{_e(code)}">{_e(name)}</a></li>' for code, name in divisions
    )
    body = (
        "<header><h1>信用码 · 放心消费</h1><p>扫描店铺信用码查看公示信息</p></header>"
        f"<main><section><h2>各区域放心消费推荐</h2><ul>{links}</ul></section></main>"
    )
    return page("信用码", body, version)


def _records(entity: Entity) -> str:
    parts = []
    for kind, rows, labels in entity.records:
        if not rows:
            items = '<p class="none">无</p>'
        else:
            items = "".join(
                '<div class="record"><dl>'
                + "".join(
                    f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>"
                    for label, value in zip(labels, row, strict=True)
                    if value is not None
                )
                + "</dl></div>"
                for row in rows
            )
        parts.append(
            f'<section id="{kind.key}"><h2>{_e(kind.title)}（{len(rows)}）</h2>{items}</section>'
        )
    return "".join(parts)


def _model_shop(entity: Entity) -> str:
    shop = entity.model_shop
    if not shop:
        return '<p class="none">非放心消费示范店</p>'
    until = f"，有效期至 {_e(shop['valid_until'])}" if shop.get("valid_until") else ""
    return (
        f'<p><span class="badge">{_e(shop["title"])}</span></p>'
        f"<p>{_e(shop.get('award_org'))} {_e(shop['award_date'])} 授牌{until}</p>"
    )


def _complaint_form(code: str) -> str:
    options = "".join(f"<option>{_e(c)}</option>" for c in COMPLAINT_CATEGORIES)
    return f"""<section id="complaint"><h2>快速投诉</h2>
<form method="post" action="/c/{_e(code)}/complaint">
<label for="c-category">投诉类别</label><select id="c-category" name="category">{options}</select>
<label for="c-content">投诉内容</label>
<textarea id="c-content" name="content" rows="4" minlength="5" maxlength="{CONTENT_MAX}"
required></textarea>
<label for="c-phone">联系电话（选填，仅用于回访）</label>
<input id="c-phone" name="phone" type="tel" inputmode="numeric" maxlength="13">
<button type="submit">提交投诉</button></form></section>"""


def _compensation_form(code: str) -> str:
    return f"""<section id="compensation"><h2>申请先行赔付</h2>
<form method="post" action="/c/{_e(code)}/compensation">
<label for="p-amount">申请金额（元）</label>
<input id="p-amount" name="amount" inputmode="decimal" required>
<label for="p-date">消费日期</label><input id="p-date" name="purchase_date" type="date" required>
<label for="p-content">事由</label>
<textarea id="p-content" name="content" rows="3" minlength="5" maxlength="{CONTENT_MAX}"
required></textarea>
<label for="p-phone">联系电话</label>
<input id="p-phone" name="phone" type="tel" inputmode="numeric" maxlength="13" required>
<button type="submit">提交申请</button></form></section>"""


def entity_page(entity: Entity, version: str) -> str:
    street = f"/street/{_e(entity.division_code)}"
    body = f"""<header><h1>{_e(entity.name)}</h1><p>信用码 · 市场监管公示信息</p></header><main>
<section id="entity"><h2>登记信息</h2><dl>
<dt>主体类型</dt><dd>{_e(entity.type_name)}</dd>
<dt>登记状态</dt><dd>{_e(entity.status)}</dd>
<dt>住所</dt><dd>{_e(entity.address)}</dd>
<dt>所在区域</dt><dd><a href="{street}">{_e(entity.division_name)}</a></dd>
<dt>成立日期</dt><dd>{_e(entity.established)}</dd>
<dt>信用指数</dt><dd>{entity.index}（<a href="{street}#formula">算法</a>）</dd>
</dl></section>
<section id="model-shop"><h2>放心消费示范店</h2>{_model_shop(entity)}</section>
{_records(entity)}
<section id="hotline">
<a class="hotline" href="tel:{HOTLINE}">拨打 {HOTLINE} 投诉举报热线</a></section>
{_complaint_form(entity.code)}{_compensation_form(entity.code)}</main>"""
    return page(entity.name, body, version)


def sent_page(code: str, reference: str, what: str, version: str) -> str:
    body = f"""<header><h1>已提交</h1><p>{_e(what)}</p></header><main><section id="sent">
<p>您的{_e(what)}已提交，受理编号 <strong id="reference">{_e(reference)}</strong>。</p>
<p>12315 将按规定处理；如需咨询请拨打 <a href="tel:{HOTLINE}">{HOTLINE}</a>。</p>
<p><a href="/c/{_e(code)}">返回</a></p></section></main>"""
    return page("已提交", body, version)


def message_page(title: str, text: str, version: str | None = None) -> str:
    body = (
        f"<header><h1>{_e(title)}</h1></header><main><section><p>{_e(text)}</p>"
        f'<p><a class="hotline" href="tel:{HOTLINE}">拨打 {HOTLINE}</a></p></section></main>'
    )
    return page(title, body, version)


def street_page(
    division: str, name: str, shops: list[StreetShop], page_no: int, per_page: int, version: str
) -> str:
    start = (page_no - 1) * per_page
    rows = "".join(
        f'<tr><td>{start + i + 1}</td><td><a href="/c/{_e(s.code)}">{_e(s.name)}</a>'
        + (' <span class="badge">示范店</span>' if s.model_shop else "")
        + f"<br><small>{_e(s.address)}</small></td><td>{s.index}</td></tr>"
        for i, s in enumerate(shops[start : start + per_page])
    )
    pages = (len(shops) + per_page - 1) // per_page
    nav = " ".join(
        f'<a href="/street/{_e(division)}?page={p}">{p}</a>' if p != page_no else f"<b>{p}</b>"
        for p in range(1, pages + 1)
    )
    body = f"""<header><h1>{_e(name)} · 放心消费推荐</h1>
<p>{len(shops)} 户在营经营者，按公共信用指数排序</p></header><main>
<section><table><thead><tr><th>#</th><th>经营者</th><th>信用指数</th></tr></thead>
<tbody>{rows}</tbody></table><p>{nav}</p>
<p><a href="/street/{_e(division)}/sheet">打印本区域信用码张贴表（A4）</a></p></section>
<section id="formula"><h2>信用指数算法</h2><p>{_e(INDEX_FORMULA)}</p></section></main>"""
    return page(f"{name} 信用指数", body, version)


SHEET_STYLE = """
@page{size:A4;margin:12mm}
body{margin:0;font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif;color:#000}
.sheet{page-break-after:always;break-after:page}
.sheet h1{font-size:16pt;margin:0 0 4mm}
.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:4mm}
.cell{border:1px dashed #888;padding:3mm;text-align:center;height:62mm;overflow:hidden}
.cell svg{width:38mm;height:38mm}
.cell p{margin:1mm 0;font-size:9pt}
"""


def sheet_page(name: str, cells: list[tuple[StreetShop, str]], per_sheet: int) -> str:
    sheets = []
    for first in range(0, len(cells), per_sheet):
        items = "".join(
            f'<div class="cell">{svg}<p><b>{_e(shop.name)}</b></p>'
            f"<p>扫码查看信用信息 · 投诉举报 {HOTLINE}</p></div>"
            for shop, svg in cells[first : first + per_sheet]
        )
        sheets.append(
            f'<div class="sheet"><h1>{_e(name)} 一户一码 信用码张贴表</h1>'
            f'<div class="grid">{items}</div></div>'
        )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{_e(name)} 信用码</title><style>{SHEET_STYLE}</style></head>"
        f"<body>{''.join(sheets)}</body></html>"
    )

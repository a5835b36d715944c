"""The ASGI app of the credit code service (FastAPI). Routes:

``/c/<code>``                       the entity's page (public records, model shop, forms, 12315)
``/c/<code>/qr.svg`` ``qr.png``     its QR code (segno), pointing at the page
``/c/<code>/complaint``             POST: a quick complaint -> a 12315 delivery in landing/
``/c/<code>/compensation``          POST: an application for advance compensation, the same way
``/street/<division>``              the division's shops ranked by the public credit index
``/street/<division>/sheet``        a printable A4 sheet of the division's QR codes
``/healthz``                        the publication being served
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import segno
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from panorama.serve.credit_code import forms, pages
from panorama.serve.credit_code.dataset import NotPublished, PublicStore, Snapshot
from panorama.settings import Settings, get_settings

log = logging.getLogger(__name__)

STREET_PER_PAGE = 50
SHEET_PER_A4 = 12
SHEET_PAGES_PER_REQUEST = 10
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


def _html(body: str, status: int = 200, version: str | None = None) -> HTMLResponse:
    headers = {**SECURITY_HEADERS, "X-Publication": version} if version else SECURITY_HEADERS
    return HTMLResponse(body, status_code=status, headers=headers)


def _not_found(version: str | None = None) -> HTMLResponse:
    return _html(pages.message_page("未找到", "没有这个信用码或区域。", version), 404)


def _qr(code: str, base_url: str) -> segno.QRCode:
    return segno.make(f"{base_url.rstrip('/')}/c/{code}", error="m")


def qr_svg(qr: segno.QRCode, scale: int = 4) -> str:
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode("utf-8")


def _page_no(request: Request, pages_total: int) -> int | None:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or len(raw) > 6:
        return None
    n = int(raw)
    return n if 1 <= n <= max(1, pages_total) else None


async def _read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body, refused over forms.MAX_BODY_BYTES (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > forms.MAX_BODY_BYTES):
        raise _TooLarge
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise forms.FormError("send the form as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > forms.MAX_BODY_BYTES:
            raise _TooLarge
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise forms.FormError("the form is not UTF-8") from None
    return parse_qs(text, keep_blank_values=True, max_num_fields=20)


class _TooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, public_url: str | None = None) -> FastAPI:
    """The app; ``public_url`` is the address the QR codes point at (default: the request's)."""
    settings = settings or get_settings()
    store = PublicStore(settings)
    limiter = forms.RateLimiter()
    writer = forms.LandingWriter(settings)
    app = FastAPI(title="信用码", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.limiter = limiter

    def base_url(request: Request) -> str:
        return public_url or str(request.base_url)

    def qr_cached(snap: Snapshot, key: str, make: Callable[[], Any]) -> Any:
        """Kept only under a configured public URL: one from the request's Host header must
        not be served to everyone."""
        return snap.cached(key, make) if public_url else make()

    @app.exception_handler(NotPublished)
    async def _not_published(request: Request, exc: NotPublished) -> HTMLResponse:
        return _html(pages.message_page("暂无数据", "公示数据尚未发布。"), 503)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        snap = store.current()
        return JSONResponse({"version": snap.version, "entities": len(snap.codes)})

    @app.get("/")
    async def home() -> HTMLResponse:
        snap = store.current()
        return _html(pages.home_page(snap.divisions(), snap.version))

    @app.get("/c/{code}")
    async def entity(code: str) -> HTMLResponse:
        snap = store.current()
        html = snap.cached(f"c:{code}", lambda: _entity_html(snap, code))
        return _html(html, version=snap.version) if html else _not_found(snap.version)

    def _entity_html(snap: Snapshot, code: str) -> str:
        found = snap.entity(code)
        return pages.entity_page(found, snap.version) if found else ""

    @app.get("/c/{code}/qr.svg")
    async def qr_svg_route(code: str, request: Request) -> Response:
        snap = store.current()
        if snap.entity_uscc(code) is None:
            return _not_found(snap.version)
        svg = qr_cached(snap, f"svg:{code}", lambda: qr_svg(_qr(code, base_url(request))))
        return Response(svg, media_type="image/svg+xml", headers=SECURITY_HEADERS)

    @app.get("/c/{code}/qr.png")
    async def qr_png_route(code: str, request: Request) -> Response:
        snap = store.current()
        if snap.entity_uscc(code) is None:
            return _not_found(snap.version)

        def make() -> bytes:
            out = io.BytesIO()
            _qr(code, base_url(request)).save(out, kind="png", scale=8, border=2)
            return out.getvalue()

        return Response(qr_cached(snap, f"png:{code}", make), media_type="image/png")

    async def _submit(code: str, request: Request, what: str) -> HTMLResponse:
        snap = store.current()
        found = snap.entity(code)
        if found is None:
            return _not_found(snap.version)
        now = dt.datetime.now()
        try:
            form = await _read_form(request)
            if what == "complaint":
                fields = forms.complaint_fields(form)
            else:
                fields = forms.compensation_fields(form, now.date())
            limiter.take(request.client.host if request.client else "-")
            record = writer.record(found, *fields, now=now)
            delivery = await run_in_threadpool(writer.write, record, now)
        except _TooLarge:
            return _html(pages.message_page("内容过长", "提交内容过长。", snap.version), 413)
        except forms.FormError as exc:
            return _html(pages.message_page("请检查填写内容", str(exc), snap.version), 400)
        except forms.RateLimited as exc:
            return _html(pages.message_page("提交过于频繁", str(exc), snap.version), 429)
        log.info("credit code form %s accepted: %s", what, delivery.reference)
        label = "投诉" if what == "complaint" else "先行赔付申请"
        return _html(pages.sent_page(code, delivery.reference, label, snap.version))

    @app.post("/c/{code}/complaint")
    async def complaint(code: str, request: Request) -> HTMLResponse:
        return await _submit(code, request, "complaint")

    @app.post("/c/{code}/compensation")
    async def compensation(code: str, request: Request) -> HTMLResponse:
        return await _submit(code, request, "compensation")

    @app.get("/street/{division}")
    async def street(division: str, request: Request) -> HTMLResponse:
        snap = store.current()
        found = snap.street(division)
        if found is None:
            return _not_found(snap.version)
        name, shops = found
        page_no = _page_no(request, -(-len(shops) // STREET_PER_PAGE))
        if page_no is None:
            return _not_found(snap.version)
        return _html(
            snap.cached(
                f"street:{division}:{page_no}",
                lambda: pages.street_page(
                    division, name, shops, page_no, STREET_PER_PAGE, snap.version
                ),
            )
        )

    @app.get("/street/{division}/sheet")
    async def sheet(division: str, request: Request) -> HTMLResponse:
        snap = store.current()
        found = snap.street(division)
        if found is None:
            return _not_found(snap.version)
        name, shops = found
        per_request = SHEET_PER_A4 * SHEET_PAGES_PER_REQUEST
        page_no = _page_no(request, -(-len(shops) // per_request))
        if page_no is None:
            return _not_found(snap.version)
        chosen = shops[(page_no - 1) * per_request : page_no * per_request]
        cells = [(s, qr_svg(_qr(s.code, base_url(request)), scale=3)) for s in chosen]
        return _html(pages.sheet_page(name, cells, SHEET_PER_A4))

    return app

"""The consumer's forms: a quick complaint and an application for advance compensation
(先行赔付). Each accepted form becomes one delivery of the 12315 feed in its own format (a JSON
lines file under ``landing/complaint__12315/``), so the next run extracts it like any other
delivery of that feed.

Limits: a request body over :data:`MAX_BODY_BYTES` is refused before it is parsed; each field
has a length or pattern; a client address may send :data:`PER_CLIENT_LIMIT` forms per
:data:`PER_CLIENT_WINDOW_S` seconds and the service :data:`GLOBAL_LIMIT` per
:data:`GLOBAL_WINDOW_S`. Nothing is written outside the feed's landing folder; the complainant's
phone goes into the delivery only (never into a log line or a response).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from panorama.ingest.feeds import load_feed
from panorama.serve.credit_code.dataset import Entity
from panorama.settings import Settings

FEED = "complaint__12315"
MAX_BODY_BYTES = 8 * 1024
CONTENT_MIN, CONTENT_MAX = 5, 500
PER_CLIENT_LIMIT, PER_CLIENT_WINDOW_S = 5, 600
GLOBAL_LIMIT, GLOBAL_WINDOW_S = 600, 3600
COMPLAINT_CATEGORIES = ("商品质量", "服务质量", "价格收费", "食品安全", "虚假宣传", "其他")
COMPENSATION_CATEGORY = "先行赔付申请"
MAX_COMPENSATION_YUAN = 100_000
PHONE = re.compile(r"1[3-9][0-9]{9}")
AMOUNT = re.compile(r"[0-9]{1,6}(\.[0-9]{1,2})?")


class FormError(ValueError):
    """The form is refused: the message says which field and why (never echoing the value)."""


class RateLimited(RuntimeError):
    pass


@dataclass(frozen=True)
class Delivery:
    reference: str  # the complaint id the consumer is given
    path: Path


def _text(value: str | None) -> str:
    """NFC, control characters out, whitespace runs folded, trimmed."""
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return re.sub(r"\s+", " ", text).strip()


def _one(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    if len(values) != 1:
        raise FormError(f"{name}: give it once")
    return values[0]


def _content(form: dict[str, list[str]]) -> str:
    content = _text(_one(form, "content"))
    if not CONTENT_MIN <= len(content) <= CONTENT_MAX:
        raise FormError(f"content: {CONTENT_MIN} to {CONTENT_MAX} characters")
    return content


def _phone(form: dict[str, list[str]], required: bool) -> str | None:
    phone = _text(_one(form, "phone")).replace(" ", "").replace("-", "")
    if not phone:
        if required:
            raise FormError("phone: required, an 11-digit mobile number")
        return None
    if not PHONE.fullmatch(phone):
        raise FormError("phone: an 11-digit mobile number")
    return phone


def complaint_fields(form: dict[str, list[str]]) -> tuple[str, str, str | None]:
    """(category, content, phone) of a valid quick complaint."""
    category = _text(_one(form, "category"))
    if category not in COMPLAINT_CATEGORIES:
        raise FormError(f"category: one of {', '.join(COMPLAINT_CATEGORIES)}")
    return category, _content(form), _phone(form, required=False)


def compensation_fields(form: dict[str, list[str]], today: dt.date) -> tuple[str, str, str | None]:
    """(category, content, phone) of a valid application for advance compensation."""
    amount = _text(_one(form, "amount"))
    if not AMOUNT.fullmatch(amount) or not 0 < float(amount) <= MAX_COMPENSATION_YUAN:
        raise FormError(f"amount: yuan, more than 0 and at most {MAX_COMPENSATION_YUAN}")
    try:
        bought = dt.date.fromisoformat(_text(_one(form, "purchase_date")))
    except ValueError:
        raise FormError("purchase_date: a date, YYYY-MM-DD") from None
    if not today - dt.timedelta(days=3 * 365) <= bought <= today:
        raise FormError("purchase_date: within the last three years, not in the future")
    content = f"申请先行赔付，金额 {amount} 元，消费日期 {bought.isoformat()}。{_content(form)}"
    return COMPENSATION_CATEGORY, content, _phone(form, required=True)


class RateLimiter:
    """Sliding windows per client address and for the whole service, in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    @staticmethod
    def _trim(times: deque[float], now: float, window: float) -> None:
        while times and times[0] <= now - window:
            times.popleft()

    def take(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._clients) > 10_000:  # forget idle clients
                for key in [k for k, v in self._clients.items() if not v]:
                    del self._clients[key]
            times = self._clients.setdefault(client, deque())
            self._trim(times, now, PER_CLIENT_WINDOW_S)
            self._trim(self._all, now, GLOBAL_WINDOW_S)
            if len(times) >= PER_CLIENT_LIMIT or len(self._all) >= GLOBAL_LIMIT:
                raise RateLimited("too many forms; please call 12315")
            times.append(now)
            self._all.append(now)


class LandingWriter:
    """Writes one 12315-format JSON lines delivery per accepted form into the feed's folder."""

    def __init__(self, settings: Settings) -> None:
        spec = load_feed(settings.feeds_dir / f"{FEED}.yaml")
        self.sources = {c.field: c.source for c in spec.resolved_columns() if c.source}
        self.landing = settings.landing_dir.resolve()
        folder = spec.transport.path.split("/")[0]  # type: ignore[union-attr]
        self.folder = (self.landing / folder).resolve()
        if self.landing not in self.folder.parents:
            raise ValueError(f"feed {FEED}: its landing path leaves the landing zone")

    def record(
        self, entity: Entity, category: str, content: str, phone: str | None, now: dt.datetime
    ) -> dict[str, str | None]:
        reference = f"XYM{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
        canonical = {
            "complaint_id": reference,
            "received_date": now.date().isoformat(),
            "shop_name": entity.name,
            "address": entity.address,
            "division_code": entity.division_code,
            "uscc": entity.uscc,
            "category": category,
            "content": content,
            "complainant_phone": phone,
            "handling_result": None,
        }
        return {self.sources[k]: v for k, v in canonical.items() if k in self.sources}

    def write(self, record: dict[str, str | None], now: dt.datetime) -> Delivery:
        reference = str(record[self.sources["complaint_id"]])
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{FEED}_web_{now:%Y%m%d}_{reference}.jsonl"
        part = self.folder / f".{final.name}.part"  # not matched by the feed's *.jsonl glob
        if final.parent != self.folder or part.parent != self.folder:
            raise ValueError("delivery path leaves the feed's landing folder")
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with open(part, "x", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, final)
        return Delivery(reference, final)

"""A paginated JSON API (the city data-exchange platform and the like).

The base URL and the credential come from the Airflow connection ``conn_id`` (login = user,
password = Bearer token), looked up and parsed by Airflow (``connection.py``): in a task from any
of Airflow's sources, elsewhere from ``AIRFLOW_CONN_<CONN_ID>`` (``http://user:token@host:port``
or the JSON form). The token goes into the ``Authorization`` header only and is never logged or
put in an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from panorama.ingest.connectors import (
    BATCH_ROWS,
    Source,
    SourceBatch,
    TransportError,
    records_to_table,
)
from panorama.ingest.connectors.connection import get_connection, http_base_url
from panorama.ingest.feeds import FeedSpec, HttpTransport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    login: str | None
    token: str | None

    def __repr__(self) -> str:  # keep the token out of reprs and tracebacks
        return f"Endpoint(base_url={self.base_url!r}, login={self.login!r}, token=***)"


def connection_endpoint(conn_id: str) -> Endpoint:
    """Base URL and credential of an Airflow connection (see the module docstring)."""
    conn = get_connection(conn_id)
    return Endpoint(http_base_url(conn), conn.login or None, conn.password or None)


def _dig(doc: object, path: str | None) -> object:
    if not path:
        return doc
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


class HttpSource(Source):
    """All pages of one endpoint, as one source named by the endpoint path."""

    def __init__(self, feed: FeedSpec, endpoint: Endpoint) -> None:
        t = feed.transport
        assert isinstance(t, HttpTransport)
        super().__init__(name=t.endpoint, keyed_records=True)
        self.t = t
        self.feed_name = feed.name
        self.endpoint = endpoint
        self.pages_fetched = 0
        self.retries_used = 0

    def _url(self, page: int) -> str:
        query = urllib.parse.urlencode(
            {self.t.page_param: page, self.t.size_param: self.t.page_size}
        )
        sep = "&" if "?" in self.t.endpoint else "?"
        return f"{self.endpoint.base_url}{self.t.endpoint}{sep}{query}"

    def _get(self, url: str) -> bytes:
        headers = {"Accept": "application/json"}
        if self.endpoint.token:
            headers["Authorization"] = f"Bearer {self.endpoint.token}"
        last = ""
        for attempt in range(self.t.retries + 1):
            if attempt:
                self.retries_used += 1
                time.sleep(self.t.backoff_s * 2 ** (attempt - 1))
            req = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.t.timeout_s) as resp:
                    return resp.read()
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                exc.close()
                if 400 <= exc.code < 500 and exc.code != 429:
                    break
            except TimeoutError:
                last = f"timeout after {self.t.timeout_s}s"
            except (urllib.error.URLError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                last = (
                    f"timeout after {self.t.timeout_s}s"
                    if isinstance(reason, TimeoutError)
                    else f"connection error: {reason}"
                )
            log.warning("feed %s: GET %s: %s (attempt %d)", self.feed_name, url, last, attempt + 1)
        raise TransportError(f"GET {url} failed: {last} (after {attempt + 1} attempt(s))")

    def batches(self) -> Iterator[SourceBatch]:
        digest = hashlib.sha256()
        size = 0
        buf: list[dict] = []
        row = 1
        fetched = 0
        total = None
        for page in range(1, self.t.max_pages + 1):
            url = self._url(page)
            body = self._get(url)
            self.pages_fetched += 1
            digest.update(body)
            size += len(body)
            try:
                doc = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise TransportError(f"GET {url}: response is not JSON ({exc})") from exc
            items = _dig(doc, self.t.items_path)
            if items is None:
                items = []
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise TransportError(f"GET {url}: {self.t.items_path!r} is not a list of objects")
            if self.t.total_path:
                value = _dig(doc, self.t.total_path)
                total = int(value) if value is not None else total
            if not items:
                break
            buf.extend(items)
            fetched += len(items)
            while len(buf) >= BATCH_ROWS:
                yield self._batch(buf[:BATCH_ROWS], row)
                row += BATCH_ROWS
                buf = buf[BATCH_ROWS:]
            if total is not None and fetched >= total:
                break
        if buf:
            yield self._batch(buf, row)
        self.sha256 = digest.hexdigest()
        self.size_bytes = size

    def _batch(self, records: list[dict], first_row: int) -> SourceBatch:
        table = records_to_table(records)
        for name in table.column_names:
            if name not in self.columns:
                self.columns.append(name)
        return SourceBatch(table, first_row, "json")


def http_sources(feed: FeedSpec) -> Iterator[Source]:
    assert isinstance(feed.transport, HttpTransport)
    yield HttpSource(feed, connection_endpoint(feed.transport.conn_id))

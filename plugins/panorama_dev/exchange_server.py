"""A small stand-in for the city data-exchange platform: a real HTTP server on localhost that
serves the records of a JSON-lines file page by page.

``GET /api/v1/penalties?page=<p>&size=<s>`` with ``Authorization: Bearer <token>`` answers
``{"code":0,"data":{"total":N,"page":p,"size":s,"items":[...]}}``. Line offsets are indexed
once; a page is one read of the file, served without re-parsing the records.

Fault injection (for tests), per page number:

- ``faults={2: [500, 500]}``: page 2 answers 500 twice, then normally;
- a float in the list is a delay in seconds before answering (``{3: [5.0]}``: one slow answer);
- a bare int instead of a list answers that status every time (``{4: 404}``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

PATH = "/api/v1/penalties"
MAX_PAGE_SIZE = 10_000


def index_lines(path: Path, chunk_bytes: int = 1 << 24) -> np.ndarray:
    """``[start, stop)`` byte offsets of the non-empty lines, as an (N, 2) int64 array."""
    ends = []
    offset = 0
    with path.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            ends.append(np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + offset + 1)
            offset += len(chunk)
    stops = np.concatenate([*ends, np.zeros(0, np.int64)]).astype(np.int64)
    if not stops.size or stops[-1] != offset:
        stops = np.append(stops, offset)
    starts = np.concatenate([[0], stops[:-1]]).astype(np.int64)
    keep = stops - starts > 1  # blank lines hold only the newline
    return np.stack([starts[keep], stops[keep]], axis=1)


class ExchangeServer:
    def __init__(self, jsonl_path: Path, token: str, host: str, port: int, faults) -> None:
        self.jsonl_path = Path(jsonl_path)
        self.token = token
        self.spans = index_lines(self.jsonl_path)
        self.faults: dict[int, list[int | float] | int] = {
            k: (list(v) if isinstance(v, list | tuple) else v) for k, v in (faults or {}).items()
        }
        self.requests: list[tuple[int | None, int]] = []  # (page, status) in order of answer
        self.hits: list[int] = []  # page numbers in order of arrival
        self._lock = threading.Lock()
        self._file = self.jsonl_path.open("rb")
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def total(self) -> int:
        return len(self.spans)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _next_fault(self, page: int) -> int | float | None:
        with self._lock:
            fault = self.faults.get(page)
            if isinstance(fault, list):
                return fault.pop(0) if fault else None
            return fault

    def _page_body(self, page: int, size: int) -> bytes:
        lo = min((page - 1) * size, self.total)
        hi = min(lo + size, self.total)
        items = b""
        if hi > lo:
            start, stop = int(self.spans[lo, 0]), int(self.spans[hi - 1, 1])
            with self._lock:
                self._file.seek(start)
                chunk = self._file.read(stop - start)
            lines = [ln.strip() for ln in chunk.split(b"\n")]
            items = b",".join(ln for ln in lines if ln)
        head = {"code": 0, "data": {"total": self.total, "page": page, "size": size}}
        prefix = json.dumps(head)[:-2].encode() + b', "items": ['
        return prefix + items + b"]}}"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet; never print headers
                pass

            def _send(self, status: int, body: bytes, page: int | None) -> None:
                with server._lock:
                    server.requests.append((page, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _error(self, status: int, message: str, page: int | None) -> None:
                body = json.dumps({"code": status, "message": message}).encode()
                self._send(status, body, page)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != PATH:
                    return self._error(404, "not found", None)
                if self.headers.get("Authorization") != f"Bearer {server.token}":
                    return self._error(401, "unauthorized", None)
                query = urllib.parse.parse_qs(parts.query)
                try:
                    page = int(query.get("page", ["1"])[0])
                    size = int(query.get("size", ["100"])[0])
                except ValueError:
                    return self._error(400, "page and size must be integers", None)
                if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
                    return self._error(400, f"page >= 1, 1 <= size <= {MAX_PAGE_SIZE}", page)
                with server._lock:
                    server.hits.append(page)
                fault = server._next_fault(page)
                if isinstance(fault, float):
                    time.sleep(fault)
                elif isinstance(fault, int):
                    return self._error(fault, "injected fault", page)
                return self._send(200, server._page_body(page, size), page)

        return Handler

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._file.close()

    def __enter__(self) -> ExchangeServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    jsonl_path: Path,
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: dict[int, list[int | float] | int] | None = None,
) -> ExchangeServer:
    """Start the server in a background thread; ``.url`` is its base URL, ``.stop()`` ends it."""
    return ExchangeServer(Path(jsonl_path), token, host, port, faults)

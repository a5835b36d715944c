"""Load test of the credit code service on loopback: N concurrent clients for S seconds, with
a publication switching half-way; p50/p99 latency and errors.

``panorama bench serve [--clients 200] [--seconds 30]`` runs it on a scratch copy of the
publication in place (PANORAMA_DATA_DIR): the server (``panorama serve``) in its own process,
the clients in this one; the switch is a real ``publish`` of a copy of the served warehouse.
The tests run the same code scaled down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import httpx
from panorama.serve import publish
from panorama.settings import Settings, get_settings

STREET_SHARE = 0.1  # share of requests for a street page; the rest open entity pages
# A client is a person with a phone: between two pages they read (exponential, this mean).
# 0 makes a closed loop of back-to-back requests (a throughput test, not a latency one).
DEFAULT_THINK_MS = 500.0
MAX_REQUESTS = 2_000_000  # a bound on one run, whatever its length


@dataclass
class LoadResult:
    clients: int
    think_ms: float
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests_per_s: float
    versions_seen: list[str] = field(default_factory=list)
    switched_at_s: float | None = None
    error_samples: list[str] = field(default_factory=list)
    reconnects: int = 0  # kept-alive connections the server had closed, opened again

    def to_dict(self) -> dict:
        return asdict(self)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_paths(settings: Settings) -> tuple[list[str], list[str]]:
    """The credit codes and division codes of the public dataset in place."""
    with duckdb.connect(str(settings.public_path), read_only=True) as con:
        sql = "select credit_code from public_record.pub_credit_code"
        codes = [r[0] for r in con.execute(sql).fetchall()]
        divisions = [
            r[0]
            for r in con.execute(
                "select distinct division_code from public_record.pub_entity "
                "where division_code is not null"
            ).fetchall()
        ]
    return codes, divisions


@contextmanager
def running_server(settings: Settings, port: int | None = None) -> Iterator[str]:
    """``panorama serve`` in a child process on this data dir; yields its base URL."""
    port = port or free_port()
    plugins = str(settings.project_root / "plugins")
    env = {
        **os.environ,
        "PANORAMA_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": plugins + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    cmd = [sys.executable, "-m", "panorama", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
                raise RuntimeError(f"the service did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Connection:
    """One keep-alive HTTP/1.1 connection with just enough parsing for GET and a body with a
    Content-Length (what the service answers): light enough that the clients, not the client
    library, are what is measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def get(self, path: str) -> tuple[int, dict[str, str]]:
        """One GET; a kept-alive connection the server closed meanwhile is opened again once
        (as browsers do for an idempotent request) and counted in ``reconnects``."""
        reused = self.writer is not None
        try:
            return await self._get(path)
        except (ConnectionResetError, asyncio.IncompleteReadError) as exc:
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            await self.close()
            self.reconnects += 1
            return await self._get(path)

    async def _get(self, path: str) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _load(
    url: str,
    codes: list[str],
    divisions: list[str],
    clients: int,
    seconds: float,
    switch: Callable[[], None] | None,
    seed: int,
    think_ms: float,
) -> LoadResult:
    address = httpx.URL(url)
    rng = random.Random(seed)
    latencies: list[float] = []
    errors: list[str] = []
    versions: dict[str, None] = {}
    started = time.monotonic()
    # a switch that takes long still gets clients after it: half the run's length at least
    stop_at = [started + seconds]
    pending = [switch is not None]  # clients go on until the switch is done
    switched: list[float] = []
    reconnects: list[int] = []

    def running() -> bool:
        within = time.monotonic() < stop_at[0] or pending[0]
        return within and len(latencies) + len(errors) < MAX_REQUESTS

    async def client(crng: random.Random) -> None:
        conn = _Connection(address.host, address.port or 80)
        try:
            while running():
                if divisions and crng.random() < STREET_SHARE:
                    path = f"/street/{crng.choice(divisions)}"
                else:
                    path = f"/c/{crng.choice(codes)}"
                t0 = time.perf_counter()
                try:
                    status, headers = await conn.get(path)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{path}: {type(exc).__name__}")
                    await conn.close()
                    continue
                elapsed = time.perf_counter() - t0
                if status != 200:
                    errors.append(f"{path}: HTTP {status}")
                    continue
                latencies.append(elapsed)
                if "x-publication" in headers:
                    versions.setdefault(headers["x-publication"], None)
                if think_ms:
                    await asyncio.sleep(crng.expovariate(1000.0 / think_ms))
        finally:
            reconnects.append(conn.reconnects)
            await conn.close()

    async def switcher() -> None:
        if switch is None:
            return
        await asyncio.sleep(seconds / 2)
        await asyncio.get_running_loop().run_in_executor(None, switch)
        switched.append(time.monotonic() - started)
        stop_at[0] = max(stop_at[0], time.monotonic() + seconds / 2)
        pending[0] = False

    await asyncio.gather(switcher(), *(client(random.Random(rng.random())) for _ in range(clients)))
    wall = time.monotonic() - started
    ms = [v * 1000 for v in latencies]
    return LoadResult(
        clients=clients,
        think_ms=think_ms,
        seconds=round(wall, 2),
        requests=len(latencies) + len(errors),
        errors=len(errors),
        p50_ms=round(_percentile(ms, 0.50), 2),
        p99_ms=round(_percentile(ms, 0.99), 2),
        max_ms=round(max(ms, default=0.0), 2),
        requests_per_s=round((len(latencies) + len(errors)) / wall, 1),
        versions_seen=list(versions),
        switched_at_s=round(switched[0], 2) if switched else None,
        error_samples=errors[:5],
        reconnects=sum(reconnects),
    )


def run_load(
    url: str,
    codes: list[str],
    divisions: list[str],
    clients: int,
    seconds: float,
    switch: Callable[[], None] | None = None,
    seed: int = 1,
    think_ms: float = DEFAULT_THINK_MS,
) -> LoadResult:
    """``clients`` concurrent clients for ``seconds`` on ``url``; ``switch`` runs half-way."""
    return asyncio.run(_load(url, codes, divisions, clients, seconds, switch, seed, think_ms))


def republish(settings: Settings, run_id: str) -> Callable[[], None]:
    """A switch: publish a copy of the served warehouse as a new version (the real publish)."""

    def switch() -> None:
        manifest = publish.current_manifest(settings) or {}
        candidate = settings.build_dir / f"{run_id}.candidate.duckdb"
        candidate.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(settings.serving_path, candidate)
        publish.publish(
            settings,
            candidate,
            run_id=run_id,
            logical_date=manifest.get("logical_date", "1970-01-01"),
            input_manifests=manifest.get("inputs", []),
            audit={"passed": True},
        )

    return switch


def scratch_copy(settings: Settings, into: Path) -> Settings:
    """A data dir holding a copy of the version in place only, served through ``current``."""
    manifest = publish.current_manifest(settings)
    if manifest is None:
        raise SystemExit("nothing is published: run `make run` first")
    source = publish.versions_dir(settings) / manifest["version"]
    target_versions = into / "serving" / "versions"
    target_versions.mkdir(parents=True)
    shutil.copytree(source, target_versions / manifest["version"])
    os.environ["PANORAMA_DATA_DIR"] = str(into)
    scratch = get_settings()
    publish.rollback(scratch, manifest["version"])
    return scratch


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="panorama bench serve", description=__doc__)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--think-ms", type=float, default=DEFAULT_THINK_MS, help="0: closed loop")
    p.add_argument("--no-switch", action="store_true", help="no publication mid-run")
    args = p.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    settings = get_settings()
    previous = os.environ.get("PANORAMA_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        try:
            scratch = scratch_copy(settings, Path(tmp) / "data")
            codes, divisions = served_paths(scratch)
            switch = None if args.no_switch else republish(scratch, "bench-switch")
            with running_server(scratch) as url:
                result = run_load(
                    url, codes, divisions, args.clients, args.seconds, switch, 1, args.think_ms
                )
        finally:
            if previous is None:
                os.environ.pop("PANORAMA_DATA_DIR", None)
            else:
                os.environ["PANORAMA_DATA_DIR"] = previous
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))

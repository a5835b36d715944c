"""Run a set of long-lived processes as one unit, and stop them as one.

Each component (for the local Airflow: api-server, scheduler, dag-processor, triggerer) is a
child in its own process group, its output copied to ``<log_dir>/<name>.log`` (and, when asked,
to the console with the component's name in front). Every child is started with a marker
variable in its environment, which its own children (executor workers, task runners) inherit:
the stack's members are the processes in the children's groups or carrying the marker, wherever
they were re-parented.

When a component exits on its own the supervisor does not restart it: a component that dies
(a scheduler crash on a metadata error, say) would die again, and a UI that schedules nothing
is worse than a stopped stack. :meth:`Supervisor.watch` returns the dead one; the caller
reports it (:meth:`Supervisor.report`) and stops the rest. :meth:`Supervisor.stop` sends
SIGTERM to every member, SIGKILL to those still there after the grace period, and returns only
when no member is left.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

MARKER_ENV = "PANORAMA_STACK_ID"


@dataclass
class Component:
    """One supervised process: its name and command line."""

    name: str
    argv: Sequence[str]
    proc: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=200), repr=False)
    _copier: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid


@dataclass(frozen=True)
class Exited:
    """A component that exited on its own."""

    name: str
    pid: int
    returncode: int

    def describe(self) -> str:
        code = self.returncode
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        return f"{self.name} (pid {self.pid}) exited: {how}"


class Supervisor:
    def __init__(
        self,
        components: Sequence[Component],
        env: dict[str, str],
        log_dir: Path,
        grace: float = 20.0,
        echo: IO[str] | None = None,
    ) -> None:
        self.components = list(components)
        self.stack_id = secrets.token_hex(8)
        self.env = {**env, MARKER_ENV: self.stack_id}
        self.log_dir = Path(log_dir)
        self.grace = grace
        self.echo = echo
        self._echo_lock = threading.Lock()

    # -- start -------------------------------------------------------------------------------

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for c in self.components:
            c.log_path = self.log_dir / f"{c.name}.log"
            c.proc = subprocess.Popen(
                list(c.argv),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach its children
            )
            c._copier = threading.Thread(target=self._copy_output, args=(c,), daemon=True)
            c._copier.start()

    def _copy_output(self, c: Component) -> None:
        assert c.proc is not None and c.proc.stdout is not None and c.log_path is not None
        with c.log_path.open("ab") as log:
            for line in c.proc.stdout:
                log.write(line)
                log.flush()
                text = line.decode("utf-8", errors="replace").rstrip()
                c.tail.append(text)
                if self.echo is not None:
                    with self._echo_lock:
                        print(f"{c.name:<13}| {text}", file=self.echo, flush=True)

    # -- watch -------------------------------------------------------------------------------

    def poll(self) -> Exited | None:
        """The first component found to have exited, or None while all run."""
        for c in self.components:
            if c.proc is not None and (code := c.proc.poll()) is not None:
                return Exited(c.name, c.pid, code)
        return None

    def watch(self, stop: Callable[[], bool], interval: float = 0.5) -> Exited | None:
        """Wait until a component exits (returned) or ``stop()`` is true (None)."""
        while not stop():
            if (exited := self.poll()) is not None:
                return exited
            time.sleep(interval)
        return None

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    def report(self, exited: Exited, lines: int = 30, out: IO[str] | None = None) -> str:
        """Which component exited, how, and the tail of its output; printed and returned."""
        c = self.component(exited.name)
        if c._copier is not None:
            c._copier.join(timeout=2)  # let the last lines reach the log
        tail = list(c.tail)[-lines:]
        text = "\n".join(
            [
                f"{exited.describe()}; stopping the other components.",
                f"last {len(tail)} lines of {c.log_path}:",
                *(f"  {line}" for line in tail),
            ]
        )
        print(text, file=out or sys.stderr, flush=True)
        return text

    # -- stop --------------------------------------------------------------------------------

    def members(self) -> list[psutil.Process]:
        """Every live process of the stack: in a component's process group, or carrying the
        stack's marker in its environment (a grandchild that left the group)."""
        groups = {c.proc.pid for c in self.components if c.proc is not None}
        found = []
        for p in psutil.process_iter(["pid"]):
            if p.pid == os.getpid():
                continue
            try:
                if os.getpgid(p.pid) in groups or self._has_marker(p):
                    if p.status() != psutil.STATUS_ZOMBIE:
                        found.append(p)
            except (psutil.Error, ProcessLookupError, PermissionError):
                continue
        return found

    def _has_marker(self, p: psutil.Process) -> bool:
        try:
            return p.environ().get(MARKER_ENV) == self.stack_id
        except (psutil.AccessDenied, psutil.ZombieProcess):
            return False

    def stop(self, grace: float | None = None) -> list[str]:
        """SIGTERM every member, SIGKILL what is left after ``grace`` seconds; returns when no
        member is left. Returns the names of the components that had to be killed."""
        grace = self.grace if grace is None else grace
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.members() and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.2)
        killed = [c.name for c in self.components if c.proc is not None and c.proc.poll() is None]
        while left := self.members():
            self._signal_all(signal.SIGKILL, left)
            self._reap()
            time.sleep(0.1)
        self._reap(wait=True)
        return killed

    def _signal_all(self, sig: int, members: list[psutil.Process] | None = None) -> None:
        for c in self.components:
            if c.proc is not None:
                try:
                    os.killpg(c.proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        for p in members if members is not None else self.members():
            try:
                p.send_signal(sig)
            except psutil.Error:
                pass

    def _reap(self, wait: bool = False) -> None:
        for c in self.components:
            if c.proc is not None:
                if wait:
                    c.proc.wait()
                else:
                    c.proc.poll()
            if wait and c._copier is not None:
                c._copier.join(timeout=5)

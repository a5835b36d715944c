"""A pipeline stage run in its own process group, and killed with SIGKILL, children included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline_fixtures import subprocess_env


def start(code: str, log: Path, pipe_stdout: bool = False) -> subprocess.Popen:
    """``python -c code`` in a new session (its own process group), output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code],
            env=subprocess_env(),
            start_new_session=True,
            stdout=subprocess.PIPE if pipe_stdout else out,
            stderr=out if pipe_stdout else subprocess.STDOUT,
        )


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the whole group and wait until none of it is left."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not group_members(proc.pid), "processes of the killed stage survived"


def wait_for(
    condition: Callable[[], bool],
    proc: subprocess.Popen,
    log: Path,
    what: str,
    timeout: float = 300,
) -> None:
    """Wait until ``condition()``; fail if the stage ends first or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(
                f"stage ended (exit {proc.returncode}) before {what}:\n"
                + log.read_text(errors="replace")[-3000:]
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def dbt_child_running(proc: subprocess.Popen) -> bool:
    return len(group_members(proc.pid)) >= 2

"""The process supervisor behind ``panorama airflow``, on small real processes: a component that
exits is reported with its last lines; stop() escalates to SIGKILL for what ignores SIGTERM,
including a grandchild that left the component's process group. (The Airflow components
themselves are stopped and killed in tests/test_scheduler.py.)"""

from __future__ import annotations

import io
import sys
import time

import pytest
from panorama_dev.supervisor import Component, Exited, Supervisor

PY = sys.executable
IGNORE_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
# A grandchild in a session of its own (out of the component's process group) that ignores
# SIGTERM, then the component itself waits.
ESCAPE = (
    "import os, subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', "
    f"{IGNORE_TERM + 'print(1, flush=True); time.sleep(120)'!r}], start_new_session=True); "
    "print('spawned', flush=True); time.sleep(120)"
)


def supervisor(tmp_path, *components: tuple[str, str], grace: float = 1.0) -> Supervisor:
    return Supervisor(
        [Component(name, [PY, "-c", code]) for name, code in components],
        env={"PATH": "/usr/bin:/bin"},
        log_dir=tmp_path / "logs",
        grace=grace,
    )


def wait_for(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_exited_component_is_reported_with_its_last_lines(tmp_path):
    sup = supervisor(
        tmp_path,
        ("steady", "import time; time.sleep(120)"),
        ("crashing", "print('loading'); print('boom: integrity error'); raise SystemExit(3)"),
    )
    sup.start()
    try:
        exited = sup.watch(stop=lambda: False, interval=0.1)
        assert exited == Exited("crashing", sup.component("crashing").pid, 3)
        out = io.StringIO()
        text = sup.report(exited, out=out)
        assert f"crashing (pid {exited.pid}) exited: exit code 3" in text
        assert "boom: integrity error" in text and out.getvalue().strip() == text
        assert "boom: integrity error" in (tmp_path / "logs" / "crashing.log").read_text()
    finally:
        sup.stop()
    assert sup.members() == []


def test_stop_kills_what_ignores_sigterm_and_returns_when_none_is_left(tmp_path):
    sup = supervisor(
        tmp_path,
        ("polite", "import time; time.sleep(120)"),
        ("stubborn", IGNORE_TERM + "print('up', flush=True); time.sleep(120)"),
        ("escaping", ESCAPE),
        grace=1.0,
    )
    sup.start()
    wait_for(lambda: len(sup.members()) == 4)  # three components and the grandchild
    wait_for(lambda: "up" in sup.component("stubborn").tail)
    started = time.monotonic()
    killed = sup.stop()
    assert sup.members() == []
    assert set(killed) == {"stubborn"}  # the grandchild is not a component; it went too
    assert 1.0 <= time.monotonic() - started < 15
    assert sup.poll() == Exited("polite", sup.component("polite").pid, -15)


@pytest.mark.parametrize("code", [0, -9])
def test_describe(code):
    assert Exited("scheduler", 7, code).describe() == (
        "scheduler (pid 7) exited: exit code 0"
        if code == 0
        else "scheduler (pid 7) exited: killed by SIGKILL"
    )

"""A second run of the session's first publication, after a run killed mid-build.

Built once per test session on its own copy of the first publication (tests/pipeline_fixtures.py)
and shared: the recovery tests (tests/test_interrupted.py) need a run killed while dbt writes its
candidate and a next run that publishes without a manual step; the determinism tests
(tests/test_determinism.py) need a second run over the same deliveries and logical date. One
run serves both: the run after the kill extracts the same deliveries again under a new run id,
builds, audits and publishes, and is compared with the first. Its audit is also the gate's
control case (tests/test_gate.py): a whole uncorrupted build, compared with the first
publication, passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import stage_processes
from panorama import pipeline
from panorama.serve import publish
from pipeline_fixtures import (
    DS,
    Published,
    assert_complete_publication,
    published_copy,
    serving_digests,
)

SECOND_RUN = "second"
KILLED_RUN = "killed-build"
_MODEL_DONE = re.compile(r" (\d+) of (\d+) OK created ")

_second: dict[str, SecondRun] = {}


@dataclass(frozen=True)
class KilledBuild:
    """What a build stage killed while dbt wrote its candidate left behind."""

    returncode: int
    models_built: list[tuple[int, int]]  # (i, n) of each "i of n OK created" line dbt logged
    dbt_was_running: bool
    serving_before: dict[str, str]
    serving_after: dict[str, str]
    served_before: dict[str, Any]
    served_after: dict[str, Any]


@dataclass(frozen=True)
class SecondRun:
    published: Published
    first: dict[str, Any]  # manifest of the first publication
    killed: KilledBuild
    audit: dict[str, Any]  # what the audit of the run after the kill returned (it passed)
    serving_around_audit: tuple[dict[str, str], dict[str, str]]  # digests before, after it
    second: dict[str, Any]  # manifest of the run after the kill


def _kill_mid_build(published: Published, tmp: Any) -> KilledBuild:
    """``pipeline.build`` of a run in its own process, killed with its dbt child once dbt has
    written some of the run's models to the candidate and not all."""
    settings = published.settings
    pipeline.build_identity(DS, KILLED_RUN, settings)
    pipeline.resolve(DS, KILLED_RUN, settings)
    serving_before = serving_digests(settings)
    served_before = assert_complete_publication(settings)
    dbt_log = pipeline.run_dir(settings, KILLED_RUN) / "dbt_logs" / "dbt.log"
    offset = dbt_log.stat().st_size
    log = tmp / "build.log"
    proc = stage_processes.start(
        f"from panorama import pipeline; pipeline.build({DS!r}, {KILLED_RUN!r})", log
    )

    def models_built() -> list[tuple[int, int]]:
        with dbt_log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", errors="replace")
        return [(int(i), int(n)) for i, n in _MODEL_DONE.findall(text)]

    stage_processes.wait_for(
        lambda: len(models_built()) >= 8, proc, log, "dbt wrote models to the candidate"
    )
    running = stage_processes.dbt_child_running(proc)
    stage_processes.kill_group(proc)
    return KilledBuild(
        returncode=proc.returncode,
        models_built=models_built(),
        dbt_was_running=running,
        serving_before=serving_before,
        serving_after=serving_digests(settings),
        served_before=served_before,
        served_after=assert_complete_publication(settings),
    )


def second_run(tmp_path_factory: pytest.TempPathFactory) -> SecondRun:
    """The session's second run (see the module's doc), made on first use."""
    if "run" not in _second:
        from panorama_dev import local_platform

        mp = pytest.MonkeyPatch()
        try:
            published = published_copy(tmp_path_factory, mp, "second_run")
            settings = published.settings
            first = publish.current_manifest(settings)
            killed = _kill_mid_build(published, tmp_path_factory.mktemp("killed_build"))
            manifests = local_platform.extract_all(settings, DS, SECOND_RUN)
            pipeline.build_all(DS, SECOND_RUN, settings)
            before = serving_digests(settings)
            audit = pipeline.audit(DS, SECOND_RUN, settings)
            around = (before, serving_digests(settings))
            second = pipeline.publish(DS, SECOND_RUN, manifests, settings)
        finally:
            mp.undo()
        _second["run"] = SecondRun(published, first, killed, audit, around, second)
    return _second["run"]

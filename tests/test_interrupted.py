"""A run killed mid-build or mid-publish leaves readers a whole publication, and the next run
recovers on its own.

Each stage runs in its own process group (``python -c`` calling the stage, the environment of
this test) and is killed with SIGKILL, dbt children included, at a point inside the stage. After
each kill the serving files must open read-only and hold one complete publication, and the next
run (a fresh run id, the same stages in this process) must publish without manual steps. The
run killed mid-build and the run after it are the session's second run (tests/rerun_fixtures.py,
shared with the determinism tests).
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
import stage_processes
from panorama import pipeline, warehouse
from panorama.gate.audit import fingerprint
from panorama.serve import publish
from pipeline_fixtures import (
    DS,
    Published,
    assert_complete_publication,
    published_copy,
    serving_digests,
)
from rerun_fixtures import SECOND_RUN, second_run

pytestmark = pytest.mark.slow

KEEP_VERSIONS = 3  # low, so that publications also prune while they may be killed
KILL_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Published:
    mp = pytest.MonkeyPatch()
    mp.setenv("PANORAMA_KEEP_VERSIONS", str(KEEP_VERSIONS))
    yield published_copy(tmp_path_factory, mp, "interrupted")
    mp.undo()


# ---------------------------------------------------------------------------------- runs


def _audited_candidate(published: Published, run_id: str) -> None:
    """A run dir holding an audited candidate: the served file and the audit it passed, its
    grades stamped with this run's id as a build stamps them (so versions differ)."""
    settings = published.settings
    served = publish.current_manifest(settings)
    audit = pipeline.run_dir(settings, served["run_id"]) / "audit.json"
    assert json.loads(audit.read_text(encoding="utf-8"))["passed"] is True
    rdir = pipeline.run_dir(settings, run_id)
    rdir.mkdir(parents=True)
    candidate = pipeline.candidate_path(settings, run_id)
    shutil.copyfile(settings.serving_path, candidate)
    with warehouse.connect(candidate, read_only=False) as con:
        con.execute("update risk.fct_risk_grade set run_id = ?", [run_id])
    report = json.loads(audit.read_text(encoding="utf-8"))
    report["candidate"] = fingerprint(candidate)  # the audit passed by this very file
    (rdir / "audit.json").write_text(json.dumps(report), encoding="utf-8")


def _inputs_file(published: Published, folder: Path) -> Path:
    """The load manifests, for a stage run in a subprocess."""
    path = folder / "inputs.json"
    path.write_text(json.dumps(published.input_manifests), encoding="utf-8")
    return path


def _publish_code(run_id: str, inputs: Path) -> str:
    """The serving half of the publish stage (what swaps files), announcing its start."""
    return (
        "import json, pathlib\n"
        "from panorama import pipeline\n"
        "from panorama.serve import publish\n"
        "from panorama.settings import get_settings\n"
        "s = get_settings()\n"
        f"rdir = pipeline.run_dir(s, {run_id!r})\n"
        "audit = json.loads((rdir / 'audit.json').read_text(encoding='utf-8'))\n"
        f"inputs = json.loads(pathlib.Path({str(inputs)!r}).read_text(encoding='utf-8'))\n"
        "print('start', flush=True)\n"
        f"publish.publish(s, pipeline.candidate_path(s, {run_id!r}), run_id={run_id!r},\n"
        f"    logical_date={DS!r}, input_manifests=inputs, audit=audit)\n"
    )


def _assert_versions_whole(published: Published, keep: int = KEEP_VERSIONS) -> None:
    """Nothing half-made is left once a publication has gone through."""
    settings = published.settings
    assert not list(settings.serving_dir.glob(".*.incoming"))
    versions = publish.list_versions(settings)
    assert 1 <= len(versions) <= keep
    for v in versions:
        assert (v.path / "panorama.duckdb").exists() and (v.path / "public.duckdb").exists()
    on_disk = {p.name for p in publish.versions_dir(settings).iterdir()}
    assert on_disk == {v.name for v in versions}, f"incomplete versions left: {on_disk}"


def _assert_retry_refused(published: Published, run_id: str) -> None:
    """Publishing again a run whose candidate an interrupted publication took away (what
    clearing the Airflow task does) is refused and changes nothing: there is nothing audited
    left to publish."""
    settings = published.settings
    before = serving_digests(settings)
    with pytest.raises(RuntimeError, match="refusing to publish"):
        pipeline.publish(DS, run_id, published.input_manifests, settings)
    assert not pipeline.candidate_path(settings, run_id).exists()
    assert serving_digests(settings) == before


# ---------------------------------------------------------------------------------- tests


def test_kill_mid_build_then_next_run_publishes(tmp_path_factory):
    """``pipeline.build`` killed while dbt writes the candidate (tests/rerun_fixtures.py): what
    is served did not move, and the next run, a fresh run id, published on its own."""
    run = second_run(tmp_path_factory)
    killed, settings = run.killed, run.published.settings
    assert killed.returncode == -signal.SIGKILL
    assert killed.dbt_was_running, "dbt had already exited"
    done = killed.models_built
    assert len(done) >= 8 and len(done) < done[0][1], f"the build had finished: {len(done)} models"
    assert killed.serving_after == killed.serving_before
    assert killed.served_after == killed.served_before

    manifest = run.second
    assert manifest["run_id"] == SECOND_RUN != killed.served_before["run_id"]
    assert assert_complete_publication(settings)["version"] == manifest["version"]
    _assert_versions_whole(run.published, keep=settings.keep_versions)


def test_kill_mid_publish_then_next_run_publishes(published, tmp_path):
    settings = published.settings
    inputs = _inputs_file(published, tmp_path)

    def run(run_id: str, kill_after: float | None) -> float:
        """Publish ``run_id`` in a subprocess; kill it ``kill_after`` s after it starts."""
        _audited_candidate(published, run_id)
        log = tmp_path / f"{run_id}.log"
        proc = stage_processes.start(_publish_code(run_id, inputs), log, pipe_stdout=True)
        assert proc.stdout.readline().strip() == b"start", log.read_text(errors="replace")
        started = time.monotonic()
        if kill_after is None:
            assert proc.wait(timeout=120) == 0, log.read_text(errors="replace")
            return time.monotonic() - started
        time.sleep(kill_after)
        stage_processes.kill_group(proc)
        return time.monotonic() - started

    # one whole publication first: how long the stage takes here
    duration = run("publish-measured", None)
    assert publish.current_manifest(settings)["run_id"] == "publish-measured"

    outcomes = []
    for i, fraction in enumerate(KILL_FRACTIONS):
        killed = f"publish-killed-{i}"
        served_before = publish.current_manifest(settings)
        seq_before = max(v.seq for v in publish.list_versions(settings))
        run(killed, fraction * duration)

        served = assert_complete_publication(settings)
        assert served["run_id"] in (served_before["run_id"], killed)
        started_version = any(
            p.name.startswith(f"v{seq_before + 1:04d}_")
            for p in publish.versions_dir(settings).iterdir()
        )
        outcomes.append((fraction, started_version, served["run_id"] == killed))
        if not pipeline.candidate_path(settings, killed).exists():
            _assert_retry_refused(published, killed)

        recovered = f"publish-after-kill-{i}"
        _audited_candidate(published, recovered)
        manifest = publish.publish(
            settings,
            pipeline.candidate_path(settings, recovered),
            run_id=recovered,
            logical_date=DS,
            input_manifests=published.input_manifests,
            audit=json.loads(
                (pipeline.run_dir(settings, recovered) / "audit.json").read_text(encoding="utf-8")
            ),
        )
        assert assert_complete_publication(settings)["version"] == manifest["version"]
        assert manifest["run_id"] == recovered
        _assert_versions_whole(published)

    print(f"publish took {duration:.2f}s; (fraction, began a version, served):", outcomes)
    # the kills landed inside the stage: several after it had begun staging a version
    assert sum(started for _, started, _ in outcomes) >= 3, outcomes


def test_kill_publish_during_docs_then_next_run_publishes(published, tmp_path):
    """The whole publish stage (``pipeline.publish``), killed while its dbt docs step runs."""
    settings = published.settings
    run_id = "publish-killed-docs"
    _audited_candidate(published, run_id)
    before = serving_digests(settings)
    inputs = _inputs_file(published, tmp_path)
    log = tmp_path / "publish-docs.log"
    code = (
        "import json, pathlib\n"
        "from panorama import pipeline\n"
        f"inputs = json.loads(pathlib.Path({str(inputs)!r}).read_text(encoding='utf-8'))\n"
        f"pipeline.publish({DS!r}, {run_id!r}, inputs)\n"
    )
    proc = stage_processes.start(code, log)
    stage_processes.wait_for(
        lambda: stage_processes.dbt_child_running(proc), proc, log, "dbt docs started"
    )
    time.sleep(1.0)
    assert stage_processes.dbt_child_running(proc), "dbt docs had already finished"
    stage_processes.kill_group(proc)

    assert serving_digests(settings) == before
    assert_complete_publication(settings)

    recovered = "publish-after-docs-kill"
    _audited_candidate(published, recovered)
    manifest = pipeline.publish(DS, recovered, published.input_manifests, settings)
    assert assert_complete_publication(settings)["version"] == manifest["version"]
    assert manifest["run_id"] == recovered
    version = publish.versions_dir(settings) / manifest["version"]
    assert (version / "docs" / "operator" / "index.html").exists()
    _assert_versions_whole(published)


def test_kill_right_after_the_switch_leaves_the_new_publication(published, tmp_path):
    settings = published.settings
    run_id = "publish-killed-in-swap"
    _audited_candidate(published, run_id)
    inputs = _inputs_file(published, tmp_path)
    # the kill comes from inside, right after the one rename that switches what readers see
    code = (
        "import os, signal\n"
        "from panorama.settings import get_settings\n"
        "_replace = os.replace\n"
        "def replace(src, dst):\n"
        "    _replace(src, dst)\n"
        "    if str(dst) == str(get_settings().serving_dir / 'current'):\n"
        "        os.killpg(os.getpgid(0), signal.SIGKILL)\n"
        "os.replace = replace\n" + _publish_code(run_id, inputs)
    )
    log = tmp_path / "swap.log"
    proc = stage_processes.start(code, log, pipe_stdout=True)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, log.read_text(errors="replace")
    try:
        assert assert_complete_publication(settings)["run_id"] == run_id
    finally:
        # the next publication puts everything back together
        recovered = "publish-after-swap-kill"
        _audited_candidate(published, recovered)
        publish.publish(
            settings,
            pipeline.candidate_path(settings, recovered),
            run_id=recovered,
            logical_date=DS,
            input_manifests=published.input_manifests,
            audit={"passed": True},
        )
        assert assert_complete_publication(settings)["run_id"] == recovered

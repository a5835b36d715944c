"""A real first publication on a small generated population, shared by the pipeline tests.

The first version is built once per test session through every stage (generate -> extract_all
-> build_identity -> resolve -> build -> audit -> publish) into a scratch data dir; each test
module then works on its own copy of that data dir, so modules never see each other's runs.
It is the one generated population of the suite: the gate, recovery, determinism, resolution
and grading-quality tests all start from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from panorama import pipeline, warehouse
from panorama.serve import publish
from panorama.settings import Settings, get_settings

DS = "2026-11-24"
FIRST_RUN = "first"
ENTITIES = 1500
SEED = 7
SERVING_FILES = ("panorama.duckdb", "public.duckdb", "manifest.json")

_golden: dict[str, Any] = {}


@dataclass(frozen=True)
class Published:
    """A data dir holding one real publication, and what its run produced."""

    settings: Settings
    input_manifests: list[dict[str, Any]]
    first_audit: Path  # audit.json of the run that was published (it passed)
    # what the build stages of that run returned (``pipeline.build_all``), paths in this copy
    first_build: dict[str, Any]


def _build_first_publication(data_dir: Path) -> dict[str, Any]:
    """Every stage into ``data_dir``; returns what the build stages returned."""
    from panorama_dev import local_platform, synth

    data_dir.mkdir(parents=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("PANORAMA_DATA_DIR", str(data_dir))
    try:
        settings = get_settings()
        synth.generate(
            data_dir, entities=ENTITIES, seed=SEED, as_of=date.fromisoformat(DS), progress=False
        )
        manifests = local_platform.extract_all(settings, DS, FIRST_RUN)
        built = pipeline.build_all(DS, FIRST_RUN, settings)
        pipeline.audit(DS, FIRST_RUN, settings)
        pipeline.publish(DS, FIRST_RUN, manifests, settings)
    finally:
        mp.undo()
    return built


def published_copy(
    tmp_path_factory: pytest.TempPathFactory, mp: pytest.MonkeyPatch, name: str
) -> Published:
    """A private copy of the session's first publication; PANORAMA_DATA_DIR points at it."""
    if "data" not in _golden:
        golden = tmp_path_factory.mktemp("first_publication") / "data"
        _golden["build"] = _build_first_publication(golden)
        _golden["data"] = golden
    data_dir = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(_golden["data"], data_dir, symlinks=True)
    built = json.loads(json.dumps(_golden["build"]).replace(str(_golden["data"]), str(data_dir)))
    mp.setenv("PANORAMA_DATA_DIR", str(data_dir))
    settings = get_settings()
    manifest = publish.current_manifest(settings)
    assert manifest is not None and manifest["run_id"] == FIRST_RUN
    return Published(
        settings=settings,
        input_manifests=manifest["inputs"],
        first_audit=pipeline.run_dir(settings, FIRST_RUN) / "audit.json",
        first_build=built,
    )


def candidate_from_serving(settings: Settings, run_id: str) -> Path:
    """A fresh run dir whose candidate is a whole build as the served run built it (staging,
    intermediate and marts: what the audit tests), without building it again: a copy of the
    served run's ``built.duckdb``."""
    rdir = pipeline.run_dir(settings, run_id)
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    candidate = pipeline.candidate_path(settings, run_id)
    served_run = publish.current_manifest(settings)["run_id"]
    shutil.copyfile(pipeline.built_path(settings, served_run), candidate)
    return candidate


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serving_digests(settings: Settings) -> dict[str, str]:
    return {name: sha256(settings.serving_dir / name) for name in SERVING_FILES}


def subprocess_env() -> dict[str, str]:
    """This process's environment (PANORAMA_DATA_DIR included) with the package importable."""
    plugins = str(get_settings().project_root / "plugins")
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": plugins + (os.pathsep + path if path else "")}


def assert_complete_publication(settings: Settings) -> dict[str, Any]:
    """What readers see is one whole publication: the manifest in place names a complete kept
    version, both serving files are that version's files, they open read-only, and their
    tables hold the manifest's row counts. Returns the manifest."""
    manifest = publish.current_manifest(settings)
    assert manifest is not None, "no manifest in serving/"
    version = publish.versions_dir(settings) / manifest["version"]
    assert json.loads((version / publish.MANIFEST).read_text(encoding="utf-8")) == manifest
    for name in ("panorama.duckdb", "public.duckdb"):
        served = settings.serving_dir / name
        assert sha256(served) == sha256(version / name), (
            f"serving/{name} is not the file of {manifest['version']}, the manifest in place"
        )
    grade_runs = warehouse.query(
        settings.serving_path, "select distinct run_id from risk.fct_risk_grade"
    )
    assert grade_runs == [(manifest["run_id"],)], (
        f"serving/panorama.duckdb holds the grades of {grade_runs}, "
        f"the manifest in place names run {manifest['run_id']}"
    )
    counts = warehouse.table_counts(settings.serving_path)
    assert counts == manifest["row_counts"]
    public_counts = warehouse.table_counts(settings.public_path, (warehouse.PUBLIC_SCHEMA,))
    assert public_counts == manifest["public_row_counts"]
    assert counts["entity.dim_entity"] > 0
    for link in ("exports", "docs"):
        target = (settings.serving_dir / link).resolve()
        assert target == (version / link).resolve(), f"serving/{link} -> {target}"
    return manifest

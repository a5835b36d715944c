"""What an incremental build carries over from the last publication's build.

The staging models of the incremental kinds (every load adds records) are dbt incremental
models: a build reads only the loads after the newest one staged and merges them
(``dbt_project/macros/staging/incremental.sql``). Their previous state is the last
publication's whole build (``build/runs/<run>/built.duckdb``); the candidate stays a fresh file
of its run: a copy of the served file, into which the staged tables are copied here before dbt
runs.

They are carried only when the raw zone of their kind grew by later loads alone since that
build: every file that build read is there unchanged, and every new file is of a later load
date. Each build records what it read and the staging code it ran (``raw_state.json`` in its run
folder); anything else (a re-sent or replaced file, a load of an earlier date, a compaction,
changed staging models or macros, no record, no kept build, a full refresh) leaves the table
out, and dbt builds it from every load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from panorama.ingest.kinds import KINDS

log = logging.getLogger(__name__)

RAW_STATE = "raw_state.json"
STAGING_SCHEMA = "staging"
_LOAD_DATE = re.compile(r"(?:^|/)load_date=([^/]+)/")


def incremental_kinds() -> list[str]:
    """The kinds whose staging model is incremental: those delivered incrementally."""
    return sorted(k.name for k in KINDS.values() if k.delivery == "incremental")


def staging_model(kind: str) -> str:
    return f"stg_raw__{kind}"


def code_state(dbt_project_dir: Path) -> str:
    """A digest of what staging runs: the project file, the staging models and every macro. A
    build whose code differs from the last one stages every kind afresh."""
    digest = hashlib.sha256()
    files = [
        dbt_project_dir / "dbt_project.yml",
        *sorted((dbt_project_dir / "models" / "staging").rglob("*.sql")),
        *sorted((dbt_project_dir / "macros").rglob("*.sql")),
    ]
    for path in files:
        digest.update(path.relative_to(dbt_project_dir).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


PROJECT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py"}
PROJECT_SKIP = {"target", "logs", "dbt_packages"}


def project_state(dbt_project_dir: Path) -> str:
    """A digest of everything a build runs: the dbt project (models, macros, seeds, tests,
    unit tests) and this package (Python models import it)."""
    import panorama

    digest = hashlib.sha256()
    for root in (dbt_project_dir, Path(panorama.__file__).parent):
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if (
                path.suffix not in PROJECT_SUFFIXES
                or not path.is_file()
                or any(part in PROJECT_SKIP or part.startswith(".") for part in relative.parts)
                or "__pycache__" in relative.parts
            ):
                continue
            digest.update(relative.as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_state(raw_dir: Path, dbt_project_dir: Path) -> dict[str, Any]:
    """What a build reads and runs: ``{"code": staging digest, "project": digest of the whole
    project, "raw": raw_state}``."""
    return {
        "code": code_state(dbt_project_dir),
        "project": project_state(dbt_project_dir),
        "raw": raw_state(raw_dir),
    }


def unit_tests_passed_before(previous_run_dir: Path | None, state: dict[str, Any]) -> bool:
    """Whether the last publication's build ran this very project (so it passed its dbt unit
    tests: they read fixed inputs, never the data, and give the same result again)."""
    state_file = previous_run_dir / RAW_STATE if previous_run_dir else None
    if state_file is None or not state_file.is_file():
        return False
    previous = json.loads(state_file.read_text(encoding="utf-8"))
    return previous.get("project") == state["project"]


def raw_state(raw_dir: Path) -> dict[str, dict[str, list[int]]]:
    """Per incremental kind, the raw files a build reads: relative path -> [size, mtime_ns]."""
    state: dict[str, dict[str, list[int]]] = {}
    for kind in incremental_kinds():
        files: dict[str, list[int]] = {}
        for path in sorted(raw_dir.glob(f"{kind}__*/load_date=*/*.parquet")):
            stat = path.stat()
            files[path.relative_to(raw_dir).as_posix()] = [stat.st_size, stat.st_mtime_ns]
        state[kind] = files
    return state


def _load_date(relative: str) -> str:
    found = _LOAD_DATE.search(relative)
    return found.group(1) if found else ""


def appended_only(before: dict[str, list[int]], now: dict[str, list[int]]) -> str | None:
    """None when ``now`` is ``before`` plus files of later loads; else why not."""
    for path, stat in before.items():
        if now.get(path) != stat:
            return f"{path} changed or went away"
    newest = max((_load_date(p) for p in before), default="")
    for path in now:
        if path not in before and _load_date(path) <= newest:
            return f"{path} is new in a load not after {newest}"
    return None


def write_raw_state(run_dir: Path, state: dict[str, Any]) -> None:
    (run_dir / RAW_STATE).write_text(json.dumps(state, sort_keys=True), encoding="utf-8")


def carry_staged(
    candidate: Path,
    previous_build: Path | None,
    previous_run_dir: Path | None,
    state: dict[str, Any],
) -> dict[str, str]:
    """Copy into ``candidate`` the staged tables of the incremental kinds whose raw zone only
    grew since ``previous_build`` (``state``: this build's :func:`build_state`); returns per
    kind ``carried`` or why it was built afresh."""
    import duckdb

    now = state["raw"]
    state_file = previous_run_dir / RAW_STATE if previous_run_dir else None
    if previous_build is None or not previous_build.is_file():
        return {kind: "no kept build of the last publication" for kind in now}
    if state_file is None or not state_file.is_file():
        return {kind: f"the last publication's build recorded no {RAW_STATE}" for kind in now}
    previous = json.loads(state_file.read_text(encoding="utf-8"))
    if previous.get("code") != state["code"]:
        return {kind: "the staging models or macros changed" for kind in now}
    before = previous.get("raw", {})
    outcome: dict[str, str] = {}
    with duckdb.connect(str(candidate)) as con:
        con.execute(f"attach '{_sql_str(previous_build)}' as previous (read_only)")
        kept = {
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'previous' and schema_name = ?",
                [STAGING_SCHEMA],
            ).fetchall()
        }
        con.execute(f"create schema if not exists {STAGING_SCHEMA}")
        for kind, files in now.items():
            model = staging_model(kind)
            why = appended_only(before.get(kind, {}), files) if kind in before else "unrecorded"
            if why is None and model not in kept:
                why = f"{model} not in the last build"
            if why is None:
                con.execute(
                    f"create or replace table {STAGING_SCHEMA}.{model} as "
                    f"select * from previous.{STAGING_SCHEMA}.{model}"
                )
            outcome[kind] = why or "carried"
        con.execute("detach previous")
    for kind, why in outcome.items():
        if why != "carried":
            log.info("staging of %s built from every load: %s", kind, why)
    return outcome


def _sql_str(path: Path) -> str:
    return str(path.absolute()).replace("'", "''")

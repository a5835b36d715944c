"""Run dbt as a subprocess against one candidate DuckDB file.

A subprocess (not dbt's in-process runner) keeps dbt's global state and memory out of the
Airflow worker and gives each invocation a clean start. Each call writes its artefacts
(run_results.json, manifest.json, logs) under the run's own directory.

Parsing the project costs dbt several seconds per call, and dbt reuses a parse
(``partial_parse.msgpack`` in the target dir) only for the same vars and the same profile (the
candidate's path included): calls of one run may share it, other runs may not. A run's calls
alternate vars (the build that reads the probabilistic matches sets one more), so the parse of
each set of vars is kept beside the target dir's and put back for the next call with the same
vars; dbt itself checks that files, vars, profile and environment still match before reusing it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from panorama.settings import Settings

log = logging.getLogger(__name__)

RESOLUTION_SUBDIR = "resolution"
PARSE_STATE = "partial_parse.msgpack"


@dataclass
class NodeResult:
    unique_id: str
    resource_type: str
    status: str
    message: str | None
    failures: int | None
    seconds: float


@dataclass
class DbtResult:
    command: list[str]
    returncode: int
    seconds: float
    nodes: list[NodeResult] = field(default_factory=list)
    log_tail: str = ""

    @property
    def success(self) -> bool:
        return self.returncode == 0

    def failed_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            out[n.status] = out.get(n.status, 0) + 1
        return out


def dbt_executable() -> str:
    found = shutil.which("dbt")
    if found:
        return found
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    raise FileNotFoundError("dbt executable not found on PATH or beside the Python interpreter")


def run_dbt(
    args: list[str],
    *,
    settings: Settings,
    db_path: Path,
    run_dir: Path,
    as_of: str,
    run_id: str,
    extra_vars: dict | None = None,
) -> DbtResult:
    """Invoke ``dbt <args>`` on ``db_path`` with the pipeline's vars; parse run_results.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    target_dir = run_dir / "dbt_target"
    dbt_vars = {"as_of_date": as_of, "run_id": run_id, **(extra_vars or {})}
    kept_parse = _kept_parse(target_dir, dbt_vars)
    if kept_parse.is_file():
        shutil.copyfile(kept_parse, target_dir / PARSE_STATE)
    cmd = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(run_dir / "dbt_logs"),
        "--vars",
        json.dumps(dbt_vars),
    ]
    env = {
        **os.environ,
        "PANORAMA_RAW_DIR": str(settings.raw_dir),
        "PANORAMA_DBT_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        # the probabilistic matcher's output for this run (dbt source `resolution`)
        "PANORAMA_RESOLUTION_DIR": str(run_dir / RESOLUTION_SUBDIR),
    }
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if (target_dir / PARSE_STATE).is_file():
        shutil.copyfile(target_dir / PARSE_STATE, kept_parse)
    results_path = target_dir / "run_results.json"
    nodes = _parse_run_results(results_path) if results_path.exists() else []
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
    result = DbtResult(cmd[1 : len(args) + 1], proc.returncode, seconds, nodes, tail)
    log.info(
        "dbt %s: exit %s in %.1fs %s", " ".join(args), proc.returncode, seconds, result.summary()
    )
    # run_results.json is overwritten by the next invocation in the same target dir: keep a copy.
    if results_path.exists():
        shutil.copyfile(results_path, run_dir / f"run_results_{args[0]}.json")
    return result


def _kept_parse(target_dir: Path, dbt_vars: dict) -> Path:
    """Where the parse state of calls with these vars is kept in the target dir."""
    digest = hashlib.sha256(json.dumps(dbt_vars, sort_keys=True).encode("utf-8")).hexdigest()
    return target_dir / f"partial_parse.{digest[:16]}.msgpack"


def _parse_run_results(path: Path) -> list[NodeResult]:
    data = json.loads(path.read_text(encoding="utf-8"))
    nodes = []
    for r in data.get("results", []):
        uid = r.get("unique_id", "")
        nodes.append(
            NodeResult(
                unique_id=uid,
                resource_type=uid.split(".", 1)[0],
                status=str(r.get("status")),
                message=r.get("message"),
                failures=r.get("failures"),
                seconds=float(r.get("execution_time") or 0.0),
            )
        )
    return nodes

"""Run dbt as a subprocess against one candidate DuckDB file.

A subprocess (not dbt's in-process runner) keeps dbt's global state and memory out of the
Airflow worker and gives each invocation a clean start. Each call writes its artefacts
(run_results.json, manifest.json, logs) under the run's own directory.

Parsing the project costs dbt several seconds per call. dbt reuses an earlier parse
(``partial_parse.msgpack``) only when the vars and the profile are the same, and re-parses the
files that changed or that read an environment variable whose value changed. So what differs
from run to run stays out of the parse: the run id and the logical date reach the models as the
environment variables ``PANORAMA_RUN_ID`` and ``PANORAMA_AS_OF_DATE``, read when they run, not
as vars; dbt works in the candidate's folder, and the candidate, the raw zone and the matcher's
output are named relative to it (the same text for every run). The parse state of each kind of
call (project, candidate file name, vars) is kept in ``build/dbt_parse/`` and handed to the
next such call, whatever its run or date; dbt checks files, vars, profile and environment
before it reuses anything.

dbt's output is streamed to this module's logger (the Airflow task log) line by line as dbt
writes it, with anything shaped like personal data masked.
"""

from __future__ import annotations

import collections
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

from panorama.identity.pii import mask_personal_data
from panorama.settings import Settings

log = logging.getLogger(__name__)

RESOLUTION_SUBDIR = "resolution"
# The spark engine's build in a run folder: warehouse/<schema>.db/<table>/*.parquet
SPARK_SUBDIR = "spark"
PARSE_STATE = "partial_parse.msgpack"
PARSE_CACHE_SUBDIR = "dbt_parse"
PARSE_CACHE_KEEP = 8  # kinds of call whose parse is kept
TAIL_LINES = 40  # of dbt's output, kept for error messages


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


def _package_path(inherited: str | None) -> str:
    """PYTHONPATH that puts this process's ``panorama`` package first (for dbt Python models),
    then the ``inherited`` one."""
    plugins = str(Path(__file__).resolve().parents[2])
    return plugins + (os.pathsep + inherited if inherited else "")


def run_dbt(
    args: list[str],
    *,
    settings: Settings,
    db_path: Path,
    run_dir: Path,
    as_of: str,
    run_id: str,
    extra_vars: dict | None = None,
    target: str | None = None,
    spark_dir: Path | None = None,
    kept_tables: dict[str, Path] | None = None,
) -> DbtResult:
    """Invoke ``dbt <args>`` on ``db_path`` for logical date ``as_of`` and run ``run_id``
    (``extra_vars`` as dbt vars); stream its output to the log; parse run_results.json.

    ``target`` is the profile's output (default: the engine, ``PANORAMA_ENGINE``): ``duckdb``
    (the candidate file ``db_path``) or ``spark``
    (a local SparkSession whose Parquet warehouse and metastore live in ``spark_dir``, by
    default ``<run_dir>/spark``; ``db_path`` then only names dbt's working folder).
    ``kept_tables`` (Spark): the last publication's Parquet folder of each ``schema.table``,
    from which the models that keep their rows start (``macros/engine/kept.sql``)."""
    target = target or settings.engine
    db_path, run_dir = db_path.absolute(), run_dir.absolute()
    run_dir.mkdir(parents=True, exist_ok=True)
    target_dir = run_dir / "dbt_target"
    dbt_vars = dict(extra_vars or {})
    workdir = db_path.parent
    # Paths relative to the working directory, the candidate's folder: the same text for every
    # run, so that neither the profile nor the parsed sources change from run to run.
    raw_dir = _relative(settings.raw_dir, workdir)
    resolution_dir = _relative(run_dir / RESOLUTION_SUBDIR, workdir)
    # the parsed sources hold these paths: a call of another layout keeps its own parse
    kept_parse = _kept_parse(settings, db_path, dbt_vars, target, [raw_dir, resolution_dir])
    if kept_parse.is_file():
        _copy_atomic(kept_parse, target_dir / PARSE_STATE)
    else:  # another kind's state, or one from before the project changed: parse afresh
        (target_dir / PARSE_STATE).unlink(missing_ok=True)
    project = str(settings.dbt_project_dir.absolute())
    # Spark: dbt's command line with the project's Python table functions registered
    launcher = (
        [sys.executable, "-m", "panorama.build.spark_dbt"]
        if target == "spark"
        else [dbt_executable()]
    )
    cmd = [
        *launcher,
        *args,
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target-path",
        str(target_dir),
        "--log-path",
        str(run_dir / "dbt_logs"),
        "--target",
        target,
    ]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    env = {
        **os.environ,
        "PANORAMA_DBT_DUCKDB_PATH": db_path.name,
        "PANORAMA_RAW_DIR": raw_dir,
        # the probabilistic matcher's output for this run (dbt source `resolution`)
        "PANORAMA_RESOLUTION_DIR": resolution_dir,
        # stamped on the rows this run builds, and the logical date every window is computed
        # from (both read when the models run, not parsed)
        "PANORAMA_RUN_ID": run_id,
        "PANORAMA_AS_OF_DATE": as_of,
        # plain lines, written as they come (the log streams them)
        "DBT_USE_COLORS": "false",
        "PYTHONUNBUFFERED": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "PANORAMA_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
    }
    if target == "spark":  # the Spark build's Parquet tables and catalogue
        env["PANORAMA_SPARK_DIR"] = str((spark_dir or run_dir / SPARK_SUBDIR).absolute())
        env["PANORAMA_SPARK_MASTER"] = settings.spark_master
        env["PANORAMA_SPARK_DRIVER_MEMORY"] = settings.spark_driver_memory
        env["PANORAMA_KEPT_TABLES"] = json.dumps(
            {name: str(path.absolute()) for name, path in (kept_tables or {}).items()}
        )
    # Python models import the package: the copy this process runs
    env["PYTHONPATH"] = _package_path(env.get("PYTHONPATH"))
    if settings.person_hash_key:
        env["PANORAMA_PERSON_HASH_KEY"] = settings.person_hash_key
    started = time.monotonic()
    returncode, tail = _run_streamed(cmd, env, workdir)
    seconds = time.monotonic() - started
    _copy_atomic(target_dir / PARSE_STATE, kept_parse)
    _prune_parse_cache(kept_parse.parent.parent)
    results_path = target_dir / "run_results.json"
    nodes = _parse_run_results(results_path) if results_path.exists() else []
    result = DbtResult(list(args), returncode, seconds, nodes, tail)
    log.info("dbt %s: exit %s in %.1fs %s", " ".join(args), returncode, seconds, result.summary())
    # run_results.json is overwritten by the next invocation in the same target dir: keep a copy.
    if results_path.exists():
        shutil.copyfile(results_path, run_dir / f"run_results_{args[0]}.json")
    return result


def _run_streamed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``cmd``, logging each line of its output (stdout and stderr) as it comes, masked;
    returns the exit code and the last ``TAIL_LINES`` lines."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as proc:
        for raw in proc.stdout or ():
            line = str(mask_personal_data(raw.rstrip("\r\n")))
            tail.append(line)
            log.info("dbt | %s", line)
        returncode = proc.wait()
    return returncode, "\n".join(tail)


def spark_warehouse(run_dir: Path) -> Path:
    """Where the spark engine's build of a run writes its tables (``<schema>.db/<table>/``)."""
    return run_dir / SPARK_SUBDIR / "warehouse"


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start``, both with symbolic links resolved."""
    return os.path.relpath(path.resolve(), start.resolve())


def _kept_parse(
    settings: Settings,
    db_path: Path,
    dbt_vars: dict,
    target: str = "duckdb",
    parsed_env: list[str] | None = None,
) -> Path:
    """Where the parse state of calls of this kind is kept, whatever their run, and whatever
    the project's state but for its engine variants (:func:`_engine_variants`)."""
    key = json.dumps(
        [str(settings.dbt_project_dir.absolute()), db_path.name, dbt_vars]
        + ([target] if target != "duckdb" else [])
        + _engine_variants(settings.dbt_project_dir)
        + (parsed_env or []),
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return (
        (settings.dbt_parse_dir or settings.build_dir / PARSE_CACHE_SUBDIR) / digest / PARSE_STATE
    )


def _engine_variants(project: Path) -> list[str]:
    """A digest of the models written once per engine (one file per engine under the same
    name, the other engine's disabled: the inspector assignment). dbt's partial parsing loses
    the enabled one of such a pair when either file changes ("depends on ... which is not in
    the graph"), so a change to them starts a new parse state, fully parsed once."""
    files = sorted((project / "models").rglob("*.*"))
    stems = collections.Counter(f.stem for f in files if f.suffix in (".sql", ".py"))
    digest = hashlib.sha256()
    for f in files:
        if f.suffix in (".sql", ".py") and stems[f.stem] > 1:
            digest.update(f.relative_to(project).as_posix().encode() + b"\0" + f.read_bytes())
    return [digest.hexdigest()[:16]] if any(n > 1 for n in stems.values()) else []


def _prune_parse_cache(root: Path, keep: int = PARSE_CACHE_KEEP) -> None:
    """Drop all but the ``keep`` most recently written parse states."""
    if not root.is_dir():
        return

    def written(state: Path) -> float:
        try:
            return state.stat().st_mtime
        except OSError:  # pruned meanwhile by another run
            return 0.0

    kept = sorted(root.glob(f"*/{PARSE_STATE}"), key=written, reverse=True)
    for state in kept[keep:]:
        shutil.rmtree(state.parent, ignore_errors=True)


def _copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src``, if there is one, so that a reader of ``dst`` (another run's dbt) sees the
    old or the new file whole. A cache: a failed copy costs the next call a full parse."""
    if not src.is_file():
        return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except OSError as exc:
        log.warning("dbt parse state not copied to %s: %s", dst, exc)
        tmp.unlink(missing_ok=True)


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

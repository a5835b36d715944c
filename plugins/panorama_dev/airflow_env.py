"""A project-local Airflow: its home, DAG folder and SQLite metadata DB live beside the code.

Used by the CLI (``demo``, ``airflow``) and the end-to-end tests, so that nothing touches the
user's own ``~/airflow``. A real deployment sets ``AIRFLOW_HOME`` and ``AIRFLOW__*`` itself.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from panorama.ops.runtime import WRITER_POOL
from panorama.settings import Settings, get_settings


def airflow_bin() -> str:
    beside = Path(sys.executable).parent / "airflow"
    return str(beside) if beside.exists() else (shutil.which("airflow") or "airflow")


def airflow_env(settings: Settings | None = None, home: Path | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    root = settings.project_root
    home = home or Path(os.environ.get("AIRFLOW_HOME") or root / ".airflow")
    bin_dir = str(Path(sys.executable).parent)
    plugins = str(root / "plugins")
    py_path = os.environ.get("PYTHONPATH", "")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": plugins,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__CORE__DAG_FILE_PROCESSOR_TIMEOUT": "180",
        "PANORAMA_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": plugins
        + (os.pathsep + py_path if py_path and plugins not in py_path else ""),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
    }
    return env


COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stack_env(
    env: dict[str, str], port: int, host: str = "127.0.0.1", scheduled: bool = True
) -> dict[str, str]:
    """Settings for running the components as separate processes (LocalExecutor) with the API
    server on ``host:port``. The task runners call the execution API on that same port; the
    components share one JWT secret (generated here unless already set) so that tokens one
    issues the others accept. ``scheduled=False`` turns the cron schedule off: only triggered
    runs run (what the tests want; the UI then still triggers)."""
    base = f"http://{host}:{port}"
    return {
        **env,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": env.get("AIRFLOW__API_AUTH__JWT_SECRET")
        or secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": env.get("AIRFLOW__API__SECRET_KEY")
        or secrets.token_urlsafe(32),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(scheduled),
    }


def component_argv(name: str, env: dict[str, str]) -> list[str]:
    """The command line of one Airflow component."""
    if name == "api-server":
        return [
            airflow_bin(),
            "api-server",
            "--host",
            env["AIRFLOW__API__HOST"],
            "--port",
            env["AIRFLOW__API__PORT"],
        ]
    return [airflow_bin(), name]


def ensure_pool(env: dict[str, str], name: str = WRITER_POOL, slots: int = 1) -> None:
    """Create (or reset to ``slots``) the pool the warehouse writer tasks run in: DuckDB has a
    single writer, so tasks that write the candidate or the serving files take its one slot."""
    subprocess.run(
        [airflow_bin(), "pools", "set", name, str(slots), "one DuckDB writer at a time"],
        env=env,
        check=True,
        capture_output=True,
    )


def ensure_db(env: dict[str, str]) -> None:
    """Create or upgrade the metadata DB (idempotent; skipped when already at this version)."""
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    stamp = home / ".migrated"
    current = version("apache-airflow")
    if stamp.exists() and stamp.read_text().strip() == current and (home / "airflow.db").exists():
        return
    subprocess.run([airflow_bin(), "db", "migrate"], env=env, check=True, capture_output=True)
    stamp.write_text(current)


def dags_test(
    dag_id: str,
    logical_date: str,
    env: dict[str, str],
    log_path: Path | None = None,
    conf: dict | None = None,
) -> subprocess.CompletedProcess:
    """``airflow dags test`` (a real run through Airflow, in one process) with output to a log."""
    ensure_db(env)
    # dags test fails a successful run of a DAG with a deadline alert (Airflow 3.3.2): none here
    env = {**env, "PANORAMA_RUN_DEADLINE_MINUTES": "0"}
    cmd = [airflow_bin(), "dags", "test", dag_id, logical_date]
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    if log_path is None:
        return subprocess.run(cmd, env=env, check=False, capture_output=True, text=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as out:
        return subprocess.run(cmd, env=env, check=False, stdout=out, stderr=subprocess.STDOUT)


def task_durations(
    env: dict[str, str], dag_id: str, logical_date: str
) -> list[tuple[str, int, float]]:
    """(task_id, map_index, seconds) of the latest run of ``dag_id`` at ``logical_date``."""
    import sqlite3

    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        run = con.execute(
            "select run_id from dag_run where dag_id = ? and date(logical_date) = ? "
            "order by id desc limit 1",
            (dag_id, logical_date),
        ).fetchone()
        if not run:
            return []
        rows = con.execute(
            "select task_id, map_index, (julianday(end_date) - julianday(start_date)) * 86400 "
            "from task_instance where dag_id = ? and run_id = ? order by start_date",
            (dag_id, run[0]),
        ).fetchall()
        return [(t, m, float(s or 0.0)) for t, m, s in rows]
    finally:
        con.close()

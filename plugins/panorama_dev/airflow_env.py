"""A project-local Airflow: its home, DAG folder and SQLite metadata DB live beside the code.

Used by the CLI (``demo``, ``airflow``) and the end-to-end tests, so that nothing touches the
user's own ``~/airflow``. A real deployment sets ``AIRFLOW_HOME`` and ``AIRFLOW__*`` itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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

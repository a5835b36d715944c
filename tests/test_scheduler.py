"""End to end on the scheduler path, the way the DAG runs in production.

``panorama airflow`` (what ``make airflow`` runs) is started once for the module on a scratch
``AIRFLOW_HOME`` and on a copy of the session's first publication (tests/pipeline_fixtures.py):
API server, scheduler, DAG processor and triggerer as separate processes, the LocalExecutor
running each task in its own task-runner process, the stand-in exchange platform and the
connections as the command brings them up. The DAGs are unpaused and triggered through the REST
API v2 (as the UI does, logged in through the simple auth manager) and waited for with a bound.

1. run A: a department delivers one new penalty against an entity graded A, and the exchange
   platform fails the first attempt of its extract: Airflow retries it, the run publishes a new
   version, the grade moves and its history keeps both periods;
2. run B: a delivery carries a defect the gate must catch, and while its writer tasks run the
   rollback DAG is triggered: the run stops at the audit and publishes nothing, the rollback
   serves the first version, and the one-slot writer pool kept their writer tasks apart;
3. the stack stops on SIGTERM leaving no process, and a killed scheduler is reported and stops
   the rest.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from panorama import warehouse
from panorama.serve import publish
from panorama.settings import Settings
from panorama_dev.airflow_api import AirflowApi, ApiError, admin_password
from panorama_dev.airflow_env import WRITER_POOL, free_port
from pipeline_fixtures import DS, assert_complete_publication, published_copy, subprocess_env

pytestmark = pytest.mark.slow

DS_A = "2026-11-25"
DS_B = "2026-11-26"
DAG = "credit_panorama"
ROLLBACK_DAG = "credit_panorama_rollback"
WRITER_TASKS = {"build_identity", "resolve", "build", "audit", "publish"}
ACCEPT_REASON = "补报处罚一条，行数变化在预期之内"
EXCHANGE_FEED = "penalty__exchange"
# Page 1 answers 500 to the first attempt's request and its three connector-level retries: the
# extract task fails once and Airflow's retry lands the feed.
EXCHANGE_FAULTS = {"1": [500, 500, 500, 500]}
STARTUP_TIMEOUT = 300.0  # seconds, under load
RUN_TIMEOUT = 900.0
STOP_TIMEOUT = 60.0
MARK = "PANORAMA_TEST_STACK"  # inherited by every process the command starts
EXPECTED_TABLES = {
    "entity.dim_entity",
    "entity.fct_entity_event",
    "finance.fin_loan_ceiling",
    "risk.fct_risk_grade",
    "risk.fct_risk_grade_history",
    "public_record.pub_entity",
    "public_record.pub_penalty",
}


@dataclass
class Stack:
    """A running ``panorama airflow``: its process, output, home and a logged-in API client."""

    settings: Settings
    home: Path
    proc: subprocess.Popen
    output: Path
    mark: str
    api: AirflowApi

    def output_tail(self, chars: int = 4000) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")[-chars:]


def marked_processes(mark: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``MARK=mark``."""
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get(MARK) == mark and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


def start_command(settings: Settings, home: Path, port: int, *extra: str) -> Stack:
    mark = secrets.token_hex(8)
    env = {**subprocess_env(), "AIRFLOW_HOME": str(home), MARK: mark}
    output = home / f"panorama-airflow-{port}.log"
    with output.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "panorama", "airflow", "--port", str(port), "--no-schedule"]
            + ["--grace", "10", *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Stack(settings, home, proc, output, mark, AirflowApi(f"http://127.0.0.1:{port}"))


def wait_until(what: str, ready, stack: Stack, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if stack.proc.poll() is not None:
            pytest.fail(
                f"panorama airflow exited ({stack.proc.returncode}) before {what}:\n"
                + stack.output_tail()
            )
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout:.0f}s:\n" + stack.output_tail())
        time.sleep(1)


def stop(stack: Stack) -> int:
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGTERM)
    return stack.proc.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    yield published_copy(tmp_path_factory, mp, "scheduler_path")
    mp.undo()


@pytest.fixture(scope="module")
def stack(published, tmp_path_factory):
    """``panorama airflow`` up, logged in, both DAGs parsed and unpaused."""
    home = tmp_path_factory.mktemp("airflow_home")
    port = free_port()
    s = start_command(
        published.settings, home, port, "--exchange-faults", json.dumps(EXCHANGE_FAULTS)
    )
    try:
        wait_until("API server", s.api.healthy, s)
        s.api.login("admin", admin_password(home))

        def parsed() -> bool:
            try:
                return all(s.api.get(f"/dags/{d}")["dag_id"] for d in (DAG, ROLLBACK_DAG))
            except ApiError:
                return False

        wait_until("parsed DAGs", parsed, s)
        for dag_id in (DAG, ROLLBACK_DAG):
            s.api.unpause(dag_id)
        yield s
    finally:
        if s.proc.poll() is None:
            stop(s)
        for p in marked_processes(s.mark):  # never leave a process behind, even on failure
            p.kill()


def trigger(stack: Stack, dag_id: str, ds: str, conf: dict | None = None) -> str:
    return stack.api.trigger(dag_id, f"{ds}T00:00:00+00:00", conf)


def task_log(stack: Stack, dag_id: str, run_id: str, ti: dict, attempt: int) -> str:
    folder = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    path = folder / f"task_id={ti['task_id']}"
    if ti["map_index"] >= 0:
        path = path / f"map_index={ti['map_index']}"
    path = path / f"attempt={attempt}.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def wait_for(stack: Stack, dag_id: str, run_id: str, expect: str) -> list[dict]:
    """Wait for the run; when it did not end ``expect``, fail with the failed tasks' logs."""
    run = stack.api.wait_for_run(dag_id, run_id, RUN_TIMEOUT)
    tis = stack.api.task_instances(dag_id, run_id)
    if run["state"] != expect:
        failed = [t for t in tis if t["state"] == "failed"]
        logs = "\n".join(
            task_log(stack, dag_id, run_id, t, t["try_number"])[-3000:] for t in failed[:2]
        )
        states = {(t["task_id"], t["map_index"]): t["state"] for t in tis}
        pytest.fail(f"{dag_id} {run_id} ended {run['state']}, expected {expect}: {states}\n{logs}")
    return tis


def by_task(tis: list[dict]) -> dict[str, dict]:
    return {t["task_id"]: t for t in tis if t["map_index"] < 0}


def _append_penalty(
    settings: Settings, ds: str, fields: dict[str, str], cut_line: bool = False
) -> None:
    """A department delivers one more penalty (a new GBK file in the 双公示 format).

    ``fields`` are canonical names; the feed's YAML maps them onto the department's columns and
    the other columns are copied from a row of the existing delivery. ``cut_line`` adds a line
    cut off after its first field (to be quarantined).
    """
    from panorama.ingest.feeds import load_registry

    spec = load_registry(settings.feeds_dir)["penalty__amr"]
    source_of = {c.field: c.source for c in spec.resolved_columns()}
    folder = settings.landing_dir / "penalty__amr"
    template = sorted(folder.glob("*.csv"))[0]
    with template.open(encoding="gbk", newline="") as f:
        reader = csv.DictReader(f)
        row = next(reader)
        header = reader.fieldnames
    row.update({source_of[k]: v for k, v in fields.items()})
    with (folder / f"补报_{ds}.csv").open("w", encoding="gbk", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerow(row)
        if cut_line:
            f.write(row[header[0]] + "\r\n")


# -- run A: a new penalty, a retried extract, a new publication ---------------------------------


@dataclass
class RunA:
    run_id: str
    tis: list[dict]
    entity_id: str


@pytest.fixture(scope="module")
def run_a(stack) -> RunA:
    settings = stack.settings
    entity_id, name = warehouse.query(
        settings.serving_path,
        "select g.entity_id, d.entity_name from risk.fct_risk_grade g "
        "join entity.dim_entity d using (entity_id) "
        "where g.grade = 'A' and d.penalty_count = 0 and d.entity_type = 'enterprise' "
        "order by g.score, g.entity_id limit 1",
    )[0]
    decided = (date.fromisoformat(DS_A) - timedelta(days=3)).isoformat()
    _append_penalty(
        settings,
        DS_A,
        {
            "cf_xdr_mc": name,
            "cf_xdr_shxym": entity_id,
            "cf_wsh": "德市监罚〔2026〕E2E号",
            "cf_cflb": "罚款",
            "cf_nr_fk": "2",
            "cf_jdrq": decided,
        },
        cut_line=True,
    )
    # The run's conf reaches the audit through the DAG's params.
    conf = {"accept_baseline_change": ["row_count"], "accept_reason": ACCEPT_REASON}
    run_id = trigger(stack, DAG, DS_A, conf)
    return RunA(run_id, wait_for(stack, DAG, run_id, "success"), entity_id)


def test_triggered_run_publishes_a_new_version(stack, run_a):
    settings = stack.settings
    manifest = assert_complete_publication(settings)
    assert manifest["logical_date"] == DS_A
    assert manifest["run_id"] == run_a.run_id
    assert [v.name for v in publish.list_versions(settings)][-1] == manifest["version"]
    assert manifest["checks"]["passed"] is True
    assert manifest["checks"]["accepted"] == {
        "checks": ["row_count"],
        "reason": ACCEPT_REASON,
        "waived": [],
    }
    counts = warehouse.table_counts(settings.serving_path)
    missing = EXPECTED_TABLES - set(counts)
    assert not missing, f"missing tables {missing}; have {sorted(counts)}"
    for table in EXPECTED_TABLES:
        assert counts[table] > 0, f"{table} is empty"
    assert counts["entity.dim_entity"] == counts["risk.fct_risk_grade"]
    assert sum(manifest["grade_counts"].values()) == counts["entity.dim_entity"]
    assert len({m["feed"] for m in manifest["inputs"]}) >= 11
    assert {t["task_id"] for t in run_a.tis} >= {"list_feeds", "extract"} | WRITER_TASKS
    assert all(t["state"] == "success" for t in run_a.tis)
    # the public dataset carries no grade and no personal data columns
    pub_cols = warehouse.query(
        settings.public_path, "select lower(column_name) from information_schema.columns"
    )
    names = {c for (c,) in pub_cols}
    assert not {n for n in names if "grade" in n or "score" in n or "phone" in n or "id_no" in n}


def test_every_extracted_row_is_accounted_for(stack, run_a):
    manifest = publish.current_manifest(stack.settings)
    for m in manifest["inputs"]:
        t = m["totals"]
        assert t["rows_read"] == t["rows_kept"] + t["rows_quarantined"], m["feed"]
    # the new delivery's cut-off line is quarantined, not dropped; its good line is kept
    penalty = next(m for m in manifest["inputs"] if m["feed"] == "penalty__amr")
    assert penalty["ds"] == DS_A and penalty["run_id"] == run_a.run_id
    assert penalty["totals"]["rows_quarantined"] >= 1
    assert penalty["totals"]["rows_kept"] >= 1


def test_failing_extract_is_retried_by_airflow(stack, run_a):
    extracts = {t["rendered_map_index"]: t for t in run_a.tis if t["task_id"] == "extract"}
    assert len(extracts) >= 11 and all(t["state"] == "success" for t in extracts.values())
    exchange = extracts[EXCHANGE_FEED]
    assert exchange["try_number"] == 2, "the failed first attempt was not retried"
    first = task_log(stack, DAG, run_a.run_id, exchange, attempt=1)
    assert "HTTP 500" in first and "after 4 attempt(s)" in first
    assert {t["try_number"] for f, t in extracts.items() if f != EXCHANGE_FEED} == {1}
    manifest = publish.current_manifest(stack.settings)
    landed = next(m for m in manifest["inputs"] if m["feed"] == EXCHANGE_FEED)
    assert (landed["ds"], landed["run_id"]) == (DS_A, run_a.run_id)
    assert landed["status"] != "failed", landed["error"]


def test_writer_tasks_take_the_writer_pool(run_a):
    pools = {(t["task_id"], t["pool"]) for t in run_a.tis}
    assert {(task, WRITER_POOL) for task in WRITER_TASKS} <= pools
    assert {p for t, p in pools if t not in WRITER_TASKS} == {"default_pool"}


def test_new_penalty_moves_an_a_entity_and_history_keeps_both(stack, run_a):
    settings, entity_id = stack.settings, run_a.entity_id
    grade, reasons = warehouse.query(
        settings.serving_path,
        "select grade, reasons from risk.fct_risk_grade where entity_id = ?",
        [entity_id],
    )[0]
    assert grade in ("B", "C", "D"), grade  # a penalty in the window: at least B (risk_overrides)
    assert "德市监罚〔2026〕E2E号" in reasons  # the reason cites the decision behind it
    history = warehouse.query(
        settings.serving_path,
        "select grade, valid_from, valid_to, is_current from risk.fct_risk_grade_history "
        "where entity_id = ? order by valid_from",
        [entity_id],
    )
    assert [(h[0], str(h[1]), h[2] and str(h[2]), h[3]) for h in history] == [
        ("A", DS, DS_A, False),
        (grade, DS_A, None, True),
    ]
    as_of_first = warehouse.query(
        settings.serving_path,
        "select grade from risk.fct_risk_grade_history where entity_id = ? "
        "and valid_from <= ? and (valid_to is null or valid_to > ?)",
        [entity_id, DS, DS],
    )
    assert as_of_first == [("A",)]
    changes = warehouse.query(
        settings.serving_path,
        "select previous_grade, grade from risk.rpt_grade_changes where entity_id = ?",
        [entity_id],
    )
    assert changes == [("A", grade)]


# -- run B: the gate stops a defect; a rollback runs beside it, one writer at a time ------------


@dataclass
class RunB:
    run_id: str
    tis: list[dict]
    versions_before: list[str]
    rollback_to: str
    rollback_run_id: str
    rollback_tis: list[dict]
    writer_running_at_trigger: str
    rollback_triggered_at: datetime


def _running_writer(stack: Stack, run_id: str) -> str | None:
    for t in stack.api.task_instances(DAG, run_id):
        if t["task_id"] in WRITER_TASKS and t["state"] == "running":
            return t["task_id"]
    return None


@pytest.fixture(scope="module")
def run_b(stack) -> RunB:
    settings = stack.settings
    versions_before = [v.name for v in publish.list_versions(settings)]
    first = publish.list_versions(settings)[0]
    assert first.manifest()["logical_date"] == DS
    # a department delivers a decision dated 30 days after the logical date
    future = (date.fromisoformat(DS_B) + timedelta(days=30)).isoformat()
    _append_penalty(settings, DS_B, {"cf_wsh": "德市监罚〔2099〕0001号", "cf_jdrq": future})
    run_id = trigger(stack, DAG, DS_B)
    deadline = time.monotonic() + RUN_TIMEOUT
    while (writer := _running_writer(stack, run_id)) is None:
        assert time.monotonic() < deadline, "no writer task of run B ever ran"
        assert stack.api.run(DAG, run_id)["state"] in ("queued", "running")
        time.sleep(0.5)
    # While a writer task of run B runs, ask for a rollback: its task would start at once if
    # nothing held it back.
    triggered_at = datetime.now(UTC)
    rollback_run_id = trigger(stack, ROLLBACK_DAG, DS_B, {"version": first.name})
    tis = wait_for(stack, DAG, run_id, "failed")
    rollback_tis = wait_for(stack, ROLLBACK_DAG, rollback_run_id, "success")
    return RunB(
        run_id,
        tis,
        versions_before,
        first.name,
        rollback_run_id,
        rollback_tis,
        writer,
        triggered_at,
    )


def test_gate_stops_a_planted_defect(stack, run_b):
    settings = stack.settings
    tasks = by_task(run_b.tis)
    assert tasks["build"]["state"] == "success"
    assert tasks["audit"]["state"] == "failed"
    assert tasks["publish"]["state"] == "upstream_failed"
    # nothing was published: the kept versions are the same, and what is served is a whole
    # kept publication (the one the rollback put back)
    assert [v.name for v in publish.list_versions(settings)] == run_b.versions_before
    assert assert_complete_publication(settings)["version"] == run_b.rollback_to
    audits = sorted(
        (settings.build_dir / "runs").glob("*/audit.json"), key=lambda p: p.stat().st_mtime
    )
    report = json.loads(audits[-1].read_text(encoding="utf-8"))
    assert report["passed"] is False
    assert "event_date" in json.dumps(report, ensure_ascii=False)
    # the stop sent exactly one notification (the file channel of development), with the
    # gate's summary naming the failed check
    lines = settings.notifications_path.read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line) for line in lines]
    stops = [m for m in messages if m["run_id"] == run_b.run_id]
    assert [m["event"] for m in stops] == ["gate_stopped"], stops
    assert stops[0]["task_id"] == "audit"
    assert "event_date" in json.dumps(stops[0]["summary"], ensure_ascii=False)


def test_rollback_dag_serves_a_kept_version(stack, run_b):
    """credit_panorama_rollback, triggered like any run, puts the first publication back."""
    settings = stack.settings
    assert by_task(run_b.rollback_tis)["rollback"]["state"] == "success"
    manifest = publish.current_manifest(settings)
    assert manifest["version"] == run_b.rollback_to
    assert manifest["logical_date"] == DS
    first = next(v for v in publish.list_versions(settings) if v.name == run_b.rollback_to)
    assert warehouse.table_counts(settings.serving_path) == first.manifest()["row_counts"]


def _interval(t: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(t["start_date"]), datetime.fromisoformat(t["end_date"])


def test_writer_pool_holds_two_concurrent_runs_to_one(run_b):
    """The rollback was triggered while a writer task of run B ran; with one slot in the writer
    pool it waited: no two writer tasks of the two runs overlapped in time. (Without the pool
    the rollback task starts within seconds, inside the writer task it was triggered beside.)"""
    rollback = by_task(run_b.rollback_tis)["rollback"]
    assert rollback["pool"] == WRITER_POOL
    writers = [t for t in run_b.tis if t["task_id"] in WRITER_TASKS and t["start_date"]]
    beside = by_task(run_b.tis)[run_b.writer_running_at_trigger]
    assert run_b.rollback_triggered_at < _interval(beside)[1], (
        "the rollback was not triggered while the writer task ran"
    )
    spans = sorted([_interval(t) + (t["task_id"],) for t in writers + [rollback]])
    for (s1, e1, a), (s2, e2, b) in zip(spans, spans[1:], strict=False):
        assert e1 <= s2, f"{a} ({s1:%T}-{e1:%T}) overlapped {b} ({s2:%T}-{e2:%T})"


# -- the supervisor: a SIGTERM leaves nothing; a dead scheduler stops the stack -----------------


def test_sigterm_stops_every_component(stack, run_b):
    assert marked_processes(stack.mark), "no process of the stack found"
    code = stop(stack)
    assert code == 0, stack.output_tail()
    assert not marked_processes(stack.mark)
    assert "stopped: no component left" in stack.output_tail()


def test_killed_scheduler_is_reported_and_stops_the_stack(stack, tmp_path_factory):
    if stack.proc.poll() is None:  # run alone: one scheduler at a time on the metadata DB
        stop(stack)
    log = stack.home / "logs" / "stack" / "scheduler.log"
    logged_before = log.stat().st_size if log.exists() else 0
    s = start_command(stack.settings, stack.home, free_port())
    try:

        def scheduler() -> psutil.Process | None:
            for p in psutil.Process(s.proc.pid).children():
                if "scheduler" in " ".join(p.cmdline()):
                    return p
            return None

        def scheduling() -> bool:  # this scheduler is up and has said something
            return scheduler() is not None and log.exists() and log.stat().st_size > logged_before

        wait_until("scheduler", scheduling, s)
        victim = scheduler()
        victim.kill()
        code = s.proc.wait(timeout=STOP_TIMEOUT)
        out = s.output_tail()
        assert code == 1, out
        assert f"scheduler (pid {victim.pid}) exited: killed by SIGKILL" in out
        assert re.search(r"last [1-9]\d* lines of \S*scheduler\.log", out), out
        assert "stopped: no component left" in out
        assert not marked_processes(s.mark)
    finally:
        if s.proc.poll() is None:
            stop(s)
        for p in marked_processes(s.mark):
            p.kill()

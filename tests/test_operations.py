"""Operating the pipeline: notifications, feed timing, delivery waits, the reports DAG.

The notifier's channels are exercised for real (a file, a loopback HTTP server, a loopback
SMTP server); the callbacks run through Airflow (``airflow dags test`` of the real
``credit_panorama`` DAG on tiny feed registries, and of a probe DAG whose task stops like the
gate does); the deadline alert's callback runs through Airflow's own ``CallbackTrigger``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from panorama.gate.audit import AuditReport
from panorama.ingest.feeds import FeedConfigError, load_feed
from panorama.ops import notify
from panorama.ops.arrival import LateDelivery, check_arrivals, due_feeds
from panorama.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
PLANTED_ID = "11010519491231002X"  # a valid ID-card number (check character X)
PLANTED_PHONE = "13812345678"
SUNDAY, MONDAY = "2026-11-22", "2026-11-23"


def _feed_yaml(name: str, schedule: str, arrival: str = "") -> str:
    """A complaint feed (JSON lines) with the given timing."""
    text = (ROOT / "feeds" / "complaint__12315.yaml").read_text(encoding="utf-8")
    text = text.replace("name: complaint__12315", f"name: {name}")
    text = text.replace('path: "complaint__12315/', f'path: "{name}/')
    return text.replace('schedule: "@daily"', f'schedule: "{schedule}"\n{arrival}')


def _write_feed(feeds: Path, name: str, schedule: str, arrival: str = "") -> None:
    feeds.mkdir(parents=True, exist_ok=True)
    (feeds / f"{name}.yaml").write_text(_feed_yaml(name, schedule, arrival), encoding="utf-8")


def _failing_report() -> AuditReport:
    """A stopped gate whose failing checks carry personal data in their examples."""
    return AuditReport(
        run_id="r1",
        as_of=SUNDAY,
        passed=False,
        seconds=1.0,
        dbt_summary={"pass": 40, "fail": 1},
        dbt_failures=[
            {
                "test": "test.panorama.unique_dim_entity_entity_id",
                "message": "Got 2 results",
                "failures": 2,
                "examples": [f"{PLANTED_ID}|2"],
            }
        ],
        gx={
            "statistics": {"evaluated_expectations": 30, "unsuccessful_expectations": 1},
            "failures": [
                {
                    "table": "entity.dim_entity",
                    "expectation": "expect_column_values_to_not_be_null",
                    "column": "entity_name",
                    "message": f"1 of 9 rows fail; legal rep id {PLANTED_ID}",
                    "examples": [f"{PLANTED_ID}", f"tel {PLANTED_PHONE}"],
                    "baseline": None,
                }
            ],
        },
    )


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


# ------------------------------------------------------------------ messages and channels


def test_gate_summary_names_failed_checks_and_masks_personal_data():
    summary = notify.gate_summary(_failing_report())
    assert summary["counts"]["failed_checks"] == 2
    assert summary["counts"]["dbt"] == {"pass": 40, "fail": 1}
    checks = {(c["source"], c["check"]) for c in summary["failed_checks"]}
    assert checks == {
        ("dbt", "test.panorama.unique_dim_entity_entity_id"),
        ("gx", "entity.dim_entity expect_column_values_to_not_be_null entity_name"),
    }
    text = json.dumps(summary, ensure_ascii=False)
    assert PLANTED_ID not in text and PLANTED_PHONE not in text
    assert "[ID-card number masked]" in text and "[phone number masked]" in text


def test_accepted_baseline_comparison_is_not_a_failed_check():
    report = _failing_report()
    report.gx["failures"].append(
        {"table": "risk.fct_risk_grade", "expectation": "row_count", "baseline": "row_count"}
    )
    report.accepted = {"checks": ["row_count"], "reason": "expected", "waived": []}
    summary = notify.gate_summary(report)
    assert summary["counts"]["failed_checks"] == 2


def test_task_message_names_the_event_by_its_exception():
    from types import SimpleNamespace

    ti = SimpleNamespace(dag_id="credit_panorama", task_id="audit", map_index=-1, try_number=1)
    from panorama.gate.audit import AuditFailed

    context = {"ti": ti, "run_id": "r1", "ds": SUNDAY, "exception": AuditFailed(_failing_report())}
    message = notify.task_message(context)
    assert message["event"] == "gate_stopped" and message["summary"]["counts"]["failed_checks"] == 2
    assert PLANTED_ID not in json.dumps(message, ensure_ascii=False)
    context["exception"] = LateDelivery(
        [{"feed": "f", "expected": SUNDAY, "where": "w", "waited_minutes": 1, "wait_minutes": 1}]
    )
    assert notify.task_message(context)["event"] == "late_delivery"
    context["exception"] = f"Task heartbeat lost ({PLANTED_PHONE})"  # a text from the scheduler
    message = notify.task_message(context)
    assert message["event"] == "task_failed"
    assert message["error"] == "Task heartbeat lost ([phone number masked])"


def test_file_channel_appends_one_masked_json_line_per_message(data_dir):
    settings = get_settings()
    assert settings.ops.notify_channel == "file"
    notify.send({"event": "task_failed", "error": f"ValueError: {PLANTED_ID}"}, settings)
    notify.send({"event": "task_failed", "error": "second"}, settings)
    lines = _lines(settings.notifications_path)
    assert [m["error"] for m in lines] == [
        "ValueError: [ID-card number masked]",
        "second",
    ]


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    _Receiver.received, _Receiver.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/panorama", _Receiver
    server.shutdown()
    server.server_close()


def test_webhook_channel_posts_the_json_message(data_dir, monkeypatch, webhook):
    url, receiver = webhook
    monkeypatch.setenv("PANORAMA_NOTIFY_CHANNEL", "webhook")
    monkeypatch.setenv("PANORAMA_NOTIFY_WEBHOOK_URL", url)
    settings = get_settings()
    notify.send({"event": "gate_stopped", "summary": {"examples": [PLANTED_ID]}}, settings)
    assert receiver.received == [
        (
            "application/json",
            {"event": "gate_stopped", "summary": {"examples": ["[ID-card number masked]"]}},
        )
    ]
    assert not settings.notifications_path.exists()


def test_webhook_refusing_the_message_is_an_error(data_dir, monkeypatch, webhook):
    url, receiver = webhook
    receiver.status = 500
    monkeypatch.setenv("PANORAMA_NOTIFY_CHANNEL", "webhook")
    monkeypatch.setenv("PANORAMA_NOTIFY_WEBHOOK_URL", url)
    with pytest.raises(notify.NotificationError, match="500"):
        notify.send({"event": "task_failed"}, get_settings())


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to take one message: EHLO, MAIL, RCPT, DATA, QUIT."""

    received: list[tuple[list[str], bytes]] = []

    def handle(self) -> None:
        rcpt: list[str] = []
        self.wfile.write(b"220 sink ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 sink\r\n")
            elif verb == b"RCPT":
                rcpt.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.wfile.write(b"250 ok\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                type(self).received.append((rcpt, data))
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_email_channel_sends_through_the_airflow_connection(data_dir, monkeypatch):
    _SmtpSink.received = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        monkeypatch.setenv("AIRFLOW_CONN_PANORAMA_SMTP", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("PANORAMA_NOTIFY_CHANNEL", "email")
        monkeypatch.setenv("PANORAMA_NOTIFY_SMTP_CONN_ID", "panorama_smtp")
        monkeypatch.setenv("PANORAMA_NOTIFY_EMAIL_TO", "ops@example.org")
        notify.send(
            {"event": "task_failed", "task_id": "extract", "error": f"x {PLANTED_ID}"},
            get_settings(),
        )
    finally:
        server.shutdown()
        server.server_close()
    assert len(_SmtpSink.received) == 1
    rcpt, data = _SmtpSink.received[0]
    assert rcpt == ["ops@example.org"]
    assert b"task_failed: extract" in data
    assert PLANTED_ID.encode() not in data and b"[ID-card number masked]" in data


def test_unknown_channel_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PANORAMA_NOTIFY_CHANNEL", "pager")
    with pytest.raises(ValueError, match="PANORAMA_NOTIFY_CHANNEL='pager'"):
        get_settings()


def test_deadline_alert_callback_runs_in_airflows_trigger(data_dir):
    """What the triggerer does with the DAG's DeadlineAlert: import the notifier by its path
    and await it with the scheduler's context -> one run_deadline_missed message."""
    from airflow.triggers.callback import CallbackTrigger
    from panorama.ops.runtime import run_deadline

    alert = run_deadline(get_settings())
    kwargs = dict(alert.callback.kwargs)
    kwargs["context"] = {
        "dag_run": {
            "dag_id": "credit_panorama",
            "dag_run_id": "scheduled__x",
            "logical_date": f"{SUNDAY}T00:00:00Z",
            "state": "running",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-11-23T06:00:00Z"},
    }
    trigger = CallbackTrigger(alert.callback.path, kwargs)

    async def events() -> list:
        return [e.payload async for e in trigger.run()]

    states = [p["state"] for p in asyncio.run(events())]
    assert states[-1] == "success", states
    (message,) = _lines(get_settings().notifications_path)
    assert message["event"] == "run_deadline_missed"
    assert (message["dag_id"], message["logical_date"]) == ("credit_panorama", SUNDAY)


# --------------------------------------------------------------------- timing and arrival


@pytest.mark.parametrize(
    ("schedule", "due_on"),
    [
        ("@daily", {SUNDAY, MONDAY}),
        ("@weekly", {SUNDAY}),
        ("0 6 * * 1", {MONDAY}),
        ("@monthly", set()),
    ],
)
def test_a_feed_is_due_on_the_days_its_schedule_fires(feed_settings, schedule, due_on):
    _write_feed(feed_settings.feeds_dir, "complaint__x", schedule)
    spec = load_feed(feed_settings.feeds_dir / "complaint__x.yaml")
    assert {ds for ds in (SUNDAY, MONDAY) if spec.is_due(ds)} == due_on
    assert spec.is_due("2026-12-01") == (schedule in ("@daily", "@monthly"))


def test_due_feeds_skips_the_others(feed_settings):
    _write_feed(feed_settings.feeds_dir, "complaint__daily", "@daily")
    _write_feed(feed_settings.feeds_dir, "complaint__weekly", "@weekly")
    assert due_feeds(SUNDAY).due == ["complaint__daily", "complaint__weekly"]
    monday = due_feeds(MONDAY)
    assert monday.due == ["complaint__daily"]
    assert monday.skipped == [{"feed": "complaint__weekly", "schedule": "@weekly"}]


@pytest.mark.parametrize(
    ("schedule", "arrival", "error"),
    [
        ("every monday", "", "schedule: 'every monday' is not a cron expression"),
        ("@weekly", "arrival: {wait_minutes: -1}", "arrival.wait_minutes"),
    ],
)
def test_bad_timing_is_a_clear_error(feed_settings, schedule, arrival, error):
    _write_feed(feed_settings.feeds_dir, "complaint__x", schedule, arrival)
    with pytest.raises(FeedConfigError, match=error):
        load_feed(feed_settings.feeds_dir / "complaint__x.yaml")


def test_only_file_deliveries_can_be_waited_for(feed_settings):
    text = (ROOT / "feeds" / "court_dishonest__court.yaml").read_text(encoding="utf-8")
    path = feed_settings.feeds_dir / "court_dishonest__court.yaml"
    path.write_text(text + "arrival: {wait_minutes: 30}\n", encoding="utf-8")
    with pytest.raises(FeedConfigError, match="arrival: only file deliveries"):
        load_feed(path)


def test_a_due_feed_is_waited_for_then_late(feed_settings):
    _write_feed(
        feed_settings.feeds_dir, "complaint__weekly", "@weekly", "arrival: {wait_minutes: 30}"
    )
    _write_feed(feed_settings.feeds_dir, "complaint__daily", "@daily")  # no arrival: not waited
    feeds = ["complaint__daily", "complaint__weekly"]
    assert check_arrivals(feeds, SUNDAY, waited_minutes=5) == ["complaint__weekly"]
    with pytest.raises(LateDelivery) as caught:
        check_arrivals(feeds, SUNDAY, waited_minutes=30)
    (late,) = caught.value.late
    assert late["feed"] == "complaint__weekly" and late["expected"] == SUNDAY
    assert late["where"] == str(feed_settings.landing_dir / "complaint__weekly" / "*.jsonl")
    assert "feed complaint__weekly: no delivery for 2026-11-22" in str(caught.value)
    # the delivery arrives: nothing is waited for any more
    folder = feed_settings.landing_dir / "complaint__weekly"
    folder.mkdir()
    (folder / "w47.jsonl").write_text('{"tsbh": "1"}\n', encoding="utf-8")
    assert check_arrivals(feeds, SUNDAY, waited_minutes=30) == []


def test_a_delivery_that_landed_under_another_date_is_no_new_delivery(feed_settings):
    from panorama.ingest.connectors.files import file_sha256
    from panorama.ingest.rawzone import LANDED

    _write_feed(
        feed_settings.feeds_dir, "complaint__weekly", "@weekly", "arrival: {wait_minutes: 0}"
    )
    folder = feed_settings.landing_dir / "complaint__weekly"
    folder.mkdir()
    (folder / "w46.jsonl").write_text('{"tsbh": "1"}\n', encoding="utf-8")
    sha = file_sha256(folder / "w46.jsonl")[0]
    part = feed_settings.raw_dir / "complaint__weekly" / "load_date=2026-11-15"
    part.mkdir(parents=True)
    (part / LANDED).write_text(
        json.dumps({"files": [{"name": "complaint__weekly/w46.jsonl", "sha256": sha}]}),
        encoding="utf-8",
    )
    with pytest.raises(LateDelivery):
        check_arrivals(["complaint__weekly"], SUNDAY, waited_minutes=0)
    # a re-run of the date that landed it finds it
    assert check_arrivals(["complaint__weekly"], "2026-11-15", waited_minutes=0) == []


# ------------------------------------------------------------------------ through Airflow

PROBE_DAG = '''
"""A probe: one task stops like the gate does (AuditFailed with a report)."""
from datetime import datetime

from airflow.sdk import dag, task
from panorama.ops.runtime import default_args

REPORT = {report!r}

@dag(dag_id="gate_stop_probe", schedule=None, start_date=datetime(2026, 1, 1),
     default_args=default_args())
def gate_stop_probe():
    @task
    def audit():
        import json

        from panorama.gate.audit import AuditFailed, AuditReport

        raise AuditFailed(AuditReport(**json.loads(REPORT)))

    audit()


gate_stop_probe()
'''


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """One migrated Airflow home and a DAG folder (the project's DAGs and the probe)."""
    from panorama_dev import airflow_env as af

    root = tmp_path_factory.mktemp("ops_airflow")
    dags = root / "dags"
    dags.mkdir()
    for path in (ROOT / "dags").glob("*.py"):
        shutil.copy(path, dags / path.name)
    (dags / "gate_stop_probe.py").write_text(
        PROBE_DAG.replace("{report!r}", repr(json.dumps(_failing_report().to_dict()))),
        encoding="utf-8",
    )
    env = af.airflow_env(get_settings(), home=root / "home")
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    af.ensure_db(env)
    return env


def _dags_test(airflow_home, tmp_path, dag_id: str, ds: str, **env_vars) -> tuple[int, Path, str]:
    """Run ``dag_id`` for ``ds`` through ``airflow dags test`` on ``tmp_path``'s data and feeds;
    returns the exit code, the notification file and the log."""
    from panorama_dev import airflow_env as af

    data, feeds = tmp_path / "data", tmp_path / "feeds"
    (data / "landing").mkdir(parents=True, exist_ok=True)
    feeds.mkdir(exist_ok=True)
    env = {
        **airflow_home,
        "PANORAMA_DATA_DIR": str(data),
        "PANORAMA_FEEDS_DIR": str(feeds),
        "PANORAMA_NOTIFY_CHANNEL": "file",
        **env_vars,
    }
    env.pop("PANORAMA_NOTIFY_FILE", None)
    proc = af.dags_test(dag_id, ds, env)
    return proc.returncode, data / "notifications.jsonl", proc.stdout + proc.stderr


def test_late_weekly_feed_raises_one_late_delivery_alert(airflow_home, tmp_path):
    _write_feed(tmp_path / "feeds", "complaint__weekly", "@weekly", "arrival: {wait_minutes: 0}")
    code, notes, log = _dags_test(airflow_home, tmp_path, "credit_panorama", SUNDAY)
    assert code != 0, log[-3000:]
    (message,) = _lines(notes)
    assert message["event"] == "late_delivery"
    assert (message["dag_id"], message["task_id"]) == ("credit_panorama", "wait_for_deliveries")
    assert message["logical_date"] == SUNDAY
    (late,) = message["summary"]["late"]
    assert late["feed"] == "complaint__weekly" and late["expected"] == SUNDAY
    assert late["where"].endswith("landing/complaint__weekly/*.jsonl")
    assert "LateDelivery" in message["error"]
    # nothing was extracted or built on stale data
    assert not (tmp_path / "data" / "manifests").exists()
    assert not (tmp_path / "data" / "build").exists()


def _reschedules(airflow_home: dict) -> int:
    import sqlite3

    con = sqlite3.connect(Path(airflow_home["AIRFLOW_HOME"]) / "airflow.db", timeout=30)
    try:
        return con.execute("select count(*) from task_reschedule").fetchone()[0]
    finally:
        con.close()


def _deliver_after_a_reschedule(airflow_home: dict, path: Path, text: str) -> threading.Thread:
    """Write the delivery once the sensor has looked, found nothing and rescheduled itself."""
    before = _reschedules(airflow_home)

    def watch() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _reschedules(airflow_home) == before:
            time.sleep(0.5)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_due_feed_is_waited_for_and_a_failed_extract_notifies_once(airflow_home, tmp_path):
    """Monday: the daily feed is due and waited for (its delivery arrives while the sensor is
    rescheduled); the weekly one is not due (skipped). The delivery misses a required column:
    the extract fails three times (two retries) and sends one notification."""
    feeds = tmp_path / "feeds"
    _write_feed(feeds, "complaint__daily", "@daily", "arrival: {wait_minutes: 2}")
    _write_feed(feeds, "complaint__weekly", "@weekly", "arrival: {wait_minutes: 0}")
    before = _reschedules(airflow_home)
    delivery = tmp_path / "data" / "landing" / "complaint__daily" / "d.jsonl"
    row = {"tsbh": "T1", "btsr_mc": "某店", "tsr_dh": PLANTED_PHONE}
    watcher = _deliver_after_a_reschedule(airflow_home, delivery, json.dumps(row) + "\n")
    code, notes, log = _dags_test(
        airflow_home,
        tmp_path,
        "credit_panorama",
        MONDAY,
        PANORAMA_RETRY_DELAY_SECONDS="0",
        PANORAMA_DELIVERY_POKE_SECONDS="1",
    )
    watcher.join(timeout=5)
    assert code != 0, log[-3000:]
    assert _reschedules(airflow_home) > before  # it waited, holding no slot
    (message,) = _lines(notes)
    assert message["event"] == "task_failed", message
    assert message["task_id"] == "extract" and message["try_number"] == 3
    assert message["map_label"] == "complaint__daily"
    assert "FeedError" in message["error"] and PLANTED_PHONE not in json.dumps(message)
    manifests = tmp_path / "data" / "manifests"
    assert sorted(p.name for p in manifests.iterdir()) == ["complaint__daily"]
    assert not (tmp_path / "data" / "build").exists()


def test_stopped_gate_gives_one_notification_with_its_summary(airflow_home, tmp_path):
    code, notes, log = _dags_test(airflow_home, tmp_path, "gate_stop_probe", SUNDAY)
    assert code != 0, log[-3000:]
    (message,) = _lines(notes)
    assert message["event"] == "gate_stopped"
    assert message["task_id"] == "audit"
    summary = message["summary"]
    assert summary["counts"]["failed_checks"] == 2
    assert {c["source"] for c in summary["failed_checks"]} == {"dbt", "gx"}
    text = json.dumps(message, ensure_ascii=False)
    assert PLANTED_ID not in text and PLANTED_PHONE not in text
    assert "[ID-card number masked]" in text


# --------------------------------------------------------------------------- the reports


def test_reports_dag_reads_the_serving_file_and_writes_counts(airflow_home, tmp_path):
    """credit_panorama_reports, run through Airflow on a tiny serving file: counts only,
    the serving file untouched, the same bytes when run again."""
    import duckdb
    from panorama.serve.reports import write_regulator_report

    serving = tmp_path / "data" / "serving"
    serving.mkdir(parents=True)
    con = duckdb.connect(str(serving / "panorama.duckdb"))
    con.execute("create schema risk")
    con.execute(
        "create table risk.fct_risk_grade as select * from (values "
        "('E1', 'A'), ('E2', 'B'), ('E3', 'A')) t(entity_id, grade)"
    )
    con.execute(
        "create table risk.rpt_grade_changes as select * from (values "
        "('E2', 'down')) t(entity_id, direction)"
    )
    con.close()
    (serving / "manifest.json").write_text(
        json.dumps({"version": "v0001_2026-11-22", "logical_date": SUNDAY}), encoding="utf-8"
    )
    before = (serving / "panorama.duckdb").read_bytes()
    code, notes, log = _dags_test(airflow_home, tmp_path, "credit_panorama_reports", SUNDAY)
    assert code == 0, log[-3000:]
    assert not notes.exists()
    folder = tmp_path / "data" / "reports" / "v0001_2026-11-22"
    assert (folder / "grade_counts.csv").read_text(encoding="utf-8") == "grade,entities\nA,2\nB,1\n"
    report = json.loads((folder / "regulator_report.json").read_text(encoding="utf-8"))
    assert report["grade_counts"] == {"A": 2, "B": 1} and report["entities"] == 3
    assert report["grade_changes"] == {"down": 1}
    written = (folder / "regulator_report.json").read_bytes()
    mp = pytest.MonkeyPatch()
    mp.setenv("PANORAMA_DATA_DIR", str(tmp_path / "data"))
    try:
        write_regulator_report(get_settings())
    finally:
        mp.undo()
    assert (folder / "regulator_report.json").read_bytes() == written  # deterministic
    assert (serving / "panorama.duckdb").read_bytes() == before  # read-only

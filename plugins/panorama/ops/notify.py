"""Notifications of a failed task, a stopped gate, a late delivery or a run past its deadline.

One Airflow notifier, :class:`PanoramaNotifier`, builds a JSON message from the task's context
and sends it to the channel the settings name: a file of JSON lines (development), a webhook
(HTTP POST of the JSON) or an email through an Airflow SMTP connection. Every string in a
message is masked with :mod:`panorama.identity.pii`: personal data never leaves in one.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import urllib.request
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from airflow.sdk import BaseNotifier

from panorama.identity.pii import mask_personal_data
from panorama.settings import Settings, get_settings

TASK_FAILED = "task_failed"
GATE_STOPPED = "gate_stopped"
LATE_DELIVERY = "late_delivery"
RUN_DEADLINE_MISSED = "run_deadline_missed"
MAX_TEXT = 2000
MAX_EXAMPLES = 3
GX_COUNTS = (
    "evaluated_expectations",
    "successful_expectations",
    "unsuccessful_expectations",
    "tables_missing",
)


class NotificationError(RuntimeError):
    """A notification could not be delivered to its channel."""


def masked(value: Any) -> Any:
    """``value`` with personal data masked in every string, however deeply nested."""
    if isinstance(value, dict):
        return {str(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return mask_personal_data(value)
    return value


def gate_summary(report: Any) -> dict[str, Any]:
    """What stopped the gate: each failed check with its count and a few masked examples, and
    the totals. ``report`` is a :class:`panorama.gate.audit.AuditReport` (or its dict)."""
    data = report if isinstance(report, dict) else report.to_dict()
    failed: list[dict[str, Any]] = []
    for f in data.get("empty_feeds") or []:
        if not f.get("waived"):
            failed.append(
                {"source": "feeds", "check": f"feed_empty:{f['feed']}", "message": f.get("message")}
            )
    for f in data.get("dbt_failures") or []:
        failed.append(
            {
                "source": "dbt",
                "check": f.get("test"),
                "failures": f.get("failures"),
                "examples": list(f.get("examples") or [])[:MAX_EXAMPLES],
            }
        )
    gx = data.get("gx") or {}
    accepted = set((data.get("accepted") or {}).get("checks") or [])
    for f in gx.get("failures") or []:
        if f.get("baseline") and f["baseline"] in accepted:
            continue  # a comparison this run accepted: reported, not a stop
        parts = (f.get("table"), f.get("expectation"), f.get("column"))
        failed.append(
            {
                "source": "gx",
                "check": " ".join(str(p) for p in parts if p),
                "message": f.get("message"),
                "examples": list(f.get("examples") or [])[:MAX_EXAMPLES],
            }
        )
    return masked(
        {
            "as_of": data.get("as_of"),
            "failed_checks": failed,
            "counts": {
                "failed_checks": len(failed),
                "dbt": data.get("dbt_summary") or {},
                "gx": {k: v for k, v in (gx.get("statistics") or {}).items() if k in GX_COUNTS},
            },
        }
    )


def _classify(error: BaseException | None) -> tuple[str, dict[str, Any] | None]:
    """The event a task's exception stands for, and its summary."""
    from panorama.gate.audit import AuditFailed
    from panorama.ops.arrival import LateDelivery

    if isinstance(error, AuditFailed):
        return GATE_STOPPED, gate_summary(error.report)
    if isinstance(error, LateDelivery):
        return LATE_DELIVERY, {"late": error.late}
    return TASK_FAILED, None


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _error_text(error: object) -> str | None:
    """``Type: message`` of an exception (a callback run by the scheduler may get a text)."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        return _short(f"{type(error).__name__}: {error}")
    return _short(str(error))


def task_message(context: dict[str, Any]) -> dict[str, Any]:
    """The notification of a task that failed (after its retries), from its Airflow context."""
    error = context.get("exception")
    event, summary = _classify(error if isinstance(error, BaseException) else None)
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    message: dict[str, Any] = {
        "event": event,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "logical_date": context.get("ds"),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", -1),
        # a mapped task's label, e.g. the feed of an extract
        "map_label": getattr(ti, "rendered_map_index", None) or context.get("feed_name"),
        "try_number": getattr(ti, "try_number", None),
        "error": _error_text(error),
    }
    if summary is not None:
        message["summary"] = summary
    return masked(message)


def deadline_message(context: dict[str, Any]) -> dict[str, Any]:
    """The notification of a run still going past its deadline (the scheduler's context)."""
    run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    return masked(
        {
            "event": RUN_DEADLINE_MISSED,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dag_id": run.get("dag_id"),
            "run_id": run.get("dag_run_id") or run.get("run_id"),
            "logical_date": str(run.get("logical_date") or "")[:10] or None,
            "state": run.get("state"),
            "deadline": str(deadline.get("deadline_time") or "") or None,
        }
    )


def subject(message: dict[str, Any]) -> str:
    where = message.get("task_id") or message.get("dag_id") or "?"
    return f"[credit_panorama] {message['event']}: {where} ({message.get('logical_date')})"


def send(message: dict[str, Any], settings: Settings | None = None) -> None:
    """Deliver one message to the configured channel."""
    settings = settings or get_settings()
    ops = settings.ops
    message = masked(message)
    if ops.notify_channel == "file":
        write_line(settings.notifications_path, message)
    elif ops.notify_channel == "webhook":
        if not ops.notify_webhook_url:
            raise NotificationError("webhook channel: set PANORAMA_NOTIFY_WEBHOOK_URL")
        post_json(ops.notify_webhook_url, message)
    elif ops.notify_channel == "email":
        send_email(ops.notify_smtp_conn_id, ops.notify_email_to, message)


def write_line(path: Path, message: dict[str, Any]) -> None:
    """Append one JSON line (a single write, so concurrent writers do not interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(message, ensure_ascii=False, sort_keys=True, default=str) + "\n"
    with path.open("a", encoding="utf-8") as f:
        f.write(line)


def post_json(url: str, message: dict[str, Any], timeout: float = 10.0) -> None:
    body = json.dumps(message, ensure_ascii=False, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise NotificationError(f"webhook {url.split('?')[0]}: {exc}") from exc
    if not 200 <= status < 300:
        raise NotificationError(f"webhook {url.split('?')[0]}: HTTP {status}")


def send_email(conn_id: str, to: tuple[str, ...], message: dict[str, Any]) -> None:
    """Send through the Airflow connection ``conn_id`` (host, port, login, password; extra
    ``from_email``, ``ssl`` / ``starttls``)."""
    from airflow.sdk import BaseHook

    if not to:
        raise NotificationError("email channel: set PANORAMA_NOTIFY_EMAIL_TO")
    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson
    mail = EmailMessage()
    mail["Subject"] = subject(message)
    mail["From"] = extra.get("from_email") or conn.login or "credit-panorama@localhost"
    mail["To"] = ", ".join(to)
    mail.set_content(json.dumps(message, ensure_ascii=False, indent=2, default=str))
    smtp_cls = smtplib.SMTP_SSL if extra.get("ssl") else smtplib.SMTP
    with smtp_cls(conn.host or "localhost", conn.port or 25, timeout=30) as smtp:
        if extra.get("starttls"):
            smtp.starttls()
        if conn.login and conn.password:
            smtp.login(conn.login, conn.password)
        smtp.send_message(mail)


class PanoramaNotifier(BaseNotifier):
    """Sends a task failure (a stopped gate and a late delivery named as such) or a missed run
    deadline to the configured channel.

    As ``on_failure_callback`` it runs once a task has failed for good (after its retries); as
    a deadline alert's ``AsyncCallback`` the triggerer awaits it with the scheduler's context.
    """

    def __init__(self, event: str | None = None, context: dict | None = None):
        super().__init__(context=context)
        self.event = event

    def notify(self, context: dict) -> None:
        send(task_message(context))

    async def async_notify(self, context: dict) -> None:
        await asyncio.to_thread(send, deadline_message(context))

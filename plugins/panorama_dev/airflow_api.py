"""A small client of Airflow's REST API v2, for the local stack and the tests: log in as the
simple auth manager's ``admin`` user, unpause and trigger DAGs, read runs and task instances.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class ApiError(RuntimeError):
    pass


def admin_password(airflow_home: Path, user: str = "admin") -> str:
    """The password the simple auth manager generated for ``user`` (written by the API server
    at its first start)."""
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    return json.loads(path.read_text(encoding="utf-8"))[user]


class AirflowApi:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token: str | None = None

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:500]
            exc.close()
            raise ApiError(f"{method} {path}: HTTP {exc.code} {detail}") from exc
        return json.loads(raw) if raw else None

    def healthy(self) -> bool:
        try:
            self._call("GET", "/api/v2/monitor/health")
        except (ApiError, OSError):
            return False
        return True

    def login(self, username: str, password: str) -> None:
        body = {"username": username, "password": password}
        self.token = self._call("POST", "/auth/token", body)["access_token"]

    def get(self, path: str) -> Any:
        return self._call("GET", "/api/v2" + path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", "/api/v2" + path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._call("PATCH", "/api/v2" + path, body)

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/dags/{dag_id}", {"is_paused": False})

    def trigger(
        self, dag_id: str, logical_date: str | None, conf: dict | None = None, run_id: str = ""
    ) -> str:
        """Trigger a run as the UI does; returns its run id. ``logical_date`` is an ISO
        timestamp or None (a run with no logical date)."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.post(f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")[
            "task_instances"
        ]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float, poll: float = 2.0) -> dict:
        """Wait until the run is finished (success or failed); raises TimeoutError after
        ``timeout`` seconds with the states its tasks are in."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                states = {t["task_id"]: t["state"] for t in self.task_instances(dag_id, run_id)}
                raise TimeoutError(
                    f"{dag_id} {run_id} still {run['state']} after {timeout:.0f}s: {states}"
                )
            time.sleep(poll)

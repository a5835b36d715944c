"""Reports made from the published serving file, for the regulator (an example consumer).

Read-only: the serving file is opened read-only and never changed. A report holds counts only
(grades, grade changes), no entity rows and no personal data. It is written to
``reports/<version>/regulator_report.json`` (and ``grade_counts.csv``) through a temporary
file and a rename, so a reader never sees half a report; re-running it for the same version
writes the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from panorama import warehouse
from panorama.serve.publish import current_manifest
from panorama.settings import Settings, get_settings

GRADE_COUNTS = "select grade, count(*) from risk.fct_risk_grade group by grade order by grade"
GRADE_CHANGES = (
    "select direction, count(*) from risk.rpt_grade_changes group by direction order by direction"
)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def regulator_report(settings: Settings) -> dict[str, Any]:
    """Grade counts and grade changes of the serving file, with the version they describe."""
    manifest = current_manifest(settings)
    if manifest is None or not settings.serving_path.exists():
        raise FileNotFoundError(f"nothing published in {settings.serving_dir}")
    grades = warehouse.query(settings.serving_path, GRADE_COUNTS)
    changes = warehouse.query(settings.serving_path, GRADE_CHANGES)
    return {
        "version": manifest["version"],
        "logical_date": manifest.get("logical_date"),
        "entities": sum(n for _, n in grades),
        "grade_counts": {str(g): n for g, n in grades},
        "grade_changes": {str(d): n for d, n in changes},
    }


def write_regulator_report(settings: Settings | None = None) -> dict[str, Any]:
    """Write the report of the version being served; returns it with its folder."""
    settings = settings or get_settings()
    report = regulator_report(settings)
    out = settings.reports_dir / report["version"]
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["grade", "entities"])
    writer.writerows(report["grade_counts"].items())
    _write(out / "grade_counts.csv", buf.getvalue())
    _write(
        out / "regulator_report.json",
        json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
    )
    return {**report, "folder": str(out)}

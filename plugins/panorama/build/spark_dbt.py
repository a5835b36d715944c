"""dbt on Spark (dbt-spark, session method) with the project's Python functions registered.

dbt-spark runs Python models only by submitting them to Databricks; the one step of the
build that is Python, the assignment of inspectors to spot checks
(``panorama.supervision.assign``), runs on Spark as a Python table function called from SQL
(``int_supervision__assignment`` of the Spark target). This entry point registers that
function on the SparkSession dbt's session connection opens in this process, then runs the
dbt command line: ``python -m panorama.build.spark_dbt <dbt arguments>``.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Iterator

ASSIGNMENT_FUNCTION = "panorama_assign_inspectors"
ASSIGNMENT_SCHEMA = (
    "plan_id string, entity_id string, division_code string, needed_specialism string, "
    "inspector_1 string, inspector_2 string, specialist string, city_backup boolean"
)


_registered: set[int] = set()


class AssignInspectors:
    """Python table function: the rows of one table argument (WITH SINGLE PARTITION), each a
    ``kind`` of row: ``check`` (a drawn entity of a plan), ``inspector``, ``conflict``, ``done``
    (an assignment already kept); yields the assignments of the plans not yet assigned, the
    same as the DuckDB target's Python model."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def eval(self, row) -> Iterator[tuple]:
        self.rows.append(row.asDict())
        yield from ()

    def terminate(self) -> Iterator[tuple]:
        from panorama.supervision.assign import assign_plans

        by_kind: dict[str, list[dict]] = defaultdict(list)
        for r in self.rows:
            by_kind[r["kind"]].append(r)
        for plan_id, a in assign_plans(
            by_kind["check"], by_kind["inspector"], by_kind["conflict"], by_kind["done"]
        ):
            yield (
                plan_id,
                a.entity_id,
                a.division_code,
                a.needs,
                a.inspector_1,
                a.inspector_2,
                a.specialist,
                a.city_backup,
            )


def register(session) -> None:
    """Register the project's Python table functions on ``session`` (once per session)."""
    from pyspark.sql.functions import udtf

    if id(session) in _registered:
        return
    session.udtf.register(ASSIGNMENT_FUNCTION, udtf(AssignInspectors, returnType=ASSIGNMENT_SCHEMA))
    _registered.add(id(session))


def _register_on_every_session() -> None:
    """dbt-spark's session cursor calls ``SparkSession.builder...getOrCreate()`` per query:
    the functions are registered on the session it gets."""
    from pyspark.sql import SparkSession

    original = SparkSession.Builder.getOrCreate

    def get_or_create(self):
        session = original(self)
        register(session)
        return session

    SparkSession.Builder.getOrCreate = get_or_create


def main(argv: list[str] | None = None) -> int:
    # Python workers (the table function) run this interpreter and its packages (pyarrow, the
    # project), not whatever python3 is first on the PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    _register_on_every_session()
    from dbt.cli.main import cli

    try:
        cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="dbt")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

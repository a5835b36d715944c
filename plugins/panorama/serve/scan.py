"""Value scan of served files: personal data that must not be there.

Every text value of every table of a served DuckDB file is searched for a resident ID number
(division code, birth date, GB 11643 check character) and a mainland mobile number. Only the
regulators' file may hold personal identifiers, and only masked; the scan reports the table,
column and count, never the values.
"""

from __future__ import annotations

from pathlib import Path

from panorama import warehouse
from panorama.identity.pii import (
    find_id_card_numbers,
    is_resident_id_number,
    sql_has_id_card_number,
    sql_has_mobile_number,
)


def scan_file(path: Path, tables: tuple[str, ...] | None = None) -> list[dict[str, object]]:
    """``{table, column, kind, rows}`` for every column holding an ID or mobile number (of
    ``tables``, ``schema.table``, when given). One query per table counts both kinds in every
    column; the ID candidates it finds are then confirmed (division, birth date) in Python."""
    found: list[dict[str, object]] = []
    with warehouse.connect(path) as con:
        cols: dict[str, list[str]] = {}
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() order by 1, 2, ordinal_position"
        ).fetchall():
            if tables is None or f"{schema}.{table}" in tables:
                cols.setdefault(f'"{schema}"."{table}"', []).append(column)
        for rel, columns in cols.items():
            exprs = [f'cast("{c}" as varchar)' for c in columns]
            checks = [
                f"count(*) filter (where {check(e)})"
                for e in exprs
                for check in (sql_has_id_card_number, sql_has_mobile_number)
            ]
            counts = con.execute(f"select {', '.join(checks)} from {rel}").fetchone()
            for i, (column, expr) in enumerate(zip(columns, exprs, strict=True)):
                n_ids, n_mobiles = counts[2 * i], counts[2 * i + 1]
                if n_ids:
                    values = con.execute(
                        f"select {expr} from {rel} where {sql_has_id_card_number(expr)}"
                    ).fetchall()
                    n_ids = sum(
                        any(is_resident_id_number(m) for m in find_id_card_numbers(v))
                        for (v,) in values
                    )
                for kind, n in (("resident ID number", n_ids), ("mobile number", n_mobiles)):
                    if n:
                        table = rel.replace('"', "")
                        found.append({"table": table, "column": column, "kind": kind, "rows": n})
    return found

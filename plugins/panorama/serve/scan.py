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


def scan_file(path: Path) -> list[dict[str, object]]:
    """``{table, column, kind, rows}`` for every column holding an ID or mobile number."""
    found: list[dict[str, object]] = []
    with warehouse.connect(path) as con:
        cols = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() order by 1, 2, 3"
        ).fetchall()
        for schema, table, column in cols:
            expr = f'cast("{column}" as varchar)'
            rel = f'"{schema}"."{table}"'
            ids = con.execute(
                f"select {expr} from {rel} where {sql_has_id_card_number(expr)}"
            ).fetchall()
            n_ids = sum(
                1 for (v,) in ids if any(is_resident_id_number(m) for m in find_id_card_numbers(v))
            )
            n_mobiles = con.execute(
                f"select count(*) from {rel} where {sql_has_mobile_number(expr)}"
            ).fetchone()[0]
            for kind, n in (("resident ID number", n_ids), ("mobile number", n_mobiles)):
                if n:
                    found.append(
                        {"table": f"{schema}.{table}", "column": column, "kind": kind, "rows": n}
                    )
    return found

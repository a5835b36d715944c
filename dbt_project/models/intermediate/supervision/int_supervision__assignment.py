"""检查人员分派: two inspectors for every check of a plan (panorama.supervision.assign), for
each plan of the population snapshot not yet assigned, in plan order; the previous plan's
inspectors of an entity are avoided. Kept once written, like the draw."""

from collections import defaultdict


def _rows(relation):
    table = relation.arrow()
    table = table.read_all() if hasattr(table, "read_all") else table
    return table.to_pylist()


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        unique_key=["plan_id", "entity_id"],
        incremental_strategy="delete+insert",
    )
    import pyarrow as pa
    from panorama.supervision import assign as fa

    population = _rows(dbt.ref("fct_spot_check_population").filter("drawn"))
    inspectors = [
        fa.Inspector(r["inspector_id"], r["division_code"], fa.parse_specialisms(r["specialisms"]))
        for r in _rows(dbt.ref("supervision_inspectors"))
    ]
    conflicts = {
        (r["inspector_id"], r["uscc"]) for r in _rows(dbt.ref("supervision_inspector_conflicts"))
    }
    done = []
    if dbt.is_incremental:
        done = _rows(
            session.sql(f"select plan_id, entity_id, inspector_1, inspector_2 from {dbt.this}")
        )
    by_plan = defaultdict(list)
    for r in population:
        by_plan[r["plan_id"]].append(r)
    assigned_plans = {r["plan_id"] for r in done}
    history = defaultdict(dict)
    for r in done:
        history[r["plan_id"]][r["entity_id"]] = {r["inspector_1"], r["inspector_2"]}
    out = []
    for plan_id in sorted(by_plan):
        if plan_id in assigned_plans:
            continue
        earlier = [p for p in history if p < plan_id]
        previous = history[max(earlier)] if earlier else {}
        rows = by_plan[plan_id]
        checks = [fa.check_of(r) for r in rows]
        result = fa.assign(checks, inspectors, conflicts, previous, rows[0]["draw_seed"], plan_id)
        history[plan_id] = {a.entity_id: {a.inspector_1, a.inspector_2} for a in result}
        for a in result:
            out.append(
                {
                    "plan_id": plan_id,
                    "entity_id": a.entity_id,
                    "division_code": a.division_code,
                    "needed_specialism": a.needs,
                    "inspector_1": a.inspector_1,
                    "inspector_2": a.inspector_2,
                    "specialist": a.specialist,
                    "city_backup": a.city_backup,
                }
            )
    schema = pa.schema(
        [
            ("plan_id", pa.string()),
            ("entity_id", pa.string()),
            ("division_code", pa.string()),
            ("needed_specialism", pa.string()),
            ("inspector_1", pa.string()),
            ("inspector_2", pa.string()),
            ("specialist", pa.string()),
            ("city_backup", pa.bool_()),
        ]
    )
    return pa.Table.from_pylist(out, schema=schema)

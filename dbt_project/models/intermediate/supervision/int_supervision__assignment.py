"""检查人员分派: two inspectors for every check of a plan (panorama.supervision.assign), for
each plan of the population snapshot not yet assigned, in plan order; the previous plan's
inspectors of an entity are avoided. Kept once written, like the draw."""


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
    from panorama.supervision.assign import assign_plans

    done = []
    if dbt.is_incremental:
        done = _rows(
            session.sql(f"select plan_id, entity_id, inspector_1, inspector_2 from {dbt.this}")
        )
    out = [
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
        for plan_id, a in assign_plans(
            _rows(dbt.ref("fct_spot_check_population").filter("drawn")),
            _rows(dbt.ref("supervision_inspectors")),
            _rows(dbt.ref("supervision_inspector_conflicts")),
            done,
        )
    ]
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

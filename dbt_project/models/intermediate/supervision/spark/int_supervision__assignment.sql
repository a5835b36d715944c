{{
    config(
        materialized='incremental',
        incremental_strategy='append'
    )
}}
{#- 检查人员分派 on Spark: the same assignment as the Python model of the DuckDB target
    (../int_supervision__assignment.py, panorama.supervision.assign), run by the Python table
    function panorama_assign_inspectors that `python -m panorama.build.spark_dbt` registers
    on the session. One partition: plans are assigned in order, each avoiding the previous
    plan's inspectors. Kept once written (append of the plans not yet assigned). -#}
select * from panorama_assign_inspectors(table(

    select
        'check' as kind, plan_id, entity_id, uscc, division_code, industry_model, draw_key,
        draw_seed, cast(null as string) as inspector_id, cast(null as string) as specialisms,
        cast(null as string) as inspector_1, cast(null as string) as inspector_2
    from {{ ref('fct_spot_check_population') }}
    where drawn

    union all

    select
        'inspector', null, null, null, division_code, null, null, null, inspector_id,
        specialisms, null, null
    from {{ ref('supervision_inspectors') }}

    union all

    select 'conflict', null, null, uscc, null, null, null, null, inspector_id, null, null, null
    from {{ ref('supervision_inspector_conflicts') }}

    {% if is_incremental() %}
    union all

    select 'done', plan_id, entity_id, null, null, null, null, null, null, null, inspector_1,
        inspector_2
    from {{ this }}
    {% endif %}

) with single partition)

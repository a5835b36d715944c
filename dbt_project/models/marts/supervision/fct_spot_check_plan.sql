{{
    config(
        materialized='incremental',
        unique_key=['plan_id', 'entity_id'],
        incremental_strategy=incremental_strategy_keyed(),
        meta={'kept': true},
        on_schema_change='append_new_columns'
    )
}}
{#- 双随机抽查计划: the entities drawn for a period's spot checks (fct_spot_check_population,
    drawn) and the two inspectors assigned to each (int_supervision__assignment). Internal until
    the checks are done. Drawn once per plan and kept: later builds of the same period insert
    nothing, so grades moving during the quarter do not redraw it. -#}
with

drawn as (

    select * from {{ ref('fct_spot_check_population') }}
    where drawn
    {% if is_incremental() %}
        and plan_id not in (select distinct plan_id from {{ this }})
    {% endif %}

)

select
    drawn.plan_id,
    drawn.entity_id,
    drawn.entity_name,
    drawn.entity_type,
    drawn.division_code,
    drawn.division_name,
    drawn.stratum,
    ratios.description as stratum_description,
    drawn.grade_at_draw,
    drawn.score_at_draw,
    drawn.ratio,
    drawn.stratum_population,
    drawn.draw_rank,
    assignment.inspector_1,
    assignment.inspector_2,
    assignment.needed_specialism,
    assignment.specialist,
    assignment.city_backup,
    drawn.draw_seed,
    drawn.drawn_on,
    drawn.drawn_by_run
from drawn
inner join {{ ref('supervision_spot_check_ratios') }} as ratios on ratios.stratum = drawn.stratum
left join {{ ref('int_supervision__assignment') }} as assignment
    on assignment.plan_id = drawn.plan_id and assignment.entity_id = drawn.entity_id

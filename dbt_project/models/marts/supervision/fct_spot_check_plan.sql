{{
    config(
        materialized='incremental',
        unique_key=['plan_id', 'entity_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- 双随机抽查计划: the entities drawn for a period's spot checks and the two inspectors drawn
    for each (双随机: random entities, random inspectors). Internal until the checks are done.

    Population: entities in business (存续/在业) with a grade. Each falls in one stratum of
    reference.supervision_spot_check_ratios (the first by priority it meets) and each stratum
    draws ceil(ratio × population) entities: those with the smallest md5(seed|plan|stratum|
    entity). Inspectors: two distinct staff of the entity's division (the city bureau's staff
    when the division has too few), the smallest md5(seed|plan|entity|inspector).

    A plan is drawn on the first build of its period and then kept: later builds of the same
    period insert nothing, so grades moving during the quarter do not redraw it. The row keeps
    the seed, the draw date and the grade at the draw: the plan can be recomputed from them and
    risk.fct_risk_grade_history. -#}
with

{% if is_incremental() %}
already_drawn as (

    select count(*) as n from {{ this }} where plan_id = {{ spot_check_plan_id() }}

),
{% endif %}

population as (

    select
        entity.entity_id,
        entity.entity_name,
        entity.entity_type,
        entity.division_code,
        entity.division_name,
        entity.annual_report_years_missed,
        grade.grade,
        grade.score
    from {{ ref('dim_entity') }} as entity
    inner join {{ ref('fct_risk_grade') }} as grade on grade.entity_id = entity.entity_id
    where entity.status in ('存续', '在业')
    {% if is_incremental() %}
        and (select n from already_drawn) = 0
    {% endif %}

),

stratified as (

    select
        population.*,
        ratios.stratum,
        ratios.description as stratum_description,
        cast(ratios.ratio as decimal(9, 4)) as ratio
    from population
    inner join {{ ref('supervision_spot_check_ratios') }} as ratios
        on (ratios.stratum_type = 'grade' and ratios.grade = population.grade)
        or (
            ratios.stratum_type = 'targeted'
            and ratios.stratum = 'no_annual_report_2y'
            and population.annual_report_years_missed >= 2
        )
    qualify row_number() over (partition by population.entity_id order by ratios.priority) = 1

),

ranked as (

    select
        *,
        count(*) over (partition by stratum) as stratum_population,
        row_number() over (
            partition by stratum
            order by {{ spot_check_draw_key(['stratum', 'entity_id']) }}, entity_id
        ) as draw_rank
    from stratified

),

drawn as (

    select *
    from ranked
    where draw_rank <= ceil(ratio * stratum_population)

),

inspector_picks as (

    select
        drawn.entity_id,
        inspector.inspector_id,
        row_number() over (
            partition by drawn.entity_id
            order by
                inspector.division_code <> drawn.division_code,
                {{ spot_check_draw_key(['drawn.entity_id', 'inspector.inspector_id']) }}
        ) as pick
    from drawn
    inner join {{ ref('supervision_inspectors') }} as inspector
        on inspector.division_code in (drawn.division_code, '371400')

),

inspectors as (

    select
        entity_id,
        max(inspector_id) filter (where pick = 1) as inspector_1,
        max(inspector_id) filter (where pick = 2) as inspector_2
    from inspector_picks
    group by entity_id

)

select
    {{ spot_check_plan_id() }} as plan_id,
    drawn.entity_id,
    drawn.entity_name,
    drawn.entity_type,
    drawn.division_code,
    drawn.division_name,
    drawn.stratum,
    drawn.stratum_description,
    drawn.grade as grade_at_draw,
    drawn.score as score_at_draw,
    drawn.ratio,
    drawn.stratum_population,
    drawn.draw_rank,
    inspectors.inspector_1,
    inspectors.inspector_2,
    '{{ var("spot_check_seed") }}' as draw_seed,
    {{ as_of_date() }} as drawn_on,
    '{{ pipeline_run_id() }}' as drawn_by_run
from drawn
left join inspectors on inspectors.entity_id = drawn.entity_id

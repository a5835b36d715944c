{{
    config(
        materialized='incremental',
        unique_key=['plan_id', 'entity_id'],
        incremental_strategy=incremental_strategy_keyed(),
        meta={'kept': true},
        on_schema_change='fail'
    )
}}
{#- 抽查总体快照: every entity eligible for a plan's draw, with the attributes that placed it in
    its stratum at the draw (grade, score, status, missed annual reports), the strata it met,
    the stratum it was drawn in and its draw key and rank. Written on the first build of a
    plan's period and then kept, so the draw can be recomputed later from this table and the
    seed (`panorama spot-check verify PLAN`) however the entities have changed since.

    Stratum rule: an entity meeting several active strata of reference.supervision_spot_check_
    ratios is drawn in the one with the highest ratio (ties: the lower priority number), so no
    rule ever lowers the ratio that applies to an entity. -#}
with

{% if is_incremental() %}
already_drawn as (

    select count(*) as n from {{ this }} where plan_id = {{ spot_check_plan_id() }}

),
{% endif %}

population as (

    select
        entity.entity_id,
        entity.uscc,
        entity.entity_name,
        entity.entity_type,
        entity.division_code,
        entity.division_name,
        entity.status,
        coalesce(entity.annual_report_years_missed, 0) as annual_report_years_missed,
        grade.grade,
        grade.score,
        grade.industry_model
    from {{ ref('dim_entity') }} as entity
    inner join {{ ref('fct_risk_grade') }} as grade on grade.entity_id = entity.entity_id
    where entity.status in ('存续', '在业')
    {% if is_incremental() %}
        and (select n from already_drawn) = 0
    {% endif %}

),

matches as (

    select
        population.entity_id,
        ratios.stratum,
        cast(ratios.ratio as decimal(9, 4)) as ratio,
        ratios.priority
    from population
    inner join {{ ref('supervision_spot_check_ratios') }} as ratios
        on ratios.active
        and (ratios.stratum_type <> 'grade' or ratios.grade = population.grade)
        and (
            ratios.min_years_missed is null
            or population.annual_report_years_missed >= ratios.min_years_missed
        )
        and (ratios.min_score is null or population.score >= ratios.min_score)
        and (ratios.stratum_type = 'grade' or ratios.min_years_missed is not null
            or ratios.min_score is not null)

),

qualifying as (

    select entity_id, {{ ordered_agg('stratum', "','", 'priority') }} as qualifying_strata
    from matches
    group by entity_id

),

stratified as (

    select
        population.*,
        qualifying.qualifying_strata,
        matches.stratum,
        matches.ratio
    from population
    inner join matches on matches.entity_id = population.entity_id
    inner join qualifying on qualifying.entity_id = population.entity_id
    qualify row_number() over (
        partition by matches.entity_id order by matches.ratio desc, matches.priority
    ) = 1

),

ranked as (

    select
        *,
        count(*) over (partition by stratum) as stratum_population,
        {{ spot_check_draw_key(['stratum', 'entity_id']) }} as draw_key,
        row_number() over (
            partition by stratum
            order by {{ spot_check_draw_key(['stratum', 'entity_id']) }}, entity_id
        ) as draw_rank
    from stratified

)

select
    {{ spot_check_plan_id() }} as plan_id,
    entity_id,
    uscc,
    entity_name,
    entity_type,
    division_code,
    division_name,
    status as status_at_draw,
    annual_report_years_missed as years_missed_at_draw,
    grade as grade_at_draw,
    score as score_at_draw,
    industry_model,
    qualifying_strata,
    stratum,
    ratio,
    stratum_population,
    draw_key,
    cast(draw_rank as bigint) as draw_rank,
    draw_rank <= ceil(ratio * stratum_population) as drawn,
    '{{ var("spot_check_seed") }}' as draw_seed,
    {{ as_of_date() }} as drawn_on,
    '{{ pipeline_run_id() }}' as drawn_by_run
from ranked

{#- Spot-check results (stg_raw__spot_check) resolved to entities and joined to the plan of
    their quarter: plan_id = the quarter of the check date (plans are quarterly). in_plan when
    the entity was drawn in that plan; grade_at_draw from the plan, else the entity's current
    grade (grade_basis says which). -#}
select
    spot.record_id,
    resolved.entity_id,
    spot.task_id,
    spot.task_name,
    spot.check_date,
    {{ year_text('spot.check_date') }} || 'Q' || cast(quarter(spot.check_date) as string)
        as check_quarter,
    spot.check_type,
    spot.check_items,
    spot.check_result,
    spot.result_class,
    plan.plan_id is not null as in_plan,
    plan.plan_id,
    plan.stratum,
    coalesce(plan.division_code, entity.division_code) as division_code,
    coalesce(plan.grade_at_draw, grade.grade) as grade,
    case when plan.plan_id is not null then 'at_draw' else 'current' end as grade_basis
from {{ ref('stg_raw__spot_check') }} as spot
inner join {{ ref('int_resolution__records') }} as resolved
    on resolved.record_id = spot.record_id
left join {{ ref('fct_spot_check_plan') }} as plan
    on plan.entity_id = resolved.entity_id
    and plan.plan_id
        = {{ year_text('spot.check_date') }} || 'Q' || cast(quarter(spot.check_date) as string)
left join {{ ref('dim_entity') }} as entity on entity.entity_id = resolved.entity_id
left join {{ ref('fct_risk_grade') }} as grade on grade.entity_id = resolved.entity_id
where resolved.entity_id is not null
    and spot.check_date is not null
    and spot.check_date <= {{ as_of_date() }}

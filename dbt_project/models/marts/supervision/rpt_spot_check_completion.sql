{#- 抽查完成情况: per plan, stratum and division, the entities drawn and what came back from
    the checks of the plan's quarter: checked (at least one result), not checked yet, not
    reachable (通过登记的住所无法联系), not operating, operating checked, problems found and the
    problem rate among operating checked entities (lost-contact and non-operating excluded, as
    in the Dezhou figure). An entity's latest result in the quarter counts. -#}
with

results as (

    select *
    from {{ ref('int_supervision__check_results') }}
    where in_plan
    qualify row_number() over (
        partition by plan_id, entity_id order by check_date desc, record_id
    ) = 1

),

joined as (

    select
        plan.plan_id,
        plan.stratum,
        plan.division_code,
        plan.division_name,
        plan.entity_id,
        results.result_class
    from {{ ref('fct_spot_check_plan') }} as plan
    left join results
        on results.plan_id = plan.plan_id and results.entity_id = plan.entity_id

)

select
    plan_id,
    stratum,
    division_code,
    any_value(division_name) as division_name,
    count(*) as drawn,
    count(result_class) as checked,
    count(*) - count(result_class) as not_checked,
    count(*) filter (where result_class = 'not_reachable') as not_reachable,
    count(*) filter (where result_class = 'not_operating') as not_operating,
    count(*) filter (where result_class in ('problem', 'no_problem')) as operating_checked,
    count(*) filter (where result_class = 'problem') as problems_found,
    round(
        count(*) filter (where result_class = 'problem')
        / nullif(count(*) filter (where result_class in ('problem', 'no_problem')), 0),
        4
    ) as problem_rate
from joined
group by plan_id, stratum, division_code

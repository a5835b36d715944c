{#- 检查人员工作量: per plan and division, checks per inspector of the division's own staff
    (inspectors with no check count as 0), min, max and the spread max/min (target ≤ 1.25 where
    the pool allows), and how many checks needed the city bureau's staff. -#}
with

slots as (

    select plan_id, division_code, inspector_1 as inspector_id
    from {{ ref('int_supervision__assignment') }}
    union all
    select plan_id, division_code, inspector_2 as inspector_id
    from {{ ref('int_supervision__assignment') }}

),

per_inspector as (

    select plans.plan_id, inspector.division_code, inspector.inspector_id, count(slots.inspector_id) as checks
    from (select distinct plan_id, division_code from slots) as plans
    inner join {{ ref('supervision_inspectors') }} as inspector
        on inspector.division_code = plans.division_code
    left join slots
        on slots.plan_id = plans.plan_id and slots.inspector_id = inspector.inspector_id
    group by plans.plan_id, inspector.division_code, inspector.inspector_id

),

backups as (

    select plan_id, division_code, count(*) filter (where city_backup) as city_backup_checks,
        count(*) as checks
    from {{ ref('int_supervision__assignment') }}
    group by plan_id, division_code

)

select
    per_inspector.plan_id,
    per_inspector.division_code,
    any_value(backups.checks) as checks,
    count(*) as inspectors,
    min(per_inspector.checks) as min_checks_per_inspector,
    max(per_inspector.checks) as max_checks_per_inspector,
    round(max(per_inspector.checks) / nullif(min(per_inspector.checks), 0), 4) as spread,
    any_value(backups.city_backup_checks) as city_backup_checks
from per_inspector
left join backups
    on backups.plan_id = per_inspector.plan_id
    and backups.division_code = per_inspector.division_code
group by per_inspector.plan_id, per_inspector.division_code

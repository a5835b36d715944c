{#- Inspectors are never assigned against a declared conflict (回避), never to an entity they
    checked in the previous plan, and a check whose industry needs a specialist has one. -#}
with

assignment as (

    select
        assignment.*,
        population.uscc,
        dense_rank() over (order by assignment.plan_id) as plan_no
    from {{ ref('int_supervision__assignment') }} as assignment
    inner join {{ ref('fct_spot_check_population') }} as population
        on population.plan_id = assignment.plan_id
        and population.entity_id = assignment.entity_id

),

slots as (

    select plan_id, plan_no, entity_id, uscc, inspector_1 as inspector_id from assignment
    union all
    select plan_id, plan_no, entity_id, uscc, inspector_2 from assignment

)

select slots.plan_id, slots.entity_id, 'assigned against a declared conflict' as problem
from slots
inner join {{ ref('supervision_inspector_conflicts') }} as conflict
    on conflict.inspector_id = slots.inspector_id and conflict.uscc = slots.uscc

union all

select slots.plan_id, slots.entity_id, 'same inspector as in the previous plan'
from slots
inner join slots as earlier
    on earlier.entity_id = slots.entity_id
    and earlier.plan_no = slots.plan_no - 1
    and earlier.inspector_id = slots.inspector_id

union all

select assignment.plan_id, assignment.entity_id, 'no specialist for a check that needs one'
from assignment
left join {{ ref('supervision_inspectors') }} as inspector
    on inspector.inspector_id = assignment.specialist
where assignment.needed_specialism is not null
    and coalesce(not contains(';' || inspector.specialisms || ';',
        ';' || assignment.needed_specialism || ';'), true)

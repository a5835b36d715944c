{#- Every stratum of every plan drew exactly ceil(ratio × population) entities, each entity at
    most once per plan, and each with two different inspectors. -#}
select plan_id, stratum, 'drawn differs from ceil(ratio x population)' as problem
from {{ ref('rpt_spot_check_plan') }}
where drawn <> ceil(ratio * population)

union all

select plan_id, entity_id, 'entity drawn twice in a plan'
from {{ ref('fct_spot_check_plan') }}
group by plan_id, entity_id
having count(*) > 1

union all

select plan_id, entity_id, 'the same inspector twice'
from {{ ref('fct_spot_check_plan') }}
where inspector_1 = inspector_2

{#- Score 0–1000 (higher = riskier) of each entity in each model that grades it: the sum of
    its indicator points (protective indicators earn negative points), kept inside [0, 1000].
    Entities earning no points score 0. -#}
with

entity_models as (

    select * from {{ ref('int_risk__entity_models') }}

),

points as (

    select entity_id, model_name, sum(points) as points
    from {{ ref('int_risk__indicator_points') }}
    group by entity_id, model_name

)

select
    entity_models.entity_id,
    entity_models.model_name,
    entity_models.model_role,
    cast(round(greatest(least(coalesce(points.points, 0), 1000), 0)) as integer) as score
from entity_models
left join points
    on points.entity_id = entity_models.entity_id
    and points.model_name = entity_models.model_name

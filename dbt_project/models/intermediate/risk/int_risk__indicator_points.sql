{#- Points each indicator earns in each risk model that grades the entity (its base model and,
    for industries with one, its industry model), per seed risk_indicator_weights:
      per_unit  points × value, capped at max_points
      at_least  points when value >= threshold
      below     points when value <  threshold
    Several weight rows for one indicator add up. Negative points mark protective indicators
    (long-established, larger capital). Only rows earning points (positive or negative) are
    kept. -#}
with

entity_models as (

    select * from {{ ref('int_risk__entity_models') }}

),

weighted as (

    select
        entity_models.entity_id,
        entity_models.model_name,
        entity_models.model_role,
        indicators.indicator,
        indicators.value,
        case weights.method
            when 'per_unit' then least(indicators.value * weights.points,
                                       coalesce(weights.max_points, indicators.value * weights.points))
            when 'at_least' then case when indicators.value >= weights.threshold then weights.points else 0 end
            when 'below' then case when indicators.value < weights.threshold then weights.points else 0 end
            else 0
        end as points
    from {{ ref('int_risk__indicators_long') }} as indicators
    inner join {{ ref('risk_indicator_weights') }} as weights
        on weights.indicator = indicators.indicator
    inner join entity_models
        on entity_models.entity_id = indicators.entity_id
        and entity_models.model_name = weights.model_name

)

select
    entity_id,
    model_name,
    model_role,
    indicator,
    max(value) as value,
    sum(points) as points
from weighted
group by entity_id, model_name, model_role, indicator
having sum(points) <> 0

{#- The risk models that grade each entity: its base model (general or individual) and, for
    industries with one, its industry model. One row per entity and model; the points and the
    scores are computed per row of this model. -#}
with

indicators as (

    select entity_id, base_risk_model, industry_risk_model
    from {{ ref('int_risk__indicators') }}

)

select entity_id, base_risk_model as model_name, 'base' as model_role
from indicators

union all

select entity_id, industry_risk_model, 'industry'
from indicators
where industry_risk_model is not null

{#- The indicators in long form (entity, indicator, value): what weights and overrides join
    on. Only indicators listed in seed risk_indicators, only known values. -#}
with

unpivoted as (

    {{ unpivot_relation(
        ref('int_risk__indicators'),
        keep=['entity_id'],
        drop=['entity_type', 'base_risk_model', 'industry_risk_model'],
        name='indicator',
        value='value'
    ) }}

)

select
    unpivoted.entity_id,
    unpivoted.indicator,
    cast(unpivoted.value as double) as value
from unpivoted
inner join {{ ref('risk_indicators') }} as definitions
    on definitions.indicator = unpivoted.indicator
where unpivoted.value is not null

{#- Basic attributes of each registered entity, classified with the reference seeds: entity
    type, division, industry section, industry risk (longest matching code prefix), the risk
    models that grade it, age and data completeness. One row per entity. -#}
with

registry as (

    select * from {{ ref('int_resolution__registry') }}

),

entity_types as (

    select * from {{ ref('ref_entity_types') }}

),

industry_risk as (

    select * from {{ ref('ref_industry_risk') }}

),

{#- the type named by a keyword of the registered type text (a join, not a correlated
    subquery: Spark does not plan a correlated non-equality predicate) -#}
keyword_types as (

    select registry.entity_id, min(t.entity_type) as entity_type
    from registry
    inner join entity_types as t
        on t.name_keyword is not null and contains(registry.entity_type_text, t.name_keyword)
    group by registry.entity_id

),

typed as (

    select
        registry.*,
        coalesce(
            registry.uscc_entity_type,
            keyword_types.entity_type,
            'enterprise'
        ) as entity_type
    from registry
    left join keyword_types on keyword_types.entity_id = registry.entity_id

),

industry_prefixes as (

    select entity_id, {{ unnest_values([
        'left(industry_code, 1)', 'left(industry_code, 2)', 'left(industry_code, 3)',
        'left(industry_code, 4)', 'left(industry_code, 5)'
    ]) }} as industry_prefix
    from registry
    where industry_code is not null

),

industry_match as (

    select
        industry_prefixes.entity_id,
        max_by(industry_risk.risk_level, length(industry_risk.industry_prefix)) as industry_risk_level,
        max_by(industry_risk.highly_sensitive, length(industry_risk.industry_prefix)) as highly_sensitive,
        max_by(industry_risk.industry_model, length(industry_risk.industry_prefix)) as industry_model,
        max_by(industry_risk.industry_name, length(industry_risk.industry_prefix)) as industry_risk_name
    from industry_prefixes
    inner join industry_risk on industry_risk.industry_prefix = industry_prefixes.industry_prefix
    group by industry_prefixes.entity_id

),

base_models as (

    select model_name, entity_type from {{ ref('risk_models') }} where model_role = 'base'

)

select
    typed.entity_id,
    typed.entity_type,
    entity_types.entity_type_name,
    typed.division_code,
    divisions.division_name,
    typed.industry_code,
    left(typed.industry_code, 1) as industry_section,
    sections.section_name as industry_section_name,
    coalesce(industry_match.industry_risk_level, 0) as industry_risk_level,
    coalesce(industry_match.highly_sensitive, false) as highly_sensitive_industry,
    industry_match.industry_risk_name,
    coalesce(specific_model.model_name, default_model.model_name) as base_risk_model,
    industry_match.industry_model as industry_risk_model,
    {{ dbt.datediff('typed.established_date', as_of_date(), 'day') }} / {{ double_literal('365.25') }} as age_years,
    coalesce({{ similar_to('typed.status', '.*(吊销|撤销|责令关闭).*') }}, false) as is_revoked,
    (
        (typed.entity_name is not null)::int + (typed.entity_type_text is not null)::int
        + (typed.division_code is not null)::int + (typed.industry_code is not null)::int
        + (typed.address is not null)::int + (typed.legal_rep is not null)::int
        + (typed.legal_rep_id_hash is not null)::int + (typed.registered_capital is not null)::int
        + (typed.established_date is not null)::int + (typed.status is not null)::int
    ) / {{ double_literal('10.0') }} as data_completeness
from typed
left join entity_types on entity_types.entity_type = typed.entity_type
left join {{ ref('ref_divisions') }} as divisions on divisions.division_code = typed.division_code
left join {{ ref('ref_industry_sections') }} as sections
    on sections.industry_section = left(typed.industry_code, 1)
left join industry_match on industry_match.entity_id = typed.entity_id
left join base_models as specific_model on specific_model.entity_type = typed.entity_type
left join base_models as default_model on default_model.entity_type is null

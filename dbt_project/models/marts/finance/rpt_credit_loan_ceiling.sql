{#- 信用贷款建议额度 (internal, for the bureau's 信易贷 work with banks; never published, since
    it reveals the grade): one row per registered entity with the suggested credit-loan
    ceiling (万元) of seed finance_credit_loan_rules for its entity type and grade, scaled by
    registered capital and kept inside the rule's bounds. Entities no longer operating
    (吊销、注销、撤销、迁出) get 0. -#}
with

entities as (

    select
        entity.entity_id,
        entity.entity_name,
        entity.entity_type,
        entity.entity_type_name,
        entity.division_code,
        entity.division_name,
        entity.registered_capital,
        entity.status,
        coalesce({{ similar_to('entity.status', '.*(吊销|注销|撤销|迁出|责令关闭).*') }}, false) as is_closed,
        grade.grade,
        grade.overrides_label
    from {{ ref('dim_entity') }} as entity
    inner join {{ ref('fct_risk_grade') }} as grade on grade.entity_id = entity.entity_id

),

ruled as (

    select
        entities.*,
        rules.capital_multiple,
        rules.min_ceiling_wan,
        rules.max_ceiling_wan,
        rules.rule_label,
        least(
            rules.max_ceiling_wan,
            greatest(
                rules.min_ceiling_wan,
                coalesce(entities.registered_capital * rules.capital_multiple, rules.min_ceiling_wan)
            )
        ) as rule_ceiling_wan
    from entities
    left join {{ ref('finance_credit_loan_rules') }} as rules
        on rules.entity_type = entities.entity_type
        and rules.grade = entities.grade

)

select
    entity_id,
    entity_name,
    entity_type,
    entity_type_name,
    division_code,
    division_name,
    grade,
    registered_capital,
    capital_multiple,
    min_ceiling_wan,
    max_ceiling_wan,
    case when is_closed then 0 else round(coalesce(rule_ceiling_wan, 0), 1) end
        as suggested_ceiling_wan,
    not is_closed and coalesce(rule_ceiling_wan, 0) > 0 as is_eligible,
    case
        when is_closed then '主体已' || status || '，不建议发放'
        when rule_label is null then '无适用规则'
        else rule_label
    end as basis,
    overrides_label,
    {{ as_of_date() }} as as_of_date
from ruled

{#- 风险指标: one row per registered entity, one column per indicator (names = seed
    risk_indicators.indicator), each defined once here. Windows come from seed risk_windows via
    the int_entity__* models. Booleans are 0/1. -#}
with

attributes as (

    select * from {{ ref('int_entity__attributes') }}

),

registry as (

    select entity_id, registered_capital from {{ ref('int_resolution__registry') }}

),

listings as (

    select * from {{ ref('int_entity__listings') }}

),

relationships as (

    select entity_id_a as entity_id, entity_id_b as related_id, relationship_type
    from {{ ref('int_entity__relationships') }}
    union
    select entity_id_b, entity_id_a, relationship_type
    from {{ ref('int_entity__relationships') }}

),

address_shared as (

    -- 一址多照: other registered entities at the same address
    select entity_id, count(distinct related_id) as address_shared_entities
    from relationships
    where relationship_type = 'shared_address'
    group by entity_id

),

related_bad as (

    select relationships.entity_id, count(distinct relationships.related_id) as related_bad_entities
    from relationships
    inner join listings on listings.entity_id = relationships.related_id
    where listings.serious_dishonest_now or listings.court_debtor_now or listings.abnormal_list_now
        or listings.abnormal_state_now
    group by relationships.entity_id

),

legal_rep_debtors as (

    -- the operator / legal representative is a dishonest judgment debtor (ID hash and name)
    select distinct entity_id
    from {{ ref('int_entity__court_debtor_links') }}
    where listed_date <= {{ as_of_date() }}

)

select
    attributes.entity_id,
    attributes.entity_type,
    attributes.base_risk_model,
    attributes.industry_risk_model,
    (attributes.entity_type = 'individual')::int as individual_business,
    (attributes.entity_type = 'enterprise')::int as enterprise,
    (attributes.entity_type = 'cooperative')::int as cooperative,
    attributes.age_years as entity_age_years,
    registry.registered_capital::double as registered_capital,
    attributes.industry_risk_level::double as industry_risk_level,
    attributes.highly_sensitive_industry::int as highly_sensitive_industry,
    attributes.is_revoked::int as status_revoked,
    coalesce(changes.legal_rep_changes_in_window, 0) as legal_rep_changes_12m,
    coalesce(changes.address_changes_in_window, 0) as address_changes_12m,
    coalesce(licences.expired_licence_count, 0) as expired_licences,
    coalesce(annual_reports.annual_report_years_missed, 0) as annual_reports_missed,
    attributes.data_completeness,
    coalesce(penalties.penalties_in_window, 0) as penalties_3y,
    coalesce(penalties.penalty_amount_in_window, 0)::double as fines_3y,
    coalesce(penalties.severe_penalties_in_window, 0) as severe_penalties_3y,
    coalesce(listings.abnormal_list_now, false)::int as abnormal_list_now,
    coalesce(listings.abnormal_listings_in_window, 0) as abnormal_listings_5y,
    coalesce(listings.abnormal_state_now, false)::int as abnormal_state_now,
    coalesce(listings.abnormal_state_marks_in_window, 0) as abnormal_state_marks_5y,
    coalesce(listings.serious_dishonest_now, false)::int as serious_dishonest_now,
    coalesce(listings.serious_dishonest_past_in_window, 0) as serious_dishonest_past_5y,
    coalesce(listings.court_debtor_now, false)::int as court_debtor_now,
    (legal_rep_debtors.entity_id is not null)::int as legal_rep_court_debtor,
    coalesce(spot_checks.spot_check_problems_in_window, 0) as spot_check_problems_3y,
    coalesce(spot_checks.spot_check_unreachable_in_window, 0) as spot_check_unreachable_3y,
    coalesce(complaints.complaints_in_window, 0) as complaints_12m,
    coalesce(related_bad.related_bad_entities, 0) as related_bad_entities,
    coalesce(address_shared.address_shared_entities, 0) as address_shared_entities
from attributes
inner join registry on registry.entity_id = attributes.entity_id
left join {{ ref('int_entity__changes') }} as changes on changes.entity_id = attributes.entity_id
left join {{ ref('int_entity__licences') }} as licences on licences.entity_id = attributes.entity_id
left join {{ ref('int_entity__annual_reports') }} as annual_reports
    on annual_reports.entity_id = attributes.entity_id
left join {{ ref('int_entity__penalties') }} as penalties on penalties.entity_id = attributes.entity_id
left join listings on listings.entity_id = attributes.entity_id
left join {{ ref('int_entity__spot_checks') }} as spot_checks
    on spot_checks.entity_id = attributes.entity_id
left join {{ ref('int_entity__complaints') }} as complaints
    on complaints.entity_id = attributes.entity_id
left join related_bad on related_bad.entity_id = attributes.entity_id
left join address_shared on address_shared.entity_id = attributes.entity_id
left join legal_rep_debtors on legal_rep_debtors.entity_id = attributes.entity_id

{#- 全景画像: one row per registered market entity (entity_id = USCC), its identity and a
    summary of every department's facts about it as of the as_of_date. -#}
with

registry as (

    select * from {{ ref('int_resolution__registry') }}

),

attributes as (

    select * from {{ ref('int_entity__attributes') }}

),

licences as (

    select * from {{ ref('int_entity__licences') }}

),

penalties as (

    select * from {{ ref('int_entity__penalties') }}

),

listings as (

    select * from {{ ref('int_entity__listings') }}

),

complaints as (

    select * from {{ ref('int_entity__complaints') }}

),

annual_reports as (

    select * from {{ ref('int_entity__annual_reports') }}

),

spot_checks as (

    select * from {{ ref('int_entity__spot_checks') }}

),

changes as (

    select * from {{ ref('int_entity__changes') }}

),

feeds as (

    select * from {{ ref('int_entity__feeds') }}

)

select
    registry.entity_id,
    registry.uscc,
    registry.reg_no,
    registry.org_code,
    registry.entity_name,
    attributes.entity_type,
    attributes.entity_type_name,
    registry.entity_type_text,
    attributes.division_code,
    attributes.division_name,
    attributes.industry_code,
    attributes.industry_section,
    attributes.industry_section_name,
    attributes.industry_risk_level,
    attributes.highly_sensitive_industry,
    registry.address,
    registry.legal_rep,
    registry.registered_capital,
    registry.established_date,
    round(attributes.age_years, 2) as age_years,
    registry.status,
    registry.status_date,
    registry.data_issues as registration_issues,
    coalesce(licences.licence_count, 0) as licence_count,
    coalesce(licences.valid_licence_count, 0) as valid_licence_count,
    coalesce(licences.expired_licence_count, 0) as expired_licence_count,
    coalesce(penalties.penalty_count, 0) as penalty_count,
    cast(coalesce(penalties.penalty_amount_total, 0) as decimal(38, 4)) as penalty_amount_total,
    penalties.latest_penalty_date,
    coalesce(listings.abnormal_list_now, false) as abnormal_list_now,
    listings.abnormal_list_since,
    coalesce(listings.serious_dishonest_now, false) as serious_dishonest_now,
    listings.serious_dishonest_since,
    coalesce(listings.court_debtor_now, false) as court_debtor_now,
    coalesce(complaints.complaint_count, 0) as complaint_count,
    annual_reports.last_filed_year as annual_report_last_filed_year,
    coalesce(annual_reports.annual_report_years_missed, 0) as annual_report_years_missed,
    coalesce(spot_checks.spot_check_count, 0) as spot_check_count,
    coalesce(spot_checks.spot_check_problem_count, 0) as spot_check_problem_count,
    coalesce(changes.legal_rep_changes_in_window, 0) as legal_rep_changes_12m,
    coalesce(changes.address_changes_in_window, 0) as address_changes_12m,
    attributes.data_completeness,
    coalesce(feeds.feed_count, 0) as feed_count,
    feeds.feeds,
    {{ as_of_date() }} as as_of_date
from registry
inner join attributes on attributes.entity_id = registry.entity_id
left join licences on licences.entity_id = registry.entity_id
left join penalties on penalties.entity_id = registry.entity_id
left join listings on listings.entity_id = registry.entity_id
left join complaints on complaints.entity_id = registry.entity_id
left join annual_reports on annual_reports.entity_id = registry.entity_id
left join spot_checks on spot_checks.entity_id = registry.entity_id
left join changes on changes.entity_id = registry.entity_id
left join feeds on feeds.entity_id = registry.entity_id

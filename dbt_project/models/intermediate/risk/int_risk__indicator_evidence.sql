{#- 指标依据: the department records behind each event-based indicator, one row per entity,
    indicator and record, with the event_id of entity.fct_entity_event (md5(record_id|event_type))
    and a short reference (决定书文号, 案号, 投诉编号, 抽查任务, 年度 …). Same windows and rules
    as the int_entity__* models that count them; attribute indicators (age, capital, industry)
    have no evidence rows. -#}
with

resolved as (

    select record_id, entity_id
    from {{ ref('int_resolution__records') }}
    where entity_id is not null

),

penalty_severity as (

    select penalty.record_id, bool_or(category.is_severe) as is_severe
    from {{ ref('stg_raw__penalty') }} as penalty
    inner join {{ ref('ref_penalty_categories') }} as category
        on contains(penalty.penalty_category, category.keyword)
    group by penalty.record_id

),

penalties as (

    select
        resolved.entity_id,
        penalty.record_id,
        'penalty' as event_type,
        penalty.decision_date as event_date,
        concat_ws(' ', penalty.decision_no, penalty.penalty_category) as reference,
        coalesce(penalty_severity.is_severe, false) as is_severe
    from {{ ref('stg_raw__penalty') }} as penalty
    inner join resolved on resolved.record_id = penalty.record_id
    left join penalty_severity on penalty_severity.record_id = penalty.record_id
    where penalty.decision_date >= {{ window_start('penalties') }}
        and penalty.decision_date <= {{ as_of_date() }}

),

abnormal as (

    select
        resolved.entity_id,
        listing.record_id,
        listing.list_date,
        listing.list_reason,
        {{ listed_on_as_of('listing.list_date', 'listing.remove_date') }} as is_now
    from {{ ref('stg_raw__abnormal_list') }} as listing
    inner join resolved on resolved.record_id = listing.record_id

),

abnormal_state as (

    select
        resolved.entity_id,
        mark.record_id,
        mark.mark_date,
        mark.mark_reason,
        {{ listed_on_as_of('mark.mark_date', 'mark.restore_date') }} as is_now
    from {{ ref('stg_raw__abnormal_state') }} as mark
    inner join resolved on resolved.record_id = mark.record_id

),

serious as (

    select
        resolved.entity_id,
        listing.record_id,
        listing.list_date,
        listing.remove_date,
        listing.list_reason,
        {{ listed_on_as_of('listing.list_date', 'listing.remove_date') }} as is_now
    from {{ ref('stg_raw__serious_dishonest') }} as listing
    inner join resolved on resolved.record_id = listing.record_id

),

checks as (

    select
        resolved.entity_id,
        spot.record_id,
        spot.check_date,
        concat_ws(' ', spot.task_name, spot.check_result) as reference,
        spot.problem_found,
        spot.not_reachable
    from {{ ref('stg_raw__spot_check') }} as spot
    inner join resolved on resolved.record_id = spot.record_id
    where spot.check_date >= {{ window_start('spot_checks') }}
        and spot.check_date <= {{ as_of_date() }}

),

changes as (

    select
        resolved.entity_id,
        change.record_id,
        change.change_date,
        change.change_item,
        change.change_type
    from {{ ref('stg_raw__registration_change') }} as change
    inner join resolved on resolved.record_id = change.record_id
    where change.change_date >= {{ window_start('recent_changes') }}
        and change.change_date <= {{ as_of_date() }}

),

evidence as (

    select entity_id, 'penalties_3y' as indicator, record_id, event_type, event_date, reference
    from penalties

    union all

    select entity_id, 'fines_3y', record_id, event_type, event_date, reference
    from penalties

    union all

    select entity_id, 'severe_penalties_3y', record_id, event_type, event_date, reference
    from penalties
    where is_severe

    union all

    select entity_id, 'abnormal_list_now', record_id, 'abnormal_listed', list_date, list_reason
    from abnormal
    where is_now

    union all

    select entity_id, 'abnormal_listings_5y', record_id, 'abnormal_listed', list_date, list_reason
    from abnormal
    where list_date >= {{ window_start('past_listings') }} and list_date <= {{ as_of_date() }}

    union all

    select entity_id, 'abnormal_state_now', record_id, 'abnormal_state_marked', mark_date,
        mark_reason
    from abnormal_state
    where is_now

    union all

    select entity_id, 'abnormal_state_marks_5y', record_id, 'abnormal_state_marked', mark_date,
        mark_reason
    from abnormal_state
    where mark_date >= {{ window_start('past_listings') }} and mark_date <= {{ as_of_date() }}

    union all

    select entity_id, 'serious_dishonest_now', record_id, 'serious_dishonest_listed', list_date,
        list_reason
    from serious
    where is_now

    union all

    select entity_id, 'serious_dishonest_past_5y', record_id, 'serious_dishonest_removed',
        remove_date, list_reason
    from serious
    where remove_date >= {{ window_start('past_listings') }} and remove_date <= {{ as_of_date() }}

    union all

    select
        resolved.entity_id, 'court_debtor_now', court.record_id, 'court_dishonest',
        coalesce(court.publish_date, court.filing_date), concat_ws(' ', court.court, court.case_no)
    from {{ ref('stg_raw__court_dishonest') }} as court
    inner join resolved on resolved.record_id = court.record_id
    where coalesce(court.publish_date, court.filing_date) <= {{ as_of_date() }}

    union all

    -- the court record of the operator / legal representative (no personal data in reference)
    select
        entity_id, 'legal_rep_court_debtor', court_record_id, 'legal_rep_court_dishonest',
        listed_date,
        concat_ws(' ', court, case_no)
    from {{ ref('int_entity__court_debtor_links') }}
    where listed_date <= {{ as_of_date() }}

    union all

    select entity_id, 'spot_check_problems_3y', record_id, 'spot_check', check_date, reference
    from checks
    where problem_found

    union all

    select entity_id, 'spot_check_unreachable_3y', record_id, 'spot_check', check_date, reference
    from checks
    where not_reachable

    union all

    select entity_id, 'legal_rep_changes_12m', record_id, 'change', change_date, change_item
    from changes
    where change_type = 'legal_rep'

    union all

    select entity_id, 'address_changes_12m', record_id, 'change', change_date, change_item
    from changes
    where change_type = 'address'

    union all

    select entity_id, 'expired_licences', record_id, 'licence', valid_to, reference
    from {{ ref('int_entity__licence_records') }}
    where is_expired

    union all

    select
        resolved.entity_id, 'complaints_12m', complaint.record_id, 'complaint',
        complaint.received_date, concat_ws(' ', complaint.complaint_id, complaint.complaint_category)
    from {{ ref('stg_raw__complaint') }} as complaint
    inner join resolved on resolved.record_id = complaint.record_id
    where complaint.received_date >= {{ window_start('complaints') }}
        and complaint.received_date <= {{ as_of_date() }}

    union all

    -- each missed year: the delivered "not filed" row of that year, or, where the delivery has
    -- no row for the year at all, the entity's registration (the report was due and is absent)
    select
        missed.entity_id, 'annual_reports_missed',
        coalesce(report.record_id, missed.registration_record_id),
        case when report.record_id is null then 'registration' else 'annual_report' end,
        make_date(missed.report_year + 1, 6, 30),
        cast(missed.report_year as string) || '年度报告未报送'
            || case when report.record_id is null then '（无报送记录）' else '' end
    from (
        select
            reports.entity_id,
            registry.record_id as registration_record_id,
            {{ unnest_list('reports.annual_report_missed_years') }} as report_year
        from {{ ref('int_entity__annual_reports') }} as reports
        inner join {{ ref('int_resolution__registry') }} as registry
            on registry.entity_id = reports.entity_id
    ) as missed
    left join (
        select resolved.entity_id, report.report_year, min(report.record_id) as record_id
        from {{ ref('stg_raw__annual_report') }} as report
        inner join resolved on resolved.record_id = report.record_id
        where not report.is_filed
        group by resolved.entity_id, report.report_year
    ) as report
        on report.entity_id = missed.entity_id and report.report_year = missed.report_year

),

relationships as (

    select entity_id_a as entity_id, entity_id_b as related_id, relationship_type
    from {{ ref('int_entity__relationships') }}
    union
    select entity_id_b, entity_id_a, relationship_type
    from {{ ref('int_entity__relationships') }}

),

related as (

    -- 关联主体: the listing / court records that make a related entity count, on its timeline
    select distinct
        relationships.entity_id, 'related_bad_entities' as indicator, evidence.record_id,
        evidence.event_type, evidence.event_date,
        '关联主体' || relationships.related_id || ' ' || coalesce(evidence.reference, '')
            as reference
    from relationships
    inner join evidence
        on evidence.entity_id = relationships.related_id
        and evidence.indicator in (
            'serious_dishonest_now', 'court_debtor_now', 'abnormal_list_now', 'abnormal_state_now'
        )

    union all

    -- 一址多照: the registrations of the other entities at the same address
    select
        relationships.entity_id, 'address_shared_entities', registry.record_id, 'registration',
        registry.established_date, '同址主体' || registry.entity_id
    from relationships
    inner join {{ ref('int_resolution__registry') }} as registry
        on registry.entity_id = relationships.related_id
    where relationships.relationship_type = 'shared_address'

),

all_evidence as (

    select * from evidence
    union all
    select * from related

)

select
    md5(entity_id || '|' || indicator || '|' || record_id || '|' || event_type || '|'
        || coalesce(reference, '')) as evidence_id,
    entity_id,
    indicator,
    case when event_type = 'legal_rep_court_dishonest'
        then md5(record_id || '|legal_rep_court_dishonest|' || entity_id)
        else md5(record_id || '|' || event_type)
    end as event_id,
    record_id,
    event_type,
    event_date,
    reference
from all_evidence

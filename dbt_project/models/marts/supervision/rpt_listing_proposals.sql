{#- 严重违法失信名单 listing proposals: entities not currently on the list that meet a ground of
    reference.supervision_listing_grounds, one row per entity and ground, with the records
    behind it (record ids, document or case numbers) and the date it became eligible. A
    proposal for a regulator to decide on; nothing is listed automatically. -#}
with

resolved as (

    select record_id, entity_id
    from {{ ref('int_resolution__records') }}
    where entity_id is not null

),

abnormal_3y as (

    select
        resolved.entity_id,
        'abnormal_3y_unremedied' as ground,
        listing.record_id,
        listing.list_reason || '（列入日期 ' || cast(listing.list_date as string) || '）'
            as evidence,
        cast(listing.list_date + interval 3 year as date) as eligible_since
    from {{ ref('stg_raw__abnormal_list') }} as listing
    inner join resolved on resolved.record_id = listing.record_id
    where listing.list_date + interval 3 year <= {{ as_of_date() }}
        and (listing.remove_date is null or listing.remove_date > {{ as_of_date() }})

),

court as (

    select
        resolved.entity_id,
        'court_dishonest_effective' as ground,
        court.record_id,
        '失信被执行人 ' || court.case_no || '（' || court.court || '，执行依据 '
            || coalesce(court.basis_no, '') || '）' as evidence,
        coalesce(court.publish_date, court.filing_date) as eligible_since
    from {{ ref('stg_raw__court_dishonest') }} as court
    inner join resolved on resolved.record_id = court.record_id
    where coalesce(court.publish_date, court.filing_date) <= {{ as_of_date() }}
        and court.id_code_type <> 'id_card'

),

heavy_penalty as (

    select
        resolved.entity_id,
        'heavy_penalty_food_drug' as ground,
        penalty.record_id,
        '行政处罚 ' || penalty.decision_no || '：' || coalesce(penalty.penalty_content,
            penalty.penalty_category) as evidence,
        penalty.decision_date as eligible_since
    from {{ ref('stg_raw__penalty') }} as penalty
    inner join resolved on resolved.record_id = penalty.record_id
    where penalty.decision_date <= {{ as_of_date() }}
        and penalty.decision_date > {{ as_of_date() }} - interval 3 year
        and penalty.authority like '%市场监督管理%'
        and (
            penalty.fine_amount >= 10
            or penalty.penalty_category like '%吊销%'
            or penalty.penalty_category like '%停产停业%'
        )

),

spot_check as (

    select
        results.entity_id,
        case when results.check_result like '%隐瞒真实情况%' then 'false_public_information'
            else 'refused_check_serious'
        end as ground,
        results.record_id,
        '双随机抽查 ' || results.task_id || '：' || results.check_result as evidence,
        results.check_date as eligible_since
    from {{ ref('int_supervision__check_results') }} as results
    where results.check_result like '%隐瞒真实情况%'
        or results.check_result like '%不配合检查情节严重%'

),

grounds as (

    select * from abnormal_3y
    union all select * from court
    union all select * from heavy_penalty
    union all select * from spot_check

),

listed as (

    select entity_id from {{ ref('int_entity__listings') }} where serious_dishonest_now

)

select
    grounds.entity_id,
    entity.uscc,
    entity.entity_name,
    entity.division_code,
    grounds.ground,
    policy.description as ground_description,
    policy.basis as ground_basis,
    min(grounds.eligible_since) as eligible_since,
    count(*) as record_count,
    {{ ordered_agg('grounds.record_id', "','", 'grounds.eligible_since, grounds.record_id') }}
        as record_ids,
    {{ ordered_agg('grounds.evidence', "'；'", 'grounds.eligible_since, grounds.record_id') }}
        as evidence,
    'proposed' as status
from grounds
inner join {{ ref('dim_entity') }} as entity on entity.entity_id = grounds.entity_id
inner join {{ ref('supervision_listing_grounds') }} as policy on policy.ground = grounds.ground
where grounds.entity_id not in (select entity_id from listed)
    and entity.status in ('存续', '在业')
    and (grounds.ground <> 'abnormal_3y_unremedied' or entity.entity_type <> 'individual')
group by grounds.entity_id, entity.uscc, entity.entity_name, entity.division_code,
    grounds.ground, policy.description, policy.basis

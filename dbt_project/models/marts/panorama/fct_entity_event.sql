{#- 主体事件: one row per department fact about a registered entity (a listing gives a listed
    and, once removed, a removed event), with a short Chinese summary (摘要) and its provenance.
    Records that could not be linked are in rpt_unresolved_records instead; a natural person's
    court record linked to the businesses it runs is on their timelines as
    legal_rep_court_dishonest (and stays in rpt_unresolved_records: a person is no entity). -#}
with

resolved as (

    select record_id, entity_id, resolution_method
    from {{ ref('int_resolution__records') }}
    where entity_id is not null

),

events as (

    select
        record_id, 'registration' as event_type, established_date as event_date,
        concat_ws('', '设立登记：', entity_type_text, '，注册资本',
            cast(registered_capital as string), '万元') as summary,
        registered_capital as amount,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__registration') }}

    union all

    select
        record_id, 'change', change_date,
        concat_ws('', '变更登记：', change_item), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__registration_change') }}

    union all

    select
        record_id, 'penalty', decision_date,
        concat_ws('', '行政处罚：', penalty_category,
            case when fine_amount is not null then '，罚款' || cast(fine_amount as string) || '万元' end,
            '（', authority, ' ', decision_no, '）'),
        fine_amount,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__penalty') }}

    union all

    select
        record_id, 'licence', decision_date,
        concat_ws('', '行政许可：', coalesce(certificate_name, licence_category),
            '，有效期至', cast(valid_to as string), '（', authority, '）'),
        null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__licence') }}

    union all

    select
        record_id, 'spot_check', check_date,
        concat_ws('', '双随机抽查：', check_result, '（', task_name, '）'), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__spot_check') }}

    union all

    select
        record_id, 'abnormal_listed', list_date,
        concat_ws('', '列入经营异常名录：', list_reason), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__abnormal_list') }}

    union all

    select
        record_id, 'abnormal_removed', remove_date,
        concat_ws('', '移出经营异常名录：', remove_reason), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__abnormal_list') }}
    where remove_date is not null

    union all

    select
        record_id, 'abnormal_state_marked', mark_date,
        concat_ws('', '标记为经营异常状态：', mark_reason), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__abnormal_state') }}

    union all

    select
        record_id, 'abnormal_state_restored', restore_date,
        concat_ws('', '恢复正常记载状态：', restore_reason), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__abnormal_state') }}
    where restore_date is not null

    union all

    select
        record_id, 'serious_dishonest_listed', list_date,
        concat_ws('', '列入严重违法失信名单：', list_reason), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__serious_dishonest') }}

    union all

    select
        record_id, 'serious_dishonest_removed', remove_date,
        concat_ws('', '移出严重违法失信名单：', remove_reason), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__serious_dishonest') }}
    where remove_date is not null

    union all

    select
        record_id, 'court_dishonest', coalesce(publish_date, filing_date),
        concat_ws('', '失信被执行人：', court, ' ', case_no, '，', performance), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__court_dishonest') }}

    union all

    select
        record_id, 'complaint', received_date,
        concat_ws('', '投诉举报：', complaint_category, '，', handling_result), null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__complaint') }}

    union all

    select
        record_id, 'annual_report',
        coalesce(filed_date, make_date(report_year + 1, 6, 30)),
        cast(report_year as string) || '年度报告' || case when is_filed then '已报送' else '未报送' end,
        null,
        feed, source_file, source_row, batch_id, load_date
    from {{ ref('stg_raw__annual_report') }}

)

select
    md5(events.record_id || '|' || events.event_type) as event_id,
    resolved.entity_id,
    events.event_type,
    events.event_date,
    events.summary,
    events.amount,
    events.record_id,
    resolved.resolution_method,
    events.feed,
    events.source_file,
    events.source_row,
    events.batch_id,
    events.load_date
from events
inner join resolved on resolved.record_id = events.record_id

union all

-- the operator / legal representative is a dishonest judgment debtor: the person's court record
-- on the timeline of each entity it runs (the record itself stays unresolved: a person is not a
-- market entity); one event per record and entity
select
    md5(court.record_id || '|legal_rep_court_dishonest|' || links.entity_id) as event_id,
    links.entity_id,
    'legal_rep_court_dishonest' as event_type,
    links.listed_date as event_date,
    concat_ws('', case links.relationship_type when 'operator_court_debtor' then '经营者'
        else '法定代表人' end, '为失信被执行人：', court.court, ' ', court.case_no, '，',
        court.performance) as summary,
    null as amount,
    court.record_id,
    'person_id_hash_and_name' as resolution_method,
    court.feed,
    court.source_file,
    court.source_row,
    court.batch_id,
    court.load_date
from {{ ref('int_entity__court_debtor_links') }} as links
inner join {{ ref('stg_raw__court_dishonest') }} as court on court.record_id = links.court_record_id

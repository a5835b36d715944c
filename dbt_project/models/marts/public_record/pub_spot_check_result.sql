{#- 公示·抽查检查结果 (双随机、一公开): spot-check results of registered entities within their
    publicity term (int_public_record__publicity), linked to the entity's USCC: task, checking
    authority, date, type, items and result. Inspectors are not published; an operator's name in
    the entity name is masked. -#}
select
    md5(spot.record_id) as result_id,
    publicity.uscc,
    {{ mask_person_name('spot.party_name', 'entity.legal_rep', 'entity.entity_type') }}
        as entity_name,
    spot.task_id,
    spot.task_name,
    spot.check_org,
    spot.check_date,
    spot.check_type,
    spot.check_items,
    spot.check_result,
    publicity.publicity_until
from {{ ref('stg_raw__spot_check') }} as spot
inner join {{ ref('int_public_record__publicity') }} as publicity
    on publicity.record_kind = 'spot_check' and publicity.record_id = spot.record_id
left join {{ ref('dim_entity') }} as entity
    on entity.entity_id = publicity.uscc
where publicity.publicity_state = 'published'

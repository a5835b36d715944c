{#- 公示·行政许可: licences of registered entities (双公示 licence fields) within their publicity
    term (int_public_record__publicity), linked to the entity's USCC. The legal representative
    is not published; an operator's name in a party name is masked. -#}
select
    md5(licence.record_id) as licence_id,
    publicity.uscc,
    {{ mask_person_name('licence.party_name', 'entity.legal_rep', 'entity.entity_type') }}
        as party_name,
    licence.document_name,
    licence.decision_no,
    licence.licence_category,
    licence.certificate_name,
    licence.licence_no,
    licence.licence_content,
    licence.decision_date,
    licence.valid_from,
    licence.valid_to,
    licence.authority,
    licence.authority_code,
    licence.licence_status,
    licence.data_source,
    licence.data_source_code,
    publicity.publicity_until
from {{ ref('stg_raw__licence') }} as licence
inner join {{ ref('int_public_record__publicity') }} as publicity
    on publicity.record_kind = 'licence' and publicity.record_id = licence.record_id
left join {{ ref('dim_entity') }} as entity
    on entity.entity_id = publicity.uscc
where publicity.publicity_state = 'published'

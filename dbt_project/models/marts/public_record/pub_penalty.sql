{#- 公示·行政处罚: penalties of registered entities (双公示 public fields) within their publicity
    term (int_public_record__publicity: no warning-only penalty, none past its term or ended by
    credit repair), linked to the entity's USCC. Natural persons' penalties and unlinked records
    are not published here; an operator's name in a party name is masked. -#}
select
    md5(penalty.record_id) as penalty_id,
    publicity.uscc,
    {{ mask_person_name('penalty.party_name', 'entity.legal_rep', 'entity.entity_type') }}
        as party_name,
    penalty.decision_no,
    penalty.violation_type,
    penalty.violation_facts,
    penalty.penalty_basis,
    penalty.penalty_category,
    penalty.penalty_content,
    penalty.fine_amount,
    penalty.confiscation_amount,
    penalty.decision_date,
    penalty.valid_until,
    publicity.publicity_until,
    penalty.authority,
    penalty.authority_code,
    penalty.data_source
from {{ ref('stg_raw__penalty') }} as penalty
inner join {{ ref('int_public_record__publicity') }} as publicity
    on publicity.record_kind = 'penalty' and publicity.record_id = penalty.record_id
left join {{ ref('dim_entity') }} as entity
    on entity.entity_id = publicity.uscc
where publicity.publicity_state = 'published'

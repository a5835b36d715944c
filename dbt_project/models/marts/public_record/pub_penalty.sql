{#- 公示·行政处罚: penalties of registered entities (双公示 public fields), linked to the
    entity's USCC. Natural persons' penalties and unlinked records are not published here. -#}
select
    md5(penalty.record_id) as penalty_id,
    resolved.entity_id as uscc,
    penalty.party_name,
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
    penalty.publicity_until,
    penalty.authority,
    penalty.authority_code,
    penalty.data_source
from {{ ref('stg_raw__penalty') }} as penalty
inner join {{ ref('int_resolution__records') }} as resolved
    on resolved.record_id = penalty.record_id
where resolved.entity_id is not null
    and (penalty.publicity_until is null or penalty.publicity_until >= {{ as_of_date() }})

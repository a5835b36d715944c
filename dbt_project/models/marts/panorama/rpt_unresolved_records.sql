{#- 未关联记录: every staged record that could not be linked to a registered entity, with its
    provenance, the identifiers it carried and why. ID-card numbers are masked and natural
    persons' names reduced to the surname. A record the probabilistic matcher placed in its grey
    zone carries its best candidate entity and probability for a person to confirm (待人工复核). -#}
select
    record_id,
    record_kind,
    feed,
    source_file,
    source_row,
    batch_id,
    load_date,
    case
        when unresolved_reason = 'natural_person' then left(party_name, 1) || '**'
        else party_name
    end as party_name,
    uscc,
    uscc_problem,
    reg_no,
    org_code,
    id_code_type,
    id_code_masked,
    unresolved_reason,
    case unresolved_reason
        when 'no_identifier' then '未提供任何代码'
        when 'uscc_not_registered' then '统一社会信用代码有效但本地无登记'
        when 'uscc_invalid_name_mismatch' then '统一社会信用代码校验失败且名称与指向主体不符'
        when 'natural_person' then '自然人（非市场主体）'
        when 'registration_without_valid_uscc' then '登记记录无有效统一社会信用代码'
        when 'ambiguous_identifier' then '代码指向多个主体'
        when 'reg_no_not_registered' then '注册号本地无登记'
        when 'org_code_not_registered' then '组织机构代码本地无登记'
        else '统一社会信用代码无效（' || coalesce(uscc_problem, '') || '）'
    end as unresolved_reason_label,
    candidate_entity_id,
    review_candidate_entity_id,
    review_match_probability,
    case when review_candidate_entity_id is not null then match_model_version end
        as review_model_version
from {{ ref('int_resolution__records') }}
where entity_id is null

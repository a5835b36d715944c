{#- 关联关系 (internal): pairs of registered entities sharing a legal representative or an
    address, and registered entities whose operator or legal representative is on the courts'
    dishonest-debtor list (失信被执行人, for 联合惩戒) with the court record it comes from. No
    personal data: shared values and ID numbers only as hashes. -#}
select
    relationship_id,
    entity_id_a,
    entity_id_b,
    relationship_type,
    case relationship_type
        when 'shared_legal_rep' then '同一法定代表人'
        when 'shared_address' then '同一住所'
    end as relationship_label,
    shared_value_hash,
    null::string as related_record_id,
    null::string as related_reference,
    null::date as related_since,
    null::string as source_feed,
    null::string as source_file,
    null::bigint as source_row
from {{ ref('int_entity__relationships') }}

union all

select
    link_id as relationship_id,
    entity_id as entity_id_a,
    null::string as entity_id_b,
    relationship_type,
    case relationship_type
        when 'operator_court_debtor' then '经营者为失信被执行人'
        when 'legal_rep_court_debtor' then '法定代表人为失信被执行人'
    end as relationship_label,
    person_id_hash as shared_value_hash,
    court_record_id as related_record_id,
    concat_ws(' ', court, case_no) as related_reference,
    listed_date as related_since,
    feed as source_feed,
    source_file,
    source_row
from {{ ref('int_entity__court_debtor_links') }}

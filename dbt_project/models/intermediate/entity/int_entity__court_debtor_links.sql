{#- 失信被执行人关联 (联合惩戒): a natural person on the courts' dishonest-debtor list matched by
    ID number (keyed hash, never the number) and name to the registered entities it runs: the
    individual businesses whose operator (经营者) it is, the enterprises and cooperatives whose
    legal representative (法定代表人) it is. One row per court record and entity, with the court
    record's provenance. An ID match under another name is not linked. -#}
with

court_persons as (

    select * from {{ ref('stg_raw__court_dishonest') }}
    where id_code_type = 'id_card' and person_id_hash is not null

),

registry as (

    select entity_id, legal_rep, legal_rep_id_hash, name_key as entity_name_key
    from {{ ref('int_resolution__registry') }}
    where legal_rep_id_hash is not null

),

attributes as (

    select entity_id, entity_type from {{ ref('int_entity__attributes') }}

)

select
    md5(court.record_id || '|' || registry.entity_id) as link_id,
    registry.entity_id,
    case when attributes.entity_type = 'individual' then 'operator_court_debtor'
        else 'legal_rep_court_debtor'
    end as relationship_type,
    court.record_id as court_record_id,
    court.person_id_hash,
    court.case_no,
    court.court,
    court.filing_date,
    court.publish_date,
    coalesce(court.publish_date, court.filing_date) as listed_date,
    court.feed,
    court.source_file,
    court.source_row,
    court.load_date
from court_persons as court
inner join registry
    on registry.legal_rep_id_hash = court.person_id_hash
    and {{ name_key('registry.legal_rep') }} = court.name_key
inner join attributes on attributes.entity_id = registry.entity_id

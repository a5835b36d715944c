{#- Pairs of registered entities sharing a legal representative (same name and ID-card number)
    or a registered address. Groups larger than var relationship_max_group_size (a market hall,
    a business incubator) are not paired. The shared value is kept only as an md5 hash. -#}
with

registry as (

    select * from {{ ref('int_resolution__registry') }}

),

shared_keys as (

    select
        entity_id,
        'shared_legal_rep' as relationship_type,
        md5(legal_rep || '|' || legal_rep_id_hash) as shared_key
    from registry
    where legal_rep is not null and legal_rep_id_hash is not null

    union all

    select
        entity_id,
        'shared_address' as relationship_type,
        md5(address_key) as shared_key
    from registry
    where address_key is not null

),

groups as (

    select *
    from shared_keys
    qualify count(*) over (partition by relationship_type, shared_key)
        between 2 and {{ var('relationship_max_group_size') }}

)

select
    md5(a.entity_id || '|' || b.entity_id || '|' || a.relationship_type) as relationship_id,
    a.entity_id as entity_id_a,
    b.entity_id as entity_id_b,
    a.relationship_type,
    a.shared_key as shared_value_hash
from groups as a
inner join groups as b
    on b.relationship_type = a.relationship_type
    and b.shared_key = a.shared_key
    and b.entity_id > a.entity_id

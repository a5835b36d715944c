{#- 关联关系 (internal): pairs of registered entities sharing a legal representative or an address. -#}
select
    relationship_id,
    entity_id_a,
    entity_id_b,
    relationship_type,
    case relationship_type
        when 'shared_legal_rep' then '同一法定代表人'
        when 'shared_address' then '同一住所'
    end as relationship_label,
    shared_value_hash
from {{ ref('int_entity__relationships') }}

{#- Licences per entity: held, valid on the as_of_date, and expired (lapsed, not renewed). -#}
select
    entity_id,
    count(*) as licence_count,
    count(*) filter (where is_valid) as valid_licence_count,
    count(*) filter (where is_expired) as expired_licence_count
from {{ ref('int_entity__licence_records') }}
group by entity_id

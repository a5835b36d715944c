{#- Names an entity is known by (current name and former names from the change history), as
    comparison keys: a record carrying a doubtful code is trusted only when its name is one of
    these. -#}
with

registry as (

    select * from {{ ref('int_resolution__registry') }}

),

changes as (

    select * from {{ ref('stg_raw__registration_change') }}
    where change_type = 'name' and uscc_problem is null

),

names as (

    select entity_id, name_key, 'current' as name_source from registry
    where name_key is not null

    union all

    select c.uscc, {{ name_key('v.value') }}, 'former'
    from changes as c
    {{ cross_join_values(['c.before_value', 'c.after_value'], 'v', 'value') }}
    inner join registry as r on r.entity_id = c.uscc

)

select
    entity_id,
    name_key,
    min(name_source) as name_source
from names
where name_key is not null
group by entity_id, name_key

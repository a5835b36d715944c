{#- Every identifier that points at a registered entity, one row per (key_type, key_value):
    uscc, reg_no (from the register or, for older numbers, the change history), org_code
    (USCC positions 9-17) and uscc_body17 (first 17 characters: what a USCC with a wrong check
    character points at). A value that points at more than one entity is kept but marked
    ambiguous, with no entity_id: it is never used to resolve. -#}
with

registry as (

    select * from {{ ref('int_resolution__registry') }}

),

changes as (

    select * from {{ ref('stg_raw__registration_change') }}

),

change_reg_nos as (

    select uscc as entity_id, reg_no as key_value
    from changes
    where uscc_problem is null and reg_no is not null

    union all

    select uscc as entity_id, {{ normalize_code('v.value') }} as key_value
    from changes
    {{ cross_join_values(['before_value', 'after_value'], 'v', 'value') }}
    where uscc_problem is null and change_item like '%注册号%'

),

all_keys as (

    select 'uscc' as key_type, uscc as key_value, entity_id, 'registration' as key_source, 1 as source_rank
    from registry

    union all

    select 'reg_no', reg_no, entity_id, 'registration', 1
    from registry
    where reg_no is not null

    union all

    select 'reg_no', c.key_value, c.entity_id, 'change_history', 2
    from change_reg_nos as c
    inner join registry as r on r.entity_id = c.entity_id
    where {{ full_match('c.key_value', '[0-9]{15}') }}

    union all

    select 'org_code', org_code, entity_id, 'registration', 1
    from registry

    union all

    select 'uscc_body17', left(uscc, 17), entity_id, 'registration', 1
    from registry

)

select
    key_type || ':' || key_value as registry_key,
    key_type,
    key_value,
    count(distinct entity_id) > 1 as is_ambiguous,
    case when count(distinct entity_id) = 1 then min(entity_id) end as entity_id,
    min_by(key_source, source_rank) as key_source
from all_keys
group by key_type, key_value

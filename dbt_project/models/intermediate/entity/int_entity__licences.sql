{#- Licences per entity: valid on the as_of_date, expired (validity ended, not renewed by a
    later licence with the same licence number). -#}
with

licences as (

    select
        resolved.entity_id,
        licence.licence_no,
        licence.certificate_name,
        licence.valid_from,
        licence.valid_to,
        licence.licence_status
    from {{ ref('stg_raw__licence') }} as licence
    inner join {{ ref('int_resolution__records') }} as resolved
        on resolved.record_id = licence.record_id
    where resolved.entity_id is not null

),

classified as (

    select
        *,
        coalesce(licence_status similar to '.*(注销|撤销|吊销|撤回).*', false) as is_withdrawn,
        (valid_to is not null and valid_to < {{ as_of_date() }}) as has_lapsed
    from licences

),

latest_per_number as (

    select *
    from classified
    qualify row_number() over (
        partition by entity_id, coalesce(licence_no, certificate_name, '')
        order by valid_to desc nulls first
    ) = 1

)

select
    entity_id,
    count(*) as licence_count,
    count(*) filter (where not is_withdrawn and not has_lapsed
        and (valid_from is null or valid_from <= {{ as_of_date() }})) as valid_licence_count,
    count(*) filter (where not is_withdrawn and has_lapsed) as expired_licence_count
from latest_per_number
group by entity_id

{#- One row per licence of a resolved entity (its latest delivery per licence number) and its
    state on the as_of_date. A renewal is issued under a new number while the old licence is
    marked 无效, so a lapsed licence counts as expired only when the entity holds no later
    licence of the same certificate. -#}
with

licences as (

    select
        resolved.entity_id,
        licence.record_id,
        licence.licence_no,
        licence.certificate_name,
        licence.licence_category,
        licence.valid_from,
        licence.valid_to,
        licence.licence_status
    from {{ ref('stg_raw__licence') }} as licence
    inner join {{ ref('int_resolution__records') }} as resolved
        on resolved.record_id = licence.record_id
    where resolved.entity_id is not null
    qualify row_number() over (
        partition by resolved.entity_id, coalesce(licence.licence_no, licence.certificate_name, '')
        order by licence.valid_to desc nulls first, licence.record_id
    ) = 1

),

classified as (

    select
        *,
        coalesce({{ similar_to('licence_status', '.*(注销|撤销|吊销|撤回).*') }}, false) as is_withdrawn,
        (valid_to is not null and valid_to < {{ as_of_date() }}) as has_lapsed,
        coalesce(
            max(coalesce(valid_to, date '9999-12-31')) over (
                partition by entity_id, coalesce(certificate_name, licence_category, '')
            ) > valid_to,
            false
        ) as is_renewed,
        concat_ws(' ', coalesce(certificate_name, licence_category), licence_no) as reference
    from licences

)

select
    *,
    not is_withdrawn and has_lapsed and not is_renewed as is_expired,
    not is_withdrawn and not has_lapsed
        and (valid_from is null or valid_from <= {{ as_of_date() }}) as is_valid
from classified

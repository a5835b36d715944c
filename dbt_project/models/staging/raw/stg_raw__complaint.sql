{{
    config(
        materialized=staging_incremental_materialization(),
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- 12315 投诉举报 (complaint), incremental delivery: every load adds records. Natural key
    (record_id): complaint number.

    complainant_phone (personal data) is not carried beyond the raw zone. -#}
with

source as (

    select * from {{ source('raw', 'complaint') }}
    {{ new_loads_only() }}

),

renamed as (

    select
        {{ clean_text('complaint_id') }} as complaint_id,
        {{ to_date('received_date') }} as received_date,
        {{ clean_text('shop_name') }} as party_name,
        {{ clean_text('address') }} as address,
        {{ normalize_code('division_code') }} as division_code,
        {{ normalize_code('uscc') }} as uscc,
        {{ clean_text('category') }} as complaint_category,
        {{ clean_text('content') }} as complaint_content,
        {{ clean_text('handling_result') }} as handling_result,
        {{ lineage_columns() }}
    from source

),

checked as (

    select
        {{ record_id('complaint', ['complaint_id']) }} as record_id,
        *,
        {{ uscc_problem('uscc') }} as uscc_problem,
        {{ name_key('party_name') }} as name_key,
        {{ name_key('address') }} as address_key
    from renamed

),

deduped as (

    {{ dedupe_by_record_id('checked') }}

)

select * from deduped

{{
    config(
        materialized=staging_incremental_materialization(),
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- 信用修复 (credit_repair), incremental delivery: every load adds records. Natural key
    (record_id): the repair decision number and the repaired penalty's decision number. -#}
with

source as (

    select * from {{ source('raw', 'credit_repair') }}
    {{ new_loads_only() }}

),

renamed as (

    select
        {{ clean_text('repair_no') }} as repair_no,
        {{ clean_text('name') }} as party_name,
        {{ normalize_code('uscc') }} as uscc,
        {{ normalize_code('reg_no') }} as reg_no,
        {{ clean_text('decision_no') }} as decision_no,
        {{ to_date('repair_date') }} as repair_date,
        {{ clean_text('repair_org') }} as repair_org,
        {{ clean_text('repair_content') }} as repair_content,
        {{ lineage_columns() }}
    from source

),

checked as (

    select
        {{ record_id('credit_repair', ['repair_no', 'decision_no']) }} as record_id,
        *,
        {{ uscc_problem('uscc') }} as uscc_problem,
        {{ regno_problem('reg_no') }} as reg_no_problem,
        {{ name_key('party_name') }} as name_key
    from renamed

),

deduped as (

    {{ dedupe_by_record_id('checked') }}

)

select * from deduped

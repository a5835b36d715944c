{{
    config(
        materialized=staging_incremental_materialization(),
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- 变更登记 (registration_change), incremental delivery: every load adds records. Natural key
    (record_id): the entity's code, change date, item, values before and after. -#}
with

source as (

    select * from {{ source('raw', 'registration_change') }}
    {{ new_loads_only() }}

),

renamed as (

    select
        {{ normalize_code('uscc') }} as uscc,
        {{ normalize_code('reg_no') }} as reg_no,
        {{ to_date('change_date') }} as change_date,
        {{ clean_text('change_item') }} as change_item,
        case
            when change_item like '%法定代表人%' or change_item like '%负责人%'
                or change_item like '%经营者%' then 'legal_rep'
            when change_item like '%住所%' or change_item like '%经营场所%'
                or change_item like '%地址%' then 'address'
            when change_item like '%名称%' then 'name'
            when change_item like '%注册资本%' or change_item like '%出资%' then 'capital'
            when change_item like '%经营范围%' then 'scope'
            else 'other'
        end as change_type,
        {{ clean_text('before_value') }} as before_value,
        {{ clean_text('after_value') }} as after_value,
        {{ lineage_columns() }}
    from source

),

checked as (

    select
        {{ record_id('registration_change', [
            'coalesce(uscc, reg_no)', 'change_date', 'change_item', 'before_value', 'after_value'
        ]) }} as record_id,
        *,
        {{ uscc_problem('uscc') }} as uscc_problem,
        {{ regno_problem('reg_no') }} as reg_no_problem
    from renamed

),

deduped as (

    {{ dedupe_by_record_id('checked') }}

)

select * from deduped

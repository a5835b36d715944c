{{
    config(
        materialized=staging_incremental_materialization(),
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- 双随机抽查结果 (spot_check), incremental delivery: every load adds records. Natural key
    (record_id): task, the party's code (or name key), check date and inspectors. -#}
with

source as (

    select * from {{ source('raw', 'spot_check') }}
    {{ new_loads_only() }}

),

renamed as (

    select
        {{ clean_text('task_id') }} as task_id,
        {{ clean_text('task_name') }} as task_name,
        {{ to_date('check_date') }} as check_date,
        {{ normalize_code('uscc') }} as uscc,
        {{ normalize_code('reg_no') }} as reg_no,
        {{ clean_text('name') }} as party_name,
        {{ clean_text('check_org') }} as check_org,
        {{ clean_text('result') }} as check_result,
        coalesce(result like '发现问题%', false) as problem_found,
        coalesce(result like '%不配合%' or result like '%无法联系%', false) as not_reachable,
        {{ spot_check_result_class('result') }} as result_class,
        {{ clean_text('inspectors') }} as inspectors,
        {{ clean_text('check_type') }} as check_type,
        {{ clean_text('check_items') }} as check_items,
        {{ lineage_columns() }}
    from source

),

checked as (

    select
        {# One entity can be checked twice in one task (different dates, other inspectors):
            task + party + check date + inspectors is one check. #}
        {{ record_id('spot_check', [
            'task_id', "coalesce(uscc, reg_no, " ~ name_key('party_name') ~ ")", 'check_date',
            name_key('inspectors')
        ]) }} as record_id,
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

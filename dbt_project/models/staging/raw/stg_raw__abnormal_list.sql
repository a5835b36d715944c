{#- 经营异常名录 (abnormal_list), full delivery: each load is the whole list, only the latest load of
    each feed counts. Natural key (record_id): the party's code (or name key), listing date and
    reason. -#}
with

source as (

    select * from {{ source('raw', 'abnormal_list') }}

),

renamed as (

    select
        {{ clean_text('name') }} as party_name,
        {{ normalize_code('uscc') }} as uscc,
        {{ normalize_code('reg_no') }} as reg_no,
        {{ clean_text('list_reason') }} as list_reason,
        {{ to_date('list_date') }} as list_date,
        {{ clean_text('list_org') }} as list_org,
        {{ clean_text('remove_reason') }} as remove_reason,
        {{ to_date('remove_date') }} as remove_date,
        {{ clean_text('remove_org') }} as remove_org,
        {{ lineage_columns() }}
    from source

),

latest_load as (

    select * from renamed
    {{ latest_load_only() }}

),

checked as (

    select
        {{ record_id('abnormal_list', [
            "coalesce(uscc, reg_no, " ~ name_key('party_name') ~ ")", 'list_date', 'list_reason'
        ]) }} as record_id,
        *,
        {{ uscc_problem('uscc') }} as uscc_problem,
        {{ regno_problem('reg_no') }} as reg_no_problem,
        {{ name_key('party_name') }} as name_key
    from latest_load

),

deduped as (

    {{ dedupe_by_record_id('checked') }}

)

select * from deduped

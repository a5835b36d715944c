{#- 个体工商户经营异常状态 (abnormal_state), full delivery: each load is the whole set of marks,
    only the latest load of each feed counts. An individual business's mark for a missed annual
    report or an unreachable address, and its restoration (恢复正常记载状态); never a listing.
    Natural key (record_id): the party's code (or name key), mark date and reason. -#}
with

source as (

    select * from {{ source('raw', 'abnormal_state') }}

),

renamed as (

    select
        {{ clean_text('name') }} as party_name,
        {{ normalize_code('uscc') }} as uscc,
        {{ normalize_code('reg_no') }} as reg_no,
        {{ clean_text('mark_reason') }} as mark_reason,
        {{ to_date('mark_date') }} as mark_date,
        {{ clean_text('mark_org') }} as mark_org,
        {{ clean_text('restore_reason') }} as restore_reason,
        {{ to_date('restore_date') }} as restore_date,
        {{ clean_text('restore_org') }} as restore_org,
        {{ lineage_columns() }}
    from source

),

latest_load as (

    select * from renamed
    {{ latest_load_only() }}

),

checked as (

    select
        {{ record_id('abnormal_state', [
            "coalesce(uscc, reg_no, " ~ name_key('party_name') ~ ")", 'mark_date', 'mark_reason'
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

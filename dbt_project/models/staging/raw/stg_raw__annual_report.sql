{#- 年度报告 (annual_report), full delivery: each load is the whole list, only the latest load of
    each feed counts. Natural key (record_id): the party's code (or name key) and report year
    (and, known by name only, what was reported). -#}
with

source as (

    select * from {{ source('raw', 'annual_report') }}

),

renamed as (

    select
        {{ normalize_code('uscc') }} as uscc,
        {{ normalize_code('reg_no') }} as reg_no,
        {{ clean_text('name') }} as party_name,
        {{ dbt.safe_cast(clean_text('report_year'), api.Column.translate_type('integer')) }}
            as report_year,
        coalesce(trim(filed) in ('是', 'Y', 'y', '1', 'true', '已报送'), false) as is_filed,
        {{ to_date('filed_date') }} as filed_date,
        {{ lineage_columns() }}
    from source

),

latest_load as (

    select * from renamed
    {{ latest_load_only() }}

),

checked as (

    select
        {# Known by name only, two homonym businesses' reports of one year would collide:
            then what was reported is part of the key (an exact re-delivery still collapses). #}
        {{ record_id('annual_report', [
            "coalesce(uscc, reg_no, " ~ name_key('party_name') ~ ")", 'report_year',
            "case when uscc is null and reg_no is null then concat_ws('|', is_filed, filed_date) end"
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

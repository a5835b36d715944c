{#- 放心消费示范店 (model_shop), full delivery: each load is the whole list of awards, only the
    latest load of each feed counts. Natural key (record_id): the shop's USCC, title and award
    date. -#}
with

source as (

    select * from {{ source('raw', 'model_shop') }}

),

renamed as (

    select
        {{ normalize_code('uscc') }} as uscc,
        {{ clean_text('name') }} as party_name,
        {{ clean_text('title') }} as title,
        {{ to_date('award_date') }} as award_date,
        {{ to_date('valid_until') }} as valid_until,
        {{ clean_text('award_org') }} as award_org,
        {{ lineage_columns() }}
    from source

),

latest_load as (

    select * from renamed
    {{ latest_load_only() }}

),

checked as (

    select
        {{ record_id('model_shop', ['uscc', 'title', 'award_date']) }} as record_id,
        *,
        {{ uscc_problem('uscc') }} as uscc_problem
    from latest_load

),

deduped as (

    {{ dedupe_by_record_id('checked') }}

)

select * from deduped

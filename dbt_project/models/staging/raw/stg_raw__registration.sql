{#- 登记信息 (registration), full delivery: each load is the whole list, only the latest load of
    each feed counts. Natural key (record_id): USCC, else registration number, else name. -#}
with

source as (

    select * from {{ source('raw', 'registration') }}

),

renamed as (

    select
        {{ normalize_code('uscc') }} as uscc,
        {{ normalize_code('reg_no') }} as reg_no,
        {{ clean_text('name') }} as entity_name,
        {{ clean_text('entity_type') }} as entity_type_text,
        {{ normalize_code('division_code') }} as division_code,
        {{ normalize_code('industry_code') }} as industry_code,
        {{ clean_text('address') }} as address,
        {{ clean_text('legal_rep') }} as legal_rep,
        {{ normalize_code('legal_rep_id_no') }} as legal_rep_id_code,
        {{ clean_text('phone') }} as phone,
        {{ to_amount('registered_capital') }} as registered_capital,
        {{ to_date('established_date') }} as established_date,
        {{ clean_text('status') }} as status,
        {{ to_date('status_date') }} as status_date,
        {{ lineage_columns() }}
    from source

),

latest_load as (

    select * from renamed
    {{ latest_load_only() }}

),

checked as (

    select
        {{ record_id('registration', ["coalesce(uscc, 'REG:' || reg_no, 'NAME:' || entity_name)"]) }}
            as record_id,
        *,
        {{ uscc_problem('uscc') }} as uscc_problem,
        {{ regno_problem('reg_no') }} as reg_no_problem,
        {{ name_key('entity_name') }} as name_key,
        {{ name_key('address') }} as address_key
    from latest_load

),

{#- The legal representative's (operator's) ID number is personal data: only a masked form
    and a keyed hash (to match the court's dishonest-debtor list) go on; the full number stays
    in the raw zone. -#}
masked as (

    select
        {{ star_except(['legal_rep_id_code']) }},
        {{ mask_personal_id('legal_rep_id_code') }} as legal_rep_id_masked,
        {{ person_id_hash('legal_rep_id_code') }} as legal_rep_id_hash
    from checked

),

deduped as (

    {{ dedupe_by_record_id('masked') }}

)

select * from deduped

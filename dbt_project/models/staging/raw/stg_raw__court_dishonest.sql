{#- 失信被执行人 (court_dishonest), full delivery: each load is the whole list, only the latest load
    of each feed counts. Natural key (record_id): case number and party name key.

    id_code holds an organisation code (company), sometimes a USCC or an old registration
    number, or an ID-card number (natural person: personal data). A valid resident ID number is
    a person's even when it also passes the USCC check. The ID-card number itself is not
    stored: only a masked form and a keyed hash (person_id_hash, to match the operator's or
    legal representative's on the register) are kept; the full number stays in the raw zone. -#}
with

source as (

    select * from {{ source('raw', 'court_dishonest') }}

),

renamed as (

    select
        {{ clean_text('case_no') }} as case_no,
        {{ clean_text('name') }} as party_name,
        {{ normalize_code('id_code') }} as id_code,
        {{ clean_text('legal_rep') }} as legal_rep,
        {{ clean_text('court') }} as court,
        {{ clean_text('province') }} as province,
        {{ clean_text('basis_no') }} as basis_no,
        {{ to_date('filing_date') }} as filing_date,
        {{ clean_text('basis_org') }} as basis_org,
        {{ clean_text('obligation') }} as obligation,
        {{ clean_text('performance') }} as performance,
        {{ clean_text('behaviour') }} as behaviour,
        {{ to_date('publish_date') }} as publish_date,
        {{ lineage_columns() }}
    from source

),

latest_load as (

    select * from renamed
    {{ latest_load_only() }}

),

typed as (

    select
        *,
        {{ uscc_problem('id_code') }} as id_code_uscc_problem,
        {{ org_code_problem('id_code') }} as id_code_org_problem,
        {{ regno_problem('id_code') }} as id_code_regno_problem
    from latest_load

),

classified as (

    select
        *,
        case
            when id_code is null then 'missing'
            when {{ is_resident_id_number('id_code') }} then 'id_card'
            when id_code_uscc_problem is null then 'uscc'
            when length(id_code) = 9 then 'org_code'
            when length(id_code) = 15 and id_code_regno_problem is null then 'reg_no'
            when {{ is_id_card_like('id_code') }} then 'id_card'
            else 'other'
        end as id_code_type
    from typed

),

checked as (

    select
        {{ record_id('court_dishonest', ['case_no', name_key('party_name')]) }} as record_id,
        case_no,
        party_name,
        id_code_type,
        case when id_code_type = 'uscc' then id_code end as uscc,
        case when id_code_type = 'uscc' then null else 'missing' end as uscc_problem,
        case when id_code_type = 'reg_no' then id_code end as reg_no,
        case when id_code_type = 'org_code' then id_code end as org_code,
        case
            when id_code_type = 'org_code' then id_code_org_problem
            else 'missing'
        end as org_code_problem,
        case
            when id_code_type in ('id_card', 'other') then {{ mask_personal_id('id_code') }}
            else id_code
        end as id_code_masked,
        case when id_code_type = 'id_card' then {{ person_id_hash('id_code') }} end
            as person_id_hash,
        legal_rep,
        court,
        province,
        basis_no,
        filing_date,
        basis_org,
        obligation,
        performance,
        behaviour,
        publish_date,
        feed,
        source_file,
        source_row,
        batch_id,
        load_date,
        loaded_at,
        extras,
        data_issues,
        {{ name_key('party_name') }} as name_key
    from classified

),

deduped as (

    {{ dedupe_by_record_id('checked') }}

)

select * from deduped

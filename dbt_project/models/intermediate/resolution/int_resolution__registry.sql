{#- The register of market entities: one row per registration record with a valid USCC.
    The USCC is the entity key (entity_id). -#}
with

registration as (

    select * from {{ ref('stg_raw__registration') }}
    where uscc_problem is null

)

select
    uscc as entity_id,
    uscc,
    reg_no,
    {{ uscc_org_code('uscc') }} as org_code,
    entity_name,
    name_key,
    entity_type_text,
    {{ uscc_entity_type('uscc') }} as uscc_entity_type,
    coalesce(division_code, {{ uscc_division('uscc') }}) as division_code,
    industry_code,
    address,
    address_key,
    legal_rep,
    legal_rep_id_masked,
    legal_rep_id_hash,
    phone,
    registered_capital,
    established_date,
    status,
    status_date,
    record_id,
    feed,
    source_file,
    source_row,
    batch_id,
    load_date,
    data_issues
from registration

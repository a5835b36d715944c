{#- Identifier-based entity resolution, most certain first:
      1. a valid USCC found in the register                  -> uscc_exact (registration rows: registration)
      2. an old registration number found in the register    -> reg_no / reg_no_history
      3. an organisation code of a registered entity         -> org_code
      4. a USCC failing its check whose first 17 characters point at a registered entity whose
         current or former name equals the record's name    -> uscc_invalid_name_confirmed
    Anything else stays unresolved with the reason of its strongest identifier. Ambiguous keys
    (pointing at two entities) never resolve. One row per staged record. -#}
with

records as (

    select * from {{ ref('int_resolution__record_identities') }}

),

registry_keys as (

    select * from {{ ref('int_resolution__registry_keys') }}

),

entity_names as (

    select * from {{ ref('int_resolution__entity_names') }}

),

looked_up as (

    select
        records.*,
        by_uscc.entity_id as uscc_entity_id,
        by_reg_no.entity_id as reg_no_entity_id,
        by_reg_no.key_source as reg_no_key_source,
        coalesce(by_reg_no.is_ambiguous, false) as reg_no_ambiguous,
        by_org.entity_id as org_entity_id,
        coalesce(by_org.is_ambiguous, false) as org_ambiguous,
        by_body.entity_id as invalid_uscc_candidate_id
    from records
    left join registry_keys as by_uscc
        on by_uscc.key_type = 'uscc'
        and by_uscc.key_value = case when records.uscc_problem is null then records.uscc end
    left join registry_keys as by_reg_no
        on by_reg_no.key_type = 'reg_no'
        and by_reg_no.key_value = records.reg_no
    left join registry_keys as by_org
        on by_org.key_type = 'org_code'
        and by_org.key_value = records.org_code
    left join registry_keys as by_body
        on by_body.key_type = 'uscc_body17'
        and by_body.key_value = case
            when records.uscc_problem in ('check', 'org_check') then left(records.uscc, 17)
        end

),

name_checked as (

    select
        looked_up.*,
        confirm.entity_id is not null as invalid_uscc_name_confirmed
    from looked_up
    left join entity_names as confirm
        on confirm.entity_id = looked_up.invalid_uscc_candidate_id
        and confirm.name_key = looked_up.name_key

),

resolved as (

    select
        *,
        case
            when record_kind = 'registration' then uscc_entity_id
            when uscc_entity_id is not null then uscc_entity_id
            when reg_no_entity_id is not null then reg_no_entity_id
            when org_entity_id is not null then org_entity_id
            when invalid_uscc_name_confirmed then invalid_uscc_candidate_id
        end as entity_id,
        case
            when record_kind = 'registration' and uscc_entity_id is not null then 'registration'
            when record_kind = 'registration' then null
            when uscc_entity_id is not null then 'uscc_exact'
            when reg_no_entity_id is not null then
                case when reg_no_key_source = 'registration' then 'reg_no' else 'reg_no_history' end
            when org_entity_id is not null then 'org_code'
            when invalid_uscc_name_confirmed then 'uscc_invalid_name_confirmed'
        end as resolution_method
    from name_checked

)

select
    record_id,
    record_kind,
    feed,
    source_file,
    source_row,
    batch_id,
    load_date,
    party_name,
    name_key,
    uscc,
    uscc_problem,
    reg_no,
    org_code,
    org_code_problem,
    id_code_type,
    id_code_masked,
    address,
    division_code,
    legal_rep,
    entity_id,
    resolution_method,
    case
        when entity_id is not null then null
        when record_kind = 'registration' then 'registration_without_valid_uscc'
        when id_code_type = 'id_card' then 'natural_person'
        when uscc_problem is null then 'uscc_not_registered'
        when invalid_uscc_candidate_id is not null then 'uscc_invalid_name_mismatch'
        when reg_no_ambiguous or org_ambiguous then 'ambiguous_identifier'
        when uscc_problem <> 'missing' then 'uscc_invalid_' || uscc_problem
        when reg_no is not null then 'reg_no_not_registered'
        when org_code is not null then 'org_code_not_registered'
        else 'no_identifier'
    end as unresolved_reason,
    case when entity_id is null then invalid_uscc_candidate_id end as candidate_entity_id
from resolved

{{
    config(
        materialized=staging_incremental_materialization(),
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- 行政许可 (licence), incremental delivery: every load adds records. Natural key (record_id):
    decision number, licence number and party name key. -#}
with

source as (

    select * from {{ source('raw', 'licence') }}
    {{ new_loads_only() }}

),

renamed as (

    select
        {{ clean_text('xk_wsh') }} as decision_no,
        {{ clean_text('xk_xdr_mc') }} as party_name,
        {{ normalize_code('xk_xdr_shxym') }} as uscc,
        {{ normalize_code('xk_xdr_gszc') }} as reg_no,
        {{ normalize_code('xk_xdr_zzjg') }} as org_code,
        {{ clean_text('xk_frdb') }} as legal_rep,
        {{ clean_text('xk_xkws') }} as document_name,
        {{ clean_text('xk_xklb') }} as licence_category,
        {{ clean_text('xk_xkzs') }} as certificate_name,
        {{ clean_text('xk_xkbh') }} as licence_no,
        {{ clean_text('xk_nr') }} as licence_content,
        {{ to_date('xk_jdrq') }} as decision_date,
        {{ to_date('xk_yxqz') }} as valid_from,
        {{ to_date('xk_yxqzi') }} as valid_to,
        {{ clean_text('xk_xkjg') }} as authority,
        {{ normalize_code('xk_xkjgdm') }} as authority_code,
        {{ clean_text('xk_zt') }} as licence_status,
        {{ clean_text('xk_sjly') }} as data_source,
        {{ normalize_code('xk_sjlydm') }} as data_source_code,
        {{ lineage_columns() }}
    from source

),

checked as (

    select
        {{ record_id('licence', ['decision_no', 'licence_no', name_key('party_name')]) }}
            as record_id,
        *,
        {{ uscc_problem('uscc') }} as uscc_problem,
        {{ regno_problem('reg_no') }} as reg_no_problem,
        {{ org_code_problem('org_code') }} as org_code_problem,
        {{ name_key('party_name') }} as name_key
    from renamed

),

deduped as (

    {{ dedupe_by_record_id('checked') }}

)

select * from deduped

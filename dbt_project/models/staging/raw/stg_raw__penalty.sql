{{
    config(
        materialized=staging_incremental_materialization(),
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- 行政处罚 (penalty), incremental delivery: every load adds records. Natural key (record_id):
    decision number and party name key. -#}
with

source as (

    select * from {{ source('raw', 'penalty') }}
    {{ new_loads_only() }}

),

renamed as (

    select
        {{ clean_text('cf_wsh') }} as decision_no,
        {{ clean_text('cf_xdr_mc') }} as party_name,
        {{ clean_text('cf_xdr_lb') }} as party_category,
        {{ normalize_code('cf_xdr_shxym') }} as uscc,
        {{ normalize_code('cf_xdr_gszc') }} as reg_no,
        {{ normalize_code('cf_xdr_zzjg') }} as org_code,
        {{ clean_text('cf_frdb') }} as legal_rep,
        {{ clean_text('cf_wfxw') }} as violation_type,
        {{ clean_text('cf_sy') }} as violation_facts,
        {{ clean_text('cf_yj') }} as penalty_basis,
        {{ clean_text('cf_cflb') }} as penalty_category,
        {{ clean_text('cf_nr') }} as penalty_content,
        {{ to_amount('cf_nr_fk') }} as fine_amount,
        {{ to_amount('cf_nr_wfff') }} as confiscation_amount,
        {{ to_date('cf_jdrq') }} as decision_date,
        {{ to_date('cf_yxq') }} as valid_until,
        {{ to_date('cf_gsjzq') }} as publicity_until,
        {{ clean_text('cf_cfjg') }} as authority,
        {{ normalize_code('cf_cfjgdm') }} as authority_code,
        {{ clean_text('cf_sjly') }} as data_source,
        {{ normalize_code('cf_sjlydm') }} as data_source_code,
        {{ clean_text('bz') }} as remark,
        {{ lineage_columns() }}
    from source

),

checked as (

    select
        {{ record_id('penalty', ['decision_no', name_key('party_name')]) }} as record_id,
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

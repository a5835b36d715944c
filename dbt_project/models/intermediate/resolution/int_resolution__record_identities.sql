{#- The identifiers every staged record carries, in one shape: the input of entity
    resolution. One row per staged record (record_id). -#}
{%- set kinds = {
    'registration': {'name': 'entity_name', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'address', 'division': 'division_code', 'rep': 'legal_rep'},
    'registration_change': {'name': 'null', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'null'},
    'penalty': {'name': 'party_name', 'org': 'org_code', 'org_problem': 'org_code_problem', 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'legal_rep'},
    'licence': {'name': 'party_name', 'org': 'org_code', 'org_problem': 'org_code_problem', 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'legal_rep'},
    'spot_check': {'name': 'party_name', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'null'},
    'abnormal_list': {'name': 'party_name', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'null'},
    'abnormal_state': {'name': 'party_name', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'null'},
    'serious_dishonest': {'name': 'party_name', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'null'},
    'court_dishonest': {'name': 'party_name', 'org': 'org_code', 'org_problem': 'org_code_problem', 'idtype': 'id_code_type', 'idmask': 'id_code_masked', 'address': 'null', 'division': 'null', 'rep': 'legal_rep'},
    'complaint': {'name': 'party_name', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'address', 'division': 'division_code', 'rep': 'null'},
    'annual_report': {'name': 'party_name', 'org': 'null', 'org_problem': "'missing'", 'idtype': 'null', 'idmask': 'null', 'address': 'null', 'division': 'null', 'rep': 'null'},
} -%}

{%- for kind, c in kinds.items() %}

select
    record_id,
    '{{ kind }}' as record_kind,
    feed,
    source_file,
    source_row,
    batch_id,
    load_date,
    cast({{ c.name }} as string) as party_name,
    {{ name_key(c.name) }} as name_key,
    uscc,
    uscc_problem,
    {% if kind == 'complaint' %}cast(null as string){% else %}reg_no{% endif %} as reg_no,
    cast({{ c.org }} as string) as org_code,
    cast({{ c.org_problem }} as string) as org_code_problem,
    cast({{ c.idtype }} as string) as id_code_type,
    cast({{ c.idmask }} as string) as id_code_masked,
    cast({{ c.address }} as string) as address,
    cast({{ c.division }} as string) as division_code,
    cast({{ c.rep }} as string) as legal_rep
from {{ ref('stg_raw__' ~ kind) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}

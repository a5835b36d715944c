{#- Probabilistic matches for records without a usable identifier. Empty (with the same
    columns) until the matching step is switched on with var use_probabilistic_matches.
    The source is read only then, but the lineage edge is declared always (next line), so the
    DAG, `dbt ls --select source:resolution+` and the docs show it whatever the var. -#}
-- depends_on: {{ source('resolution', 'probabilistic_matches') }}
{% if var('use_probabilistic_matches') %}

with

source as (

    select * from {{ source('resolution', 'probabilistic_matches') }}

),

renamed as (

    select
        cast(record_id as string) as record_id,
        {{ normalize_code('entity_id') }} as entity_id,
        cast(match_probability as double) as match_probability,
        cast(model_version as string) as model_version
    from source
    qualify row_number() over (
        partition by record_id order by match_probability desc, entity_id
    ) = 1

)

select * from renamed

{% else %}

select
    cast(null as string) as record_id,
    cast(null as string) as entity_id,
    cast(null as double) as match_probability,
    cast(null as string) as model_version
where false

{% endif %}

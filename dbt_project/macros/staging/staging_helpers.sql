{#- Helpers shared by the staging models (one per canonical kind of the raw zone). -#}

{#- The logical date of the run as a DATE literal, never the wall clock: the var as_of_date
    when one is given (a unit test's override, `dbt build --vars`), else the environment
    variable PANORAMA_AS_OF_DATE, which the pipeline sets. Read when the model runs, not while
    dbt parses the project: a new logical date leaves the parse unchanged and the next run
    reuses it. -#}
{% macro as_of_date() -%}
    cast('
    {%- if execute -%}
        {{ var("as_of_date", none) or env_var("PANORAMA_AS_OF_DATE", "2026-11-25") }}
    {%- endif -%}
    ' as date)
{%- endmacro %}

{#- Text field: trimmed, empty -> null (extract already NFKC-folded it). -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- ISO date text -> DATE; anything unparsable becomes null (extract quarantines bad dates). -#}
{% macro to_date(expr) -%}
    {{ dbt.safe_cast(clean_text(expr), api.Column.translate_type('date')) }}
{%- endmacro %}

{#- Decimal text in 万元 -> DECIMAL(18,4) 万元. -#}
{% macro to_amount(expr) -%}
    {{ dbt.safe_cast(clean_text(expr), 'decimal(18,4)') }}
{%- endmacro %}

{#- Name key for comparisons: no spaces, no brackets or dots, so that 德州市某某（有限）公司 and
    德州市某某(有限)公司 compare equal. Used for matching only, never displayed. -#}
{% macro name_key(expr) -%}
    nullif({{ replace_all(expr, '[\\s　()（）\\[\\]【】·.,，、"“”]', '') }}, '')
{%- endmacro %}

{#- Lineage columns every staged record carries, from the raw zone contract. `data_issues`:
    the JSON list of the record's non-key fields set to null or cleaned at extraction
    (`_issues`; null when clean, and in raw files written before the column existed).
    `load_date`: the partition's, or `_load_date` in a compacted month partition. -#}
{% macro lineage_columns() -%}
    _feed as feed,
    _source_file as source_file,
    cast(_source_row as bigint) as source_row,
    _batch_id as batch_id,
    cast(coalesce(_load_date, cast(load_date as string)) as date) as load_date,
    {{ dbt.safe_cast('_loaded_at', api.Column.translate_type('timestamp')) }} as loaded_at,
    _extras as extras,
    _issues as data_issues
{%- endmacro %}

{#- Deterministic record id: md5 of the kind and the natural key, stable across re-loads of
    the same record. -#}
{% macro record_id(kind, key_exprs) -%}
    md5(concat_ws('|', '{{ kind }}'
    {%- for e in key_exprs %}, coalesce(cast({{ e }} as string), ''){% endfor %}))
{%- endmacro %}

{#- Full deliveries (each load is the whole list): keep only the latest load of each feed. -#}
{% macro latest_load_only() -%}
    qualify load_date = max(load_date) over (partition by feed)
{%- endmacro %}

{#- One row per natural key (the record_id): the latest load wins; ties broken by feed, file
    and row so the choice is the same on every run. Adds how many raw rows were collapsed.
    In an incremental model (macros/staging/incremental.sql) the relation holds the new loads
    only: their rows win over the staged ones, and the staged count is added. -#}
{% macro dedupe_by_record_id(relation) -%}
    {%- set merging = config.get('materialized') == 'incremental' and is_incremental() -%}
    {%- if merging %}
    select new_rows.* replace (
        new_rows.n_deliveries + coalesce(staged.n_deliveries, 0) as n_deliveries
    )
    from (
    {%- endif %}
    select
        *,
        count(*) over (partition by record_id) as n_deliveries
    from {{ relation }}
    qualify row_number() over (
        partition by record_id
        order by load_date desc, loaded_at desc nulls last, feed, source_file, source_row
    ) = 1
    {%- if merging %}
    ) as new_rows
    left join {{ this }} as staged on staged.record_id = new_rows.record_id
    {%- endif %}
{%- endmacro %}

{#- Mask an ID-card number or other personal identifier: keep 3 leading and 2 trailing
    characters, so a regulator can tell two values apart without reading the number. -#}
{% macro mask_personal_id(expr) -%}
    case
        when {{ expr }} is null then null
        when length({{ expr }}) <= 5 then repeat('*', length({{ expr }}))
        else concat(left({{ expr }}, 3), repeat('*', length({{ expr }}) - 5), right({{ expr }}, 2))
    end
{%- endmacro %}

{#- Looks like a PRC resident ID-card number (18 chars: 17 digits + digit/X, or old 15 digits). -#}
{% macro is_id_card_like(expr) -%}
    ({{ full_match(expr, '[0-9]{17}[0-9X]') }} or {{ full_match(expr, '[0-9]{15}') }})
{%- endmacro %}

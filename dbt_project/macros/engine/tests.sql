{#- The SQL of generic tests that differ per engine (tests/generic/). -#}

{% macro default__test_no_columns_matching(model, patterns) %}
select column_name
from information_schema.columns
where table_schema = '{{ model.schema }}'
    and table_name = '{{ model.identifier }}'
    and ({% for p in patterns %}regexp_matches(lower(column_name), '{{ p }}'){% if not loop.last %} or {% endif %}{% endfor %})
{% endmacro %}

{#- Spark has no information_schema: the relation's columns come from the catalogue. -#}
{% macro spark__test_no_columns_matching(model, patterns) %}
{%- set offending = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(model) -%}
        {%- for p in patterns if modules.re.search(p, column.name | lower) -%}
            {%- if column.name not in offending %}{% do offending.append(column.name) %}{% endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}
select column_name from (
    select cast(null as string) as column_name
    {%- for name in offending %}
    union all select '{{ name }}'
    {%- endfor %}
) as columns
where column_name is not null
{% endmacro %}

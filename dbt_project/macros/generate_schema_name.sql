{#- Layers live in plainly named schemas (staging, intermediate, entity, risk, ...), not in
    "<target schema>_<layer>": readers and the publish step address them by these names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

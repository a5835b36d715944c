{#- First day inside the look-back window `window_name` of seed risk_windows, counted back
    from the as_of_date var: facts dated on or after it are "recent". -#}
{% macro window_start(window_name) -%}
    {{ adapter.dispatch('window_start')(window_name) }}
{%- endmacro %}

{% macro default__window_start(window_name) -%}
    ({{ as_of_date() }} - to_months((
        select window_months from {{ ref('risk_windows') }} where window_name = '{{ window_name }}'
    )))
{%- endmacro %}

{% macro spark__window_start(window_name) -%}
    add_months({{ as_of_date() }}, -(
        select window_months from {{ ref('risk_windows') }} where window_name = '{{ window_name }}'
    ))
{%- endmacro %}

{#- Whether a listing [list_date, remove_date) is in force on the as_of_date. -#}
{% macro listed_on_as_of(list_date, remove_date) -%}
    ({{ list_date }} <= {{ as_of_date() }}
        and ({{ remove_date }} is null or {{ remove_date }} > {{ as_of_date() }}))
{%- endmacro %}

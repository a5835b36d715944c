{#- The spot-check plan of this build: var spot_check_plan, else the quarter of as_of_date. -#}
{% macro spot_check_plan_id() -%}
    {%- if var('spot_check_plan', none) -%}
        '{{ var("spot_check_plan") }}'
    {%- else -%}
        strftime({{ as_of_date() }}, '%Y') || 'Q' || cast(quarter({{ as_of_date() }}) as varchar)
    {%- endif -%}
{%- endmacro %}

{#- A reproducible uniform draw key: md5 of the seed, the plan and the parts given. -#}
{% macro spot_check_draw_key(parts) -%}
    md5(concat_ws('|', '{{ var("spot_check_seed") }}', {{ spot_check_plan_id() }},
        {%- for part in parts %} {{ part }}{% if not loop.last %},{% endif %}{% endfor %}))
{%- endmacro %}

{#- The spot-check plan of this build: var spot_check_plan, else the quarter of as_of_date. -#}
{% macro spot_check_plan_id() -%}
    {%- if var('spot_check_plan', none) -%}
        '{{ var("spot_check_plan") }}'
    {%- else -%}
        {{ year_text(as_of_date()) }} || 'Q' || cast(quarter({{ as_of_date() }}) as string)
    {%- endif -%}
{%- endmacro %}

{#- A reproducible uniform draw key: md5 of the seed, the plan and the parts given. -#}
{% macro spot_check_draw_key(parts) -%}
    md5(concat_ws('|', '{{ var("spot_check_seed") }}', {{ spot_check_plan_id() }},
        {%- for part in parts %} {{ part }}{% if not loop.last %},{% endif %}{% endfor %}))
{%- endmacro %}

{#- The class of a published spot-check result (gsxt wording): no_problem, problem (a finding,
    undisclosed or false public information, refusing the check), not_operating (no business
    of the checked kind, closed or liquidating), not_reachable (lost contact at the registered
    address), unknown. Operating checks are no_problem + problem. -#}
{% macro spot_check_result_class(column) -%}
    case
        when {{ column }} is null then 'unknown'
        when {{ column }} like '%未发现问题%' then 'no_problem'
        when {{ column }} like '%无法联系%' then 'not_reachable'
        when {{ column }} like '未发现开展%' or {{ column }} like '%关闭停业%'
            or {{ column }} like '%组织清算%' then 'not_operating'
        when {{ column }} like '发现问题%' or {{ column }} like '%未按规定公示%'
            or {{ column }} like '%隐瞒真实情况%' or {{ column }} like '%不配合%' then 'problem'
        else 'unknown'
    end
{%- endmacro %}

{#- A bound of the 95 % Wilson score interval for k successes in n trials (sign '-' or '+'). -#}
{% macro wilson_bound(k, n, sign) -%}
    (
        ({{ k }} / {{ n }} + 1.96 * 1.96 / (2 * {{ n }}))
        {{ sign }} 1.96 * sqrt(
            ({{ k }} / {{ n }}) * (1 - {{ k }} / {{ n }}) / {{ n }}
            + 1.96 * 1.96 / (4 * {{ n }} * {{ n }})
        )
    ) / (1 + 1.96 * 1.96 / {{ n }})
{%- endmacro %}

{#-
    SQL twin of the USCC functions in panorama.identity (GB 32100-2015 with the embedded
    GB 11714 organisation code). Every macro takes a SQL expression holding an already
    normalised code (see normalize_code) and returns a SQL expression. Pass a column, not a
    long expression: the code is referenced once per character.
-#}

{% macro uscc_problem(expr) -%}
    {{ return(adapter.dispatch('uscc_problem')(expr)) }}
{%- endmacro %}

{% macro default__uscc_problem(expr) -%}
    case
        when {{ expr }} is null or {{ expr }} = '' then 'missing'
        when length({{ expr }}) <> 18 then 'length'
        when not {{ identity__consists_of(expr, identity__uscc_charset()) }} then 'charset'
        when {{ identity__org_check_char(expr, 9) }} <> substr({{ expr }}, 17, 1) then 'org_check'
        when {{ identity__uscc_check_char(expr) }} <> substr({{ expr }}, 18, 1) then 'check'
    end
{%- endmacro %}

{% macro is_valid_uscc(expr) -%}
    {{ return(adapter.dispatch('is_valid_uscc')(expr)) }}
{%- endmacro %}

{% macro default__is_valid_uscc(expr) -%}
    ({{ uscc_problem(expr) }} is null)
{%- endmacro %}

{#- Positions 9-17: the embedded organisation code. -#}
{% macro uscc_org_code(expr) -%}
    {{ return(adapter.dispatch('uscc_org_code')(expr)) }}
{%- endmacro %}

{% macro default__uscc_org_code(expr) -%}
    substr({{ expr }}, 9, 9)
{%- endmacro %}

{#- Positions 3-8: the administrative division (GB/T 2260). -#}
{% macro uscc_division(expr) -%}
    {{ return(adapter.dispatch('uscc_division')(expr)) }}
{%- endmacro %}

{% macro default__uscc_division(expr) -%}
    substr({{ expr }}, 3, 6)
{%- endmacro %}

{#- enterprise / individual / cooperative under authority '9' (market regulation), else null. -#}
{% macro uscc_entity_type(expr) -%}
    {{ return(adapter.dispatch('uscc_entity_type')(expr)) }}
{%- endmacro %}

{% macro default__uscc_entity_type(expr) -%}
    case
        when substr({{ expr }}, 1, 2) = '91' then 'enterprise'
        when substr({{ expr }}, 1, 2) = '92' then 'individual'
        when substr({{ expr }}, 1, 2) = '93' then 'cooperative'
    end
{%- endmacro %}

{#- Helpers shared with org_code.sql. -#}

{% macro identity__uscc_charset() -%}
    0123456789ABCDEFGHJKLMNPQRTUWXY
{%- endmacro %}

{#- The GB 32100 check character for the first 17 characters of expr: value = index in the
    charset, weight 3^i mod 31, check = CHARSET[(31 - sum mod 31) mod 31]. -#}
{% macro identity__uscc_check_char(expr) -%}
    {%- set charset = identity__uscc_charset() -%}
    {%- set terms = [] -%}
    {%- for i in range(17) -%}
        {%- do terms.append('(position(substr(' ~ expr ~ ', ' ~ (i + 1) ~ ', 1) in \''
            ~ charset ~ '\') - 1) * ' ~ (3 ** i) % 31) -%}
    {%- endfor -%}
    substr('{{ charset }}', ((31 - ({{ terms | join(' + ') }}) % 31) % 31) + 1, 1)
{%- endmacro %}

{% macro identity__org_alphabet() -%}
    0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ
{%- endmacro %}

{#- The GB 11714 check character for the 8 characters of expr starting at position start:
    0-9 and A-Z valued 0-35, weights 3 7 9 10 5 8 4 2, check = 11 - sum mod 11 with
    10 -> 'X' and 11 -> '0'. -#}
{% macro identity__org_check_char(expr, start) -%}
    {%- set weights = [3, 7, 9, 10, 5, 8, 4, 2] -%}
    {%- set terms = [] -%}
    {%- for w in weights -%}
        {%- do terms.append('(position(substr(' ~ expr ~ ', ' ~ (start + loop.index0)
            ~ ', 1) in \'' ~ identity__org_alphabet() ~ '\') - 1) * ' ~ w) -%}
    {%- endfor -%}
    substr('123456789X0', 11 - ({{ terms | join(' + ') }}) % 11, 1)
{%- endmacro %}

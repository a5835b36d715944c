{#-
    SQL twin of panorama.identity.regno_problem: the old 15-digit registration number
    (GS 15-2006), check digit by ISO 7064 MOD 11,10. Takes a normalised code.
-#}

{% macro regno_problem(expr) -%}
    {{ return(adapter.dispatch('regno_problem')(expr)) }}
{%- endmacro %}

{% macro default__regno_problem(expr) -%}
    case
        when {{ expr }} is null or {{ expr }} = '' then 'missing'
        when length({{ expr }}) <> 15 or not {{ identity__consists_of(expr, '0123456789') }}
            then 'format'
        when {{ identity__regno_check_digit(expr) }} <> substr({{ expr }}, 15, 1) then 'check'
    end
{%- endmacro %}

{% macro is_valid_regno(expr) -%}
    {{ return(adapter.dispatch('is_valid_regno')(expr)) }}
{%- endmacro %}

{% macro default__is_valid_regno(expr) -%}
    ({{ regno_problem(expr) }} is null)
{%- endmacro %}

{#- ISO 7064 MOD 11,10 over the first 14 digits: p = 10; for each digit d,
    s = (d + p) mod 10 with 0 -> 10, written (d + p - 1) mod 10 + 1 since d + p >= 1;
    p = 2s mod 11; check = (11 - p) mod 10. Unrolled into one nested expression. -#}
{% macro identity__regno_check_digit(expr) -%}
    {%- set ns = namespace(p='10') -%}
    {%- for i in range(1, 15) -%}
        {%- set digit = '(position(substr(' ~ expr ~ ', ' ~ i ~ ', 1) in \'0123456789\') - 1)' -%}
        {%- set ns.p = '(2 * ((' ~ digit ~ ' + ' ~ ns.p ~ ' - 1) % 10 + 1) % 11)' -%}
    {%- endfor -%}
    substr('0123456789', (11 - {{ ns.p }}) % 10 + 1, 1)
{%- endmacro %}

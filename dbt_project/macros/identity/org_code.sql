{#-
    SQL twin of panorama.identity.org_code_problem: the 9-character organisation code
    (GB 11714) as court records carry it. Takes a normalised code.
-#}

{% macro org_code_problem(expr) -%}
    {{ return(adapter.dispatch('org_code_problem')(expr)) }}
{%- endmacro %}

{% macro default__org_code_problem(expr) -%}
    case
        when {{ expr }} is null or {{ expr }} = '' then 'missing'
        when length({{ expr }}) <> 9
            or not {{ identity__consists_of('substr(' ~ expr ~ ', 1, 8)', identity__org_alphabet()) }}
            or not {{ identity__consists_of('substr(' ~ expr ~ ', 9, 1)', '0123456789X') }}
            then 'format'
        when {{ identity__org_check_char(expr, 1) }} <> substr({{ expr }}, 9, 1) then 'check'
    end
{%- endmacro %}

{% macro is_valid_org_code(expr) -%}
    {{ return(adapter.dispatch('is_valid_org_code')(expr)) }}
{%- endmacro %}

{% macro default__is_valid_org_code(expr) -%}
    ({{ org_code_problem(expr) }} is null)
{%- endmacro %}

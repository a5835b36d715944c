{#-
    Resident identity card numbers (公民身份号码, GB 11643-1999): personal data. SQL twin of
    panorama.pii.is_resident_id_number. A value that is a resident ID number is a person's,
    even when it also happens to pass the GB 32100 USCC check (about 1 in 341 do).
-#}

{#- Provinces (GB/T 2260 first two digits) that issue resident ID numbers. -#}
{% macro identity__id_provinces() -%}
    '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37',
    '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64',
    '65', '71', '81', '82'
{%- endmacro %}

{#- True when expr (a normalised code) is an 18-character resident ID number: a province's
    6-digit division code, a real birth date YYYYMMDD from 1900 on, a 3-digit sequence and the
    ISO 7064 MOD 11-2 check character (0-9 or X). -#}
{% macro is_resident_id_number(expr) -%}
    {%- set weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] -%}
    {%- set terms = [] -%}
    {%- for w in weights -%}
        {%- do terms.append('try_cast(substr(' ~ expr ~ ', ' ~ loop.index ~ ', 1) as integer) * ' ~ w) -%}
    {%- endfor -%}
    coalesce(
        {{ full_match(expr, '[0-9]{17}[0-9X]') }}
        and substr({{ expr }}, 1, 2) in ({{ identity__id_provinces() }})
        and substr({{ expr }}, 7, 4) >= '1900'
        and {{ is_yyyymmdd_date('substr(' ~ expr ~ ', 7, 8)') }}
        and substr('10X98765432', (({{ terms | join(' + ') }}) % 11) + 1, 1)
            = substr({{ expr }}, 18, 1),
        false
    )
{%- endmacro %}

{#- A keyed hash of a personal identifier, for linking records of one person without keeping
    the number: sha256 of a secret key and the value. The key comes from the environment
    variable PANORAMA_PERSON_HASH_KEY (set it in production; the default is for development
    only), so the hash cannot be reversed by hashing every possible ID number. -#}
{% macro person_id_hash(expr) -%}
    {%- set keyed -%}
        concat(
        '{{ env_var("PANORAMA_PERSON_HASH_KEY", "credit-panorama-development-key") }}', '|',
        {{ expr }}
    )
    {%- endset -%}
    case when {{ expr }} is not null then {{ sha256_hex(keyed) }} end
{%- endmacro %}

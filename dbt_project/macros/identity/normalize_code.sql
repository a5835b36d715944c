{#-
    SQL twin of panorama.identity.normalize_code: fold full-width forms (U+FF01..U+FF5E) to
    ASCII, drop every character that Python's NFKC + whitespace/hyphen removal drops (ASCII
    and Unicode spaces, U+3000, tabs and line breaks, '-', U+FE63, U+FF0D), upper-case, and
    turn the empty string into null.
-#}

{% macro normalize_code(expr) -%}
    {{ return(adapter.dispatch('normalize_code')(expr)) }}
{%- endmacro %}

{#- One translate() folds and deletes: characters of the from-list beyond the length of the
    to-list are deleted. -#}
{% macro default__normalize_code(expr) -%}
    nullif(upper(translate({{ expr }}, {{ identity__fold_from() }}, {{ identity__fold_to() }})), '')
{%- endmacro %}

{#- DuckDB rebuilds translate()'s character map on every row (7 s per million codes with
    this map), so: codes already made of ASCII letters and digits only get upper(); the
    others lose the deleted characters in one regexp_replace and have their full-width
    characters shifted by U+FEE0 one character at a time. -#}
{% macro duckdb__normalize_code(expr) -%}
    case
        when regexp_full_match({{ expr }}, '[0-9A-Za-z]+') then upper({{ expr }})
        else nullif(upper(array_to_string(list_transform(
            string_split(regexp_replace({{ expr }}, '{{ identity__deleted_class() }}', '', 'g'), ''),
            lambda c: case when c between '！' and '～' then chr(unicode(c) - 65248) else c end
        ), '')), '')
    end
{%- endmacro %}

{#- The characters normalize_code deletes: those whose NFKC form is whitespace or '-'. -#}
{% macro identity__deleted_chars() -%}
    {{- "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f -\x85\xa0\u1680"
        ~ "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
        ~ "\u2028\u2029\u202f\u205f\u3000\ufe63\uff0d" -}}
{%- endmacro %}

{#- The same characters as a regular-expression class ('-' last, where it is literal). -#}
{% macro identity__deleted_class() -%}
    [{{ identity__deleted_chars() | replace('-', '') }}-]
{%- endmacro %}

{#- Full-width U+FF01..U+FF5E without U+FF0D, then the characters that are deleted. -#}
{% macro identity__fold_from() -%}
    '！＂＃＄％＆＇（）＊＋，．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～{{ identity__deleted_chars() }}'
{%- endmacro %}

{#- ASCII images of the full-width characters, position by position (quote and backslash
    through chr() so the literal means the same on engines with backslash escapes). -#}
{% macro identity__fold_to() -%}
    ('!"#$%&' || chr(39) || '()*+,./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[' || chr(92)
    || ']^_`abcdefghijklmnopqrstuvwxyz{|}~')
{%- endmacro %}

{#- True when every character of expr is one of chars (letters and digits only); true for ''.
    DuckDB: a regular expression, ten times faster there than translate(). -#}
{% macro identity__consists_of(expr, chars) -%}
    {{ return(adapter.dispatch('identity__consists_of')(expr, chars)) }}
{%- endmacro %}

{% macro default__identity__consists_of(expr, chars) -%}
    (translate({{ expr }}, '{{ chars }}', '') = '')
{%- endmacro %}

{% macro duckdb__identity__consists_of(expr, chars) -%}
    regexp_full_match({{ expr }}, '[{{ chars }}]*')
{%- endmacro %}

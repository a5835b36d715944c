{#-
    SQL twin of panorama.identity.normalize_code: fold full-width forms (U+FF01..U+FF5E) to
    ASCII, drop every character that Python's NFKC + whitespace/hyphen removal drops (ASCII
    and Unicode spaces, U+3000, tabs and line breaks, '-', U+FE63, U+FF0D), upper-case, and
    turn the empty string into null. One translate() does the folding and the deletion.
-#}

{% macro normalize_code(expr) -%}
    {{ return(adapter.dispatch('normalize_code')(expr)) }}
{%- endmacro %}

{% macro default__normalize_code(expr) -%}
    nullif(upper(translate({{ expr }}, {{ identity__fold_from() }}, {{ identity__fold_to() }})), '')
{%- endmacro %}

{#- Full-width U+FF01..U+FF5E without U+FF0D, then the characters that are deleted. -#}
{% macro identity__fold_from() -%}
    {%- set deleted = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f -\x85\xa0\u1680"
        ~ "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
        ~ "\u2028\u2029\u202f\u205f\u3000\ufe63\uff0d" -%}
    '！＂＃＄％＆＇（）＊＋，．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～{{ deleted }}'
{%- endmacro %}

{#- ASCII images of the full-width characters, position by position (quote and backslash
    through chr() so the literal means the same on engines with backslash escapes). -#}
{% macro identity__fold_to() -%}
    ('!"#$%&' || chr(39) || '()*+,./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[' || chr(92)
    || ']^_`abcdefghijklmnopqrstuvwxyz{|}~')
{%- endmacro %}

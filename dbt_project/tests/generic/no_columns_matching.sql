{#- A public table must not carry columns whose names match any of `patterns` (regular
    expressions, case-insensitive): grades, scores, ID numbers, phones. Fails with one row per
    offending column. -#}
{% test no_columns_matching(model, patterns) %}
select column_name
from information_schema.columns
where table_schema = '{{ model.schema }}'
    and table_name = '{{ model.identifier }}'
    and ({% for p in patterns %}regexp_matches(lower(column_name), '{{ p }}'){% if not loop.last %} or {% endif %}{% endfor %})
{% endtest %}

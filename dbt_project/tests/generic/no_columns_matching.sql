{#- A public table must not carry columns whose names match any of `patterns` (regular
    expressions, case-insensitive): grades, scores, ID numbers, phones. Fails with one row per
    offending column. -#}
{% test no_columns_matching(model, patterns) %}
{{ adapter.dispatch('test_no_columns_matching')(model, patterns) }}
{% endtest %}

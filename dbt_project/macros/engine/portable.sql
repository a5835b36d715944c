{#- Engine-specific SQL, one macro per construct: the DuckDB form (default__, what the
    project has always run) and the Spark form side by side. Both give the same values. -#}

{#- The whole text matches a regular expression. -#}
{% macro full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('full_match')(expr, pattern)) }}
{%- endmacro %}
{% macro default__full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}
{% macro spark__full_match(expr, pattern) -%}
    ({{ expr }} rlike '^(?:{{ spark_literal(pattern) }})$')
{%- endmacro %}

{#- SQL's SIMILAR TO (the whole text matches). -#}
{% macro similar_to(expr, pattern) -%}
    {{ return(adapter.dispatch('similar_to')(expr, pattern)) }}
{%- endmacro %}
{% macro default__similar_to(expr, pattern) -%}
    {{ expr }} similar to '{{ pattern }}'
{%- endmacro %}
{% macro spark__similar_to(expr, pattern) -%}
    {{ expr }} rlike '^(?:{{ spark_literal(pattern) }})$'
{%- endmacro %}

{#- Replace every match of a regular expression. -#}
{% macro replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('replace_all')(expr, pattern, replacement)) }}
{%- endmacro %}
{% macro default__replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}
{% macro spark__replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ spark_literal(pattern) }}', '{{ replacement }}')
{%- endmacro %}

{#- Spark reads backslash escapes in string literals: a regex's backslashes are doubled. -#}
{% macro spark_literal(text) -%}
    {{- text | replace('\\', '\\\\') -}}
{%- endmacro %}

{#- Every column of the relation but the ones named: `* exclude (...)` / `* except (...)`. -#}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except')(columns)) }}
{%- endmacro %}
{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}

{#- Ordered string aggregation (optionally distinct, optionally filtered). -#}
{% macro ordered_agg(expr, sep, order_by, distinct=false, where=none) -%}
    {{ return(adapter.dispatch('ordered_agg')(expr, sep, order_by, distinct, where)) }}
{%- endmacro %}
{% macro default__ordered_agg(expr, sep, order_by, distinct, where) -%}
    string_agg({{ 'distinct ' if distinct }}{{ expr }}, {{ sep }} order by {{ order_by }})
    {%- if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}
{% macro spark__ordered_agg(expr, sep, order_by, distinct, where) -%}
    string_agg({{ 'distinct ' if distinct }}{{ expr }}, {{ sep }}) within group (order by {{ order_by }})
    {%- if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{#- Ordered list aggregation. -#}
{% macro ordered_list(expr, order_by, distinct=false) -%}
    {{ return(adapter.dispatch('ordered_list')(expr, order_by, distinct)) }}
{%- endmacro %}
{% macro default__ordered_list(expr, order_by, distinct) -%}
    list({{ 'distinct ' if distinct }}{{ expr }} order by {{ order_by }})
{%- endmacro %}
{% macro spark__ordered_list(expr, order_by, distinct) -%}
    {%- if distinct or expr | trim == order_by | trim -%}
        array_sort({{ 'array_distinct(' if distinct }}collect_list({{ expr }}){{ ')' if distinct }})
    {%- else -%}
        transform(array_sort(collect_list(struct({{ order_by }} as k, {{ expr }} as v))), x -> x.v)
    {%- endif -%}
{%- endmacro %}

{#- Year of a date as text ('2026'). -#}
{% macro year_text(expr) -%}
    {{ return(adapter.dispatch('year_text')(expr)) }}
{%- endmacro %}
{% macro default__year_text(expr) -%}
    strftime({{ expr }}, '%Y')
{%- endmacro %}
{% macro spark__year_text(expr) -%}
    date_format({{ expr }}, 'yyyy')
{%- endmacro %}

{#- Hex SHA-256 of a text. -#}
{% macro sha256_hex(expr) -%}
    {{ return(adapter.dispatch('sha256_hex')(expr)) }}
{%- endmacro %}
{% macro default__sha256_hex(expr) -%}
    sha256({{ expr }})
{%- endmacro %}
{% macro spark__sha256_hex(expr) -%}
    sha2({{ expr }}, 256)
{%- endmacro %}

{#- A number as Python's '{:g}' writes it (at most 6 significant digits, no trailing zeros);
    `sign` '+' writes the sign of positive numbers too. -#}
{% macro g_format(expr, sign='') -%}
    {{ return(adapter.dispatch('g_format')(expr, sign)) }}
{%- endmacro %}
{% macro default__g_format(expr, sign) -%}
    format('{:{{ sign }}g}', {{ expr }})
{%- endmacro %}
{% macro spark__g_format(expr, sign) -%}
    {%- set text -%}
        regexp_replace(regexp_replace(cast(cast({{ expr }} as decimal(38, 6)) as string), '(\\.[0-9]*[1-9])0+$', '$1'), '\\.0+$', '')
    {%- endset -%}
    {%- if sign == '+' -%}
        case when {{ expr }} >= 0 then '+' else '' end || {{ text }}
    {%- else -%}
        {{ text }}
    {%- endif -%}
{%- endmacro %}

{#- One row per element of a list of expressions: a join clause giving column `alias.column`. -#}
{% macro cross_join_values(exprs, alias, column) -%}
    {{ return(adapter.dispatch('cross_join_values')(exprs, alias, column)) }}
{%- endmacro %}
{% macro default__cross_join_values(exprs, alias, column) -%}
    cross join unnest([{{ exprs | join(', ') }}]) as {{ alias }}({{ column }})
{%- endmacro %}
{% macro spark__cross_join_values(exprs, alias, column) -%}
    cross join lateral explode(array({{ exprs | join(', ') }})) as {{ alias }}({{ column }})
{%- endmacro %}

{#- Does a list contain a value. -#}
{% macro list_has(list_expr, value) -%}
    {{ return(adapter.dispatch('list_has')(list_expr, value)) }}
{%- endmacro %}
{% macro default__list_has(list_expr, value) -%}
    list_contains({{ list_expr }}, {{ value }})
{%- endmacro %}
{% macro spark__list_has(list_expr, value) -%}
    array_contains({{ list_expr }}, {{ value }})
{%- endmacro %}

{#- A text split into a list. -#}
{% macro split_list(expr, sep) -%}
    {{ return(adapter.dispatch('split_list')(expr, sep)) }}
{%- endmacro %}
{% macro default__split_list(expr, sep) -%}
    string_split({{ expr }}, {{ sep }})
{%- endmacro %}
{% macro spark__split_list(expr, sep) -%}
    split({{ expr }}, {{ sep }})
{%- endmacro %}

{#- An empty list of text. -#}
{% macro empty_text_list(typed=false) -%}
    {{ return(adapter.dispatch('empty_text_list')(typed)) }}
{%- endmacro %}
{% macro default__empty_text_list(typed) -%}
    []{{ '::string[]' if typed }}
{%- endmacro %}
{% macro spark__empty_text_list(typed) -%}
    cast(array() as array<string>)
{%- endmacro %}

{#- Integer division. -#}
{% macro int_div(a, b) -%}
    {{ return(adapter.dispatch('int_div')(a, b)) }}
{%- endmacro %}
{% macro default__int_div(a, b) -%}
    {{ a }} // {{ b }}
{%- endmacro %}
{% macro spark__int_div(a, b) -%}
    {{ a }} div {{ b }}
{%- endmacro %}

{#- In a select list: one row per element of a list of expressions. -#}
{% macro unnest_values(exprs) -%}
    {{ return(adapter.dispatch('unnest_values')(exprs)) }}
{%- endmacro %}
{% macro default__unnest_values(exprs) -%}
    unnest([{{ exprs | join(', ') }}])
{%- endmacro %}
{% macro spark__unnest_values(exprs) -%}
    explode(array({{ exprs | join(', ') }}))
{%- endmacro %}

{#- In a select list: one row per element of a list column. -#}
{% macro unnest_list(expr) -%}
    {{ return(adapter.dispatch('unnest_list')(expr)) }}
{%- endmacro %}
{% macro default__unnest_list(expr) -%}
    unnest({{ expr }})
{%- endmacro %}
{% macro spark__unnest_list(expr) -%}
    explode({{ expr }})
{%- endmacro %}

{#- In a select list: one row per integer of [start, stop). -#}
{% macro unnest_range(start, stop) -%}
    {{ return(adapter.dispatch('unnest_range')(start, stop)) }}
{%- endmacro %}
{% macro default__unnest_range(start, stop) -%}
    unnest(range({{ start }}, {{ stop }}))
{%- endmacro %}
{% macro spark__unnest_range(start, stop) -%}
    explode(case when ({{ start }}) < ({{ stop }})
        then sequence(cast({{ start }} as bigint), cast({{ stop }} as bigint) - 1)
        else cast(array() as array<bigint>) end)
{%- endmacro %}

{#- Long form of a relation: one row per (kept columns, column name, value) for every column
    but `keep` and `drop`; null values left out. -#}
{% macro unpivot_relation(relation, keep, drop, name, value) -%}
    {{ return(adapter.dispatch('unpivot_relation')(relation, keep, drop, name, value)) }}
{%- endmacro %}
{% macro default__unpivot_relation(relation, keep, drop, name, value) -%}
    unpivot (
        select * exclude ({{ drop | join(', ') }})
        from {{ relation }}
    )
    on columns(* exclude ({{ keep | join(', ') }}))
    into name {{ name }} value {{ value }}
{%- endmacro %}
{% macro spark__unpivot_relation(relation, keep, drop, name, value) -%}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name not in keep and column.name not in drop -%}
                {%- do columns.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select * from (select {{ star_except(drop) }} from {{ relation }})
    unpivot ({{ value }} for {{ name }} in ({{ columns | join(', ') if columns else 'none' }}))
{%- endmacro %}

{#- A JSON object built from the group's rows: key -> {field: value, ...}, keys in `order_by`
    order, nulls written as null. `fields`: list of (name, expression) pairs, in order. -#}
{% macro json_object_agg(key, fields, order_by) -%}
    {{ return(adapter.dispatch('json_object_agg')(key, fields, order_by)) }}
{%- endmacro %}
{% macro default__json_object_agg(key, fields, order_by) -%}
    to_json(map_from_entries(list(
            struct_pack(
                k := {{ key }},
                v := struct_pack(
                    {%- for name, expr in fields %}
                    {{ name }} := {{ expr }}{{ ',' if not loop.last }}
                    {%- endfor %}
                )
            )
            order by {{ order_by }}
        )))
{%- endmacro %}
{% macro spark__json_object_agg(key, fields, order_by) -%}
    to_json(map_from_entries(transform(array_sort(collect_list(struct(
        {{ order_by }} as o,
        struct({{ key }} as k, named_struct(
            {%- for name, expr in fields %}'{{ name }}', {{ expr }}{{ ', ' if not loop.last }}{% endfor -%}
        ) as v) as e
    ))), x -> x.e)), map('ignoreNullFields', 'false'))
{%- endmacro %}

{#- The sorted distinct elements of the group's lists (where `condition` holds). -#}
{% macro merged_sorted_list(expr, condition) -%}
    {{ return(adapter.dispatch('merged_sorted_list')(expr, condition)) }}
{%- endmacro %}
{% macro default__merged_sorted_list(expr, condition) -%}
    list_sort(list_distinct(flatten(list({{ expr }}) filter (where {{ condition }}))))
{%- endmacro %}
{% macro spark__merged_sorted_list(expr, condition) -%}
    array_sort(array_distinct(flatten(collect_list(case when {{ condition }} then {{ expr }} end))))
{%- endmacro %}

{#- JSON: the keys of an object (a list); the value at a path (JSON text / text); a JSON list
    of texts as a list. -#}
{% macro json_keys_of(expr) -%}
    {{ return(adapter.dispatch('json_keys_of')(expr)) }}
{%- endmacro %}
{% macro default__json_keys_of(expr) -%}
    json_keys({{ expr }})
{%- endmacro %}
{% macro spark__json_keys_of(expr) -%}
    json_object_keys({{ expr }})
{%- endmacro %}

{% macro json_at(expr, path) -%}
    {{ return(adapter.dispatch('json_at')(expr, path)) }}
{%- endmacro %}
{% macro default__json_at(expr, path) -%}
    json_extract({{ expr }}, {{ path }})
{%- endmacro %}
{% macro spark__json_at(expr, path) -%}
    get_json_object({{ expr }}, {{ path }})
{%- endmacro %}

{% macro json_text_list(expr) -%}
    {{ return(adapter.dispatch('json_text_list')(expr)) }}
{%- endmacro %}
{% macro default__json_text_list(expr) -%}
    from_json({{ expr }}, '["VARCHAR"]')
{%- endmacro %}
{% macro spark__json_text_list(expr) -%}
    from_json({{ expr }}, 'array<string>')
{%- endmacro %}

{#- The elements of one list not in another (order kept). -#}
{% macro list_minus(a, b) -%}
    {{ return(adapter.dispatch('list_minus')(a, b)) }}
{%- endmacro %}
{% macro default__list_minus(a, b) -%}
    list_filter({{ a }},
        lambda x: not list_contains({{ b }}, x))
{%- endmacro %}
{% macro spark__list_minus(a, b) -%}
    filter({{ a }}, x -> not array_contains({{ b }}, x))
{%- endmacro %}

{#- A list sorted. -#}
{% macro sorted_list(expr) -%}
    {{ return(adapter.dispatch('sorted_list')(expr)) }}
{%- endmacro %}
{% macro default__sorted_list(expr) -%}
    list_sort({{ expr }})
{%- endmacro %}
{% macro spark__sorted_list(expr) -%}
    array_sort({{ expr }})
{%- endmacro %}

{#- Incremental strategy of the models that replace their rows by unique key. DuckDB:
    delete+insert. Spark with Parquet tables has no row-level delete (merge needs Delta or
    Iceberg): append. Those models insert only rows whose key is not in the table yet (a plan
    is drawn once and kept; grade history rows are new per run), so append keeps the same
    rows, except when a run with the same run id is built again. -#}
{#- Materialisation of the staging of incremental kinds: incremental on DuckDB (each run
    stages only the new loads, merged by record_id with delete+insert); on Spark a table built
    from every load (Parquet tables have no row-level delete, and a Spark run starts from the
    raw zone). -#}
{% macro staging_incremental_materialization() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}

{% macro incremental_strategy_keyed() -%}
    {{ return('append' if target.type == 'spark' else 'delete+insert') }}
{%- endmacro %}

{#- The text is a valid calendar date written YYYYMMDD. -#}
{% macro is_yyyymmdd_date(expr) -%}
    {{ return(adapter.dispatch('is_yyyymmdd_date')(expr)) }}
{%- endmacro %}
{% macro default__is_yyyymmdd_date(expr) -%}
    try_strptime({{ expr }}, '%Y%m%d') is not null
{%- endmacro %}
{% macro spark__is_yyyymmdd_date(expr) -%}
    try_to_date({{ expr }}, 'yyyyMMdd') is not null
{%- endmacro %}

{#- A fractional number literal of type double (Spark reads 365.25 as a decimal). -#}
{% macro double_literal(text) -%}
    {{ return(adapter.dispatch('double_literal')(text)) }}
{%- endmacro %}
{% macro default__double_literal(text) -%}
    {{ text }}
{%- endmacro %}
{% macro spark__double_literal(text) -%}
    cast({{ text }} as double)
{%- endmacro %}

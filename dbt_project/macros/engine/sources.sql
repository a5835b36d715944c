{#- The sources read the Parquet raw zone (and the matcher's Parquet output) on every engine.
    DuckDB reads them through the `external_location` of the source definitions (dbt-duckdb);
    on Spark the relation is the same files read directly (`parquet.<path>`), so `source()`
    is engine-dispatched here. Unit tests keep the fixture dbt puts in place of a source. -#}
{% macro source(source_name, table_name) -%}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if not execute or relation.identifier.startswith('__dbt__cte__') -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return(adapter.dispatch('source_relation')(relation, source_name, table_name)) }}
{%- endmacro %}

{% macro default__source_relation(relation, source_name, table_name) -%}
    {{ return(relation) }}
{%- endmacro %}

{#- Spark: the raw zone's `<kind>__<department>/load_date=<ds>/*.parquet` files of every
    department feed of a kind (schemas merged by name: spark.sql.parquet.mergeSchema), the
    hive partition `load_date` taken from the file path. -#}
{% macro spark__source_relation(relation, source_name, table_name) -%}
    {%- if source_name == 'raw' -%}
        {%- set glob = env_var('PANORAMA_RAW_DIR') ~ '/' ~ table_name ~ '__*/load_date=*/*.parquet' -%}
        {#- columns only some raw files have (`_issues`, and `_load_date` of a month the
            raw-zone lifecycle compacted): null where no file of the kind has them yet -#}
        {%- set present = run_query('select * from parquet.`' ~ glob ~ '` limit 0').column_names
            | map('lower') | list -%}
        {%- set missing = [] -%}
        {%- for optional in ['_issues', '_load_date'] if optional not in present -%}
            {%- do missing.append('cast(null as string) as ' ~ optional) -%}
        {%- endfor -%}
        {%- set sql -%}
            (select *, {% for m in missing %}{{ m }}, {% endfor -%}
            regexp_extract(_metadata.file_path, '/load_date=([^/]+)/', 1) as load_date
            from parquet.`{{ glob }}`)
        {%- endset -%}
    {%- elif source_name == 'resolution' -%}
        {%- set dir = env_var('PANORAMA_RESOLUTION_DIR', env_var('PANORAMA_RAW_DIR', '.') ~ '/../resolution') -%}
        {%- set sql -%}(select * from parquet.`{{ dir }}/{{ table_name }}/*.parquet`){%- endset -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error('no Spark location for source ' ~ source_name) }}
    {%- endif -%}
    {{ return(sql) }}
{%- endmacro %}

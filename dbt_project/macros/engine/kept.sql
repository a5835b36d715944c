{#- What a build keeps from the last publication (grade history, spot-check plans), on Spark.

    On DuckDB a build starts from a copy of the published file, so the models marked
    `meta: {kept: true}` find their earlier rows in {{ this }}. A Spark build starts with an
    empty catalogue in its run folder: this hook (on-run-start) copies the published Parquet of
    each kept model into it first. PANORAMA_KEPT_TABLES (set by the pipeline for a build on
    Spark when a publication exists) maps "schema.table" to its published Parquet folder.
    Incremental models are copied under their own name (they append to it); a kept model that
    Spark cannot update in place (it replaces rows by key, which Parquet tables cannot) is a
    table on Spark, copied as "<table>__prior" and read through kept_prior(). -#}
{% macro carry_kept_tables() %}
    {#- read when the hook runs, never while parsing: the value changes from run to run -#}
    {%- if not execute or target.type != 'spark' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set published = fromjson(env_var('PANORAMA_KEPT_TABLES', '{}')) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.config.get('meta', {}).get('kept')
        and (node.schema ~ '.' ~ node.alias) in published -%}
        {%- set name = node.alias if node.config.materialized == 'incremental' else node.alias ~ '__prior' -%}
        {%- if adapter.get_relation(database=none, schema=node.schema, identifier=name) is none -%}
            {%- do run_query('create schema if not exists ' ~ node.schema) -%}
            {%- do run_query(
                'create table ' ~ node.schema ~ '.' ~ name ~ ' using parquet as select * from parquet.`'
                ~ published[node.schema ~ '.' ~ node.alias] ~ '`') -%}
            {#- known to this invocation's relation cache, filled before the hook ran -#}
            {%- do adapter.cache_added(api.Relation.create(schema=node.schema, identifier=name, type='table')) -%}
            {%- do log('kept from the last publication: ' ~ node.schema ~ '.' ~ name, info=true) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}

{#- The rows a kept model holds from earlier builds, or none on its first build: {{ this }} on
    DuckDB (an incremental build), the copy carry_kept_tables made on Spark. -#}
{% macro kept_prior() %}
    {%- if target.type != 'spark' -%}
        {{ return(this if is_incremental() else none) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=none, schema=this.schema, identifier=this.identifier ~ '__prior')) }}
{% endmacro %}

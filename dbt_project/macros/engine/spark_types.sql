{#- Type names on Spark. The project writes DuckDB's names in seed column types and model
    contracts (varchar, timestamptz); Spark wants `string` (a bare VARCHAR needs a length)
    and `timestamp` (always UTC here: spark.sql.session.timeZone). -#}
{% macro spark_type(type) -%}
    {%- set t = type | string | trim | lower -%}
    {%- if t in ('varchar', 'text', 'string') or t.startswith('varchar(') -%}
        {{ return('string') }}
    {%- elif t in ('timestamptz', 'timestamp with time zone') -%}
        {{ return('timestamp') }}
    {%- elif t in ('integer', 'int4') -%}
        {{ return('int') }}
    {%- elif t in ('int8', 'long') -%}
        {{ return('bigint') }}
    {%- elif t in ('float8', 'float64') -%}
        {{ return('double') }}
    {%- elif t == 'bool' -%}
        {{ return('boolean') }}
    {%- endif -%}
    {{ return(type) }}
{%- endmacro %}

{#- Contracts compare the model's columns with `cast(null as <yml data_type>)`. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type(type) }})
{%- endmacro %}

{#- dbt-spark's seed macros with the seed column types translated (otherwise the same). -#}
{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}

  {% set sql %}
    create table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = spark_type(column_override.get(col_name, inferred_type)) -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}

  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}

  {{ return(sql) }}
{% endmacro %}

{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {#- values written as literals, not bindings: the session cursor formats a missing value
      as the text 'None' -#}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = spark_type(column_override.get(col_name, inferred_type)) -%}
                  {%- set value = row[loop.index0] -%}
                  {%- if value is none -%}
                    cast(null as {{ type }})
                  {%- else -%}
                    cast('{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
                  {%- endif -%}
                  {%- if not loop.last%},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last%},{%- endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}

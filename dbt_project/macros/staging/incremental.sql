{#- Incremental staging of the incremental kinds (every load adds records).

    The raw zone of an incremental kind only grows: each run lands loads of a later date. So an
    incremental build reads only the loads after the newest one already staged, and merges them
    by record_id (delete+insert): a record delivered again takes its latest load, as in a full
    build, and n_deliveries adds the earlier count. The pipeline carries the staged tables of
    the last publication's build into the candidate only when that holds (no file of an earlier
    load changed, no load at or before the newest staged one added); otherwise, and with a full
    refresh, the table is absent and the model builds from every load. -#}

{#- The `where` of the model's `source` CTE: on an incremental build, the loads after the
    newest staged one (a constant, so that only their partitions are read). The hive
    `load_date` is text: a month compacted by the raw-zone lifecycle is `month-YYYY-MM`, and its
    rows are staged already (compaction rewrites the raw zone, so the next build is a full
    one), so those partitions are left out; ISO dates compare as text. -#}
{% macro new_loads_only() -%}
    {%- if config.get('materialized') == 'incremental' and is_incremental() and execute -%}
        {%- set newest = run_query('select max(load_date) from ' ~ this).columns[0].values()[0] -%}
        {%- if newest is not none %}
    where cast(load_date as string) > '{{ newest }}'
      and cast(load_date as string) not like 'month-%'
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro pipeline_run_id() -%}
    {#- The id of the pipeline run that builds the rows (env PANORAMA_RUN_ID, else the var
        run_id). Read when the model runs, not while dbt parses the project: a new run id then
        leaves the parse unchanged and the next run reuses it. -#}
    {%- if execute -%}{{ env_var('PANORAMA_RUN_ID', var('run_id')) }}{%- endif -%}
{%- endmacro %}

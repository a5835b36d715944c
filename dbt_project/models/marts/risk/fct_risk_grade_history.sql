{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        unique_key='history_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'kept': true}
    )
}}
{#- 分类历史: one row per entity and period in which its grade, score, deciding model and
    fired overrides stayed the same (with the reasons and indicator points of the period). valid_from/valid_to are logical dates (var as_of_date), valid_to is
    exclusive and null while current. Kept across runs: the warehouse file persists and this
    model only appends new periods and closes changed ones. Re-running the same as_of_date
    replaces that date's rows. Grade as of date D:
        select * from risk.fct_risk_grade_history
        where valid_from <= D and (valid_to is null or valid_to > D)
    as_of_date must not go backwards between runs. On Spark, whose Parquet tables cannot replace
    rows by key, it is a table rebuilt each run from the kept copy (kept_prior()): the earlier
    rows this run does not replace, then the periods it opens and closes. -#}
{%- set prior = kept_prior() %}
with

current_grades as (

    select
        entity_id, grade, score, model_name, overrides_fired, reasons, indicator_points, as_of_date
    from {{ ref('fct_risk_grade') }}

),

{% if prior is not none %}

{#- columns added after a history table was first built read as null until written -#}
{%- set existing = adapter.get_columns_in_relation(prior) | map(attribute='name') | map('lower') | list %}

kept_rows as (

    select
        history_id, entity_id, grade, score, model_name,
        {%- for column in ['overrides_fired', 'reasons', 'indicator_points'] %}
        {% if column in existing %}{{ column }}{% else %}cast(null as string) as {{ column }}{% endif %},
        {%- endfor %}
        valid_from, valid_to, is_current
    from {{ prior }}

),

open_periods as (

    select * from kept_rows
    where is_current and valid_from <= {{ as_of_date() }}

),

changed as (

    select current_grades.*
    from current_grades
    left join open_periods on open_periods.entity_id = current_grades.entity_id
    where open_periods.entity_id is null
        or open_periods.valid_from = {{ as_of_date() }}
        or open_periods.grade is distinct from current_grades.grade
        or open_periods.score is distinct from current_grades.score
        or open_periods.model_name is distinct from current_grades.model_name
        or open_periods.overrides_fired is distinct from current_grades.overrides_fired

),

closed as (

    select
        open_periods.history_id,
        open_periods.entity_id,
        open_periods.grade,
        open_periods.score,
        open_periods.model_name,
        open_periods.overrides_fired,
        open_periods.reasons,
        open_periods.indicator_points,
        open_periods.valid_from,
        {{ as_of_date() }} as valid_to,
        false as is_current
    from open_periods
    left join current_grades on current_grades.entity_id = open_periods.entity_id
    where open_periods.valid_from < {{ as_of_date() }}
        and (
            current_grades.entity_id is null
            or open_periods.grade is distinct from current_grades.grade
            or open_periods.score is distinct from current_grades.score
            or open_periods.model_name is distinct from current_grades.model_name
            or open_periods.overrides_fired is distinct from current_grades.overrides_fired
        )

),

{% else %}

changed as (

    select * from current_grades

),

{% endif %}

opened as (

    select
        md5(entity_id || '|' || cast(as_of_date as string)) as history_id,
        entity_id,
        grade,
        score,
        model_name,
        overrides_fired,
        reasons,
        indicator_points,
        as_of_date as valid_from,
        cast(null as date) as valid_to,
        true as is_current
    from changed

)

select * from opened
{% if prior is not none %}
union all
select * from closed
{% if target.type == 'spark' %}
union all
select * from kept_rows
where history_id not in (select history_id from opened union all select history_id from closed)
{% endif %}
{% endif %}

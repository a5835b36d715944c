{#- 分类变动 (internal): entities whose grade changed since the last publication, i.e. whose
    history period opened on this as_of_date replaced a period with another grade. With the
    previous and the new grade and why: overrides that started or ended, and the indicators
    whose points changed (值 old→new, 分 old→new). -#}
with

history as (

    select * from {{ ref('fct_risk_grade_history') }}

),

current_periods as (

    select * from history
    where valid_from = {{ as_of_date() }}

),

previous_periods as (

    select * from history
    where valid_to = {{ as_of_date() }}

),

changed as (

    select
        current_periods.entity_id,
        previous_periods.grade as previous_grade,
        current_periods.grade,
        previous_periods.score as previous_score,
        current_periods.score,
        previous_periods.valid_from as previous_valid_from,
        previous_periods.overrides_fired as previous_overrides,
        current_periods.overrides_fired,
        coalesce(previous_periods.indicator_points, '{}') as previous_points,
        coalesce(current_periods.indicator_points, '{}') as current_points,
        current_periods.reasons
    from current_periods
    inner join previous_periods on previous_periods.entity_id = current_periods.entity_id
    where previous_periods.grade <> current_periods.grade

),

indicator_keys as (

    select entity_id, previous_points, current_points, unnest(json_keys(previous_points)) as indicator
    from changed
    union
    select entity_id, previous_points, current_points, unnest(json_keys(current_points))
    from changed

),

indicator_changes as (

    select
        indicator_keys.entity_id,
        indicator_keys.indicator,
        definitions.indicator_label,
        {%- for side in ['previous', 'current'] %}
        {%- for field in ['value', 'points'] %}
        coalesce(cast(json_extract(
            indicator_keys.{{ side }}_points, '$.' || indicator_keys.indicator || '.{{ field }}'
        ) as double), 0) as {{ side }}_{{ field }}{{ ',' if not loop.last or side == 'previous' }}
        {%- endfor %}
        {%- endfor %}
    from indicator_keys
    left join {{ ref('risk_indicators') }} as definitions
        on definitions.indicator = indicator_keys.indicator

),

indicator_text as (

    select
        entity_id,
        string_agg(
            coalesce(indicator_label, indicator)
            || ' ' || format('{:g}', round(previous_value, 2)) || '→' || format('{:g}', round(current_value, 2))
            || '（' || format('{:+g}', round(current_points - previous_points, 1)) || '分）',
            '；' order by abs(current_points - previous_points) desc, indicator
        ) as indicator_changes
    from indicator_changes
    where current_points <> previous_points
    group by entity_id

),

override_lists as (

    select
        entity_id,
        coalesce(string_split(previous_overrides, ','), []) as previous_list,
        coalesce(string_split(overrides_fired, ','), []) as current_list
    from changed

),

override_labels as (

    select override_code, override_label from {{ ref('risk_overrides') }}

),

override_text as (

    select
        override_lists.entity_id,
        string_agg(labels.override_label, '；' order by labels.override_code)
            filter (where list_contains(override_lists.current_list, labels.override_code)
                and not list_contains(override_lists.previous_list, labels.override_code))
            as overrides_started,
        string_agg(labels.override_label, '；' order by labels.override_code)
            filter (where list_contains(override_lists.previous_list, labels.override_code)
                and not list_contains(override_lists.current_list, labels.override_code))
            as overrides_ended
    from override_lists
    cross join override_labels as labels
    group by override_lists.entity_id

)

select
    md5(changed.entity_id || '|' || cast({{ as_of_date() }} as varchar)) as change_id,
    changed.entity_id,
    entity.entity_name,
    entity.division_code,
    entity.division_name,
    entity.entity_type_name,
    changed.previous_grade,
    changed.grade,
    case when changed.grade > changed.previous_grade then '风险上升' else '风险下降' end
        as direction,
    changed.previous_score,
    changed.score,
    changed.previous_valid_from,
    {{ as_of_date() }} as changed_on,
    override_text.overrides_started,
    override_text.overrides_ended,
    indicator_text.indicator_changes,
    changed.reasons
from changed
inner join {{ ref('dim_entity') }} as entity on entity.entity_id = changed.entity_id
left join override_text on override_text.entity_id = changed.entity_id
left join indicator_text on indicator_text.entity_id = changed.entity_id

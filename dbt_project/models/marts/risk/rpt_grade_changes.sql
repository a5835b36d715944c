{#- 分类变动 (internal): entities whose grade changed since the last publication, i.e. whose
    history period opened on this as_of_date replaced a period with another grade. With the
    previous and the new grade and why: overrides that started or ended, the indicators whose
    points changed (值 old→new, 分 old→new), and the cause — the records that started or
    stopped counting (event ids and summaries), the ageing of the entity, or a change of the
    scoring policy. A change without a cause fails the not_null test on cause. -#}
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

    select entity_id, previous_points, current_points, {{ unnest_list(json_keys_of('previous_points')) }} as indicator
    from changed
    union
    select entity_id, previous_points, current_points, {{ unnest_list(json_keys_of('current_points')) }}
    from changed

),

indicator_changes as (

    select
        indicator_keys.entity_id,
        indicator_keys.indicator,
        definitions.indicator_label,
        coalesce(definitions.basis, 'records') as basis,
        {%- for side in ['previous', 'current'] %}
        {%- for field in ['value', 'points'] %}
        coalesce(cast({{ json_at(
            'indicator_keys.' ~ side ~ '_points',
            "'$.' || indicator_keys.indicator || '." ~ field ~ "'"
        ) }} as double), 0) as {{ side }}_{{ field }},
        {%- endfor %}
        coalesce({{ json_text_list(json_at(
            'indicator_keys.' ~ side ~ '_points',
            "'$.' || indicator_keys.indicator || '.event_ids'"
        )) }}, {{ empty_text_list(typed=true) }}) as {{ side }}_event_ids{{ ',' if side == 'previous' }}
        {%- endfor %}
    from indicator_keys
    left join {{ ref('risk_indicators') }} as definitions
        on definitions.indicator = indicator_keys.indicator

),

record_changes as (

    -- records that started or stopped counting between the two periods: a new record, or one
    -- that aged out of its window / whose listing or mark ended
    select entity_id, 'added' as side, {{ unnest_list(list_minus('current_event_ids', 'previous_event_ids')) }} as event_id
    from indicator_changes
    union
    select entity_id, 'dropped', {{ unnest_list(list_minus('previous_event_ids', 'current_event_ids')) }}
    from indicator_changes

),

record_text as (

    select
        record_changes.entity_id,
        {{ ordered_agg('record_changes.event_id', "','", 'record_changes.event_id',
            where="record_changes.side = 'added'") }} as records_added,
        {{ ordered_agg('record_changes.event_id', "','", 'record_changes.event_id',
            where="record_changes.side = 'dropped'") }} as records_dropped,
        {{ ordered_agg(
            "coalesce(events.summary, '记录') || ' ' || coalesce(cast(events.event_date as string), '')",
            "'、'", 'events.event_date desc, record_changes.event_id',
            where="record_changes.side = 'added'"
        ) }} as added_text,
        {{ ordered_agg(
            "coalesce(events.summary, '记录') || ' ' || coalesce(cast(events.event_date as string), '')",
            "'、'", 'events.event_date desc, record_changes.event_id',
            where="record_changes.side = 'dropped'"
        ) }} as dropped_text
    from record_changes
    left join {{ ref('fct_entity_event') }} as events
        on events.event_id = record_changes.event_id
        and events.entity_id = record_changes.entity_id
    group by record_changes.entity_id

),

attribute_text as (

    -- registration attributes whose value moved: ageing (成立年限) or a changed registration
    select
        entity_id,
        {{ ordered_agg(
            "coalesce(indicator_label, indicator) || ' ' || " ~ g_format('round(previous_value, 2)')
            ~ " || '→' || " ~ g_format('round(current_value, 2)'),
            "'；'", 'indicator'
        ) }} as attribute_changes,
        bool_or(indicator = 'entity_age_years') as ageing
    from indicator_changes
    where basis = 'attribute' and current_value <> previous_value
        and current_points <> previous_points
    group by entity_id

),

policy_text as (

    -- the same facts scored differently: the weights changed (policy data)
    select entity_id, {{ ordered_agg('coalesce(indicator_label, indicator)', "'、'", 'indicator') }}
        as repointed
    from indicator_changes
    where current_points <> previous_points and current_value = previous_value
        and {{ sorted_list('current_event_ids') }} = {{ sorted_list('previous_event_ids') }}
    group by entity_id

),

indicator_text as (

    select
        entity_id,
        {{ ordered_agg(
            "coalesce(indicator_label, indicator)
            || ' ' || " ~ g_format('round(previous_value, 2)') ~ " || '→' || "
            ~ g_format('round(current_value, 2)')
            ~ " || '（' || " ~ g_format('round(current_points - previous_points, 1)', sign='+')
            ~ " || '分）'",
            "'；'", 'abs(current_points - previous_points) desc, indicator'
        ) }} as indicator_changes
    from indicator_changes
    where current_points <> previous_points
    group by entity_id

),

override_lists as (

    select
        entity_id,
        coalesce({{ split_list('previous_overrides', "','") }}, {{ empty_text_list() }}) as previous_list,
        coalesce({{ split_list('overrides_fired', "','") }}, {{ empty_text_list() }}) as current_list
    from changed

),

override_labels as (

    select override_code, override_label from {{ ref('risk_overrides') }}

),

override_text as (

    select
        override_lists.entity_id,
        {{ ordered_agg('labels.override_label', "'；'", 'labels.override_code',
            where=list_has('override_lists.current_list', 'labels.override_code')
                ~ ' and not ' ~ list_has('override_lists.previous_list', 'labels.override_code'))
        }} as overrides_started,
        {{ ordered_agg('labels.override_label', "'；'", 'labels.override_code',
            where=list_has('override_lists.previous_list', 'labels.override_code')
                ~ ' and not ' ~ list_has('override_lists.current_list', 'labels.override_code'))
        }} as overrides_ended
    from override_lists
    cross join override_labels as labels
    group by override_lists.entity_id

)

select
    md5(changed.entity_id || '|' || cast({{ as_of_date() }} as string)) as change_id,
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
    record_text.records_added,
    record_text.records_dropped,
    nullif(concat_ws('；',
        case when record_text.added_text is not null then '新增记录：' || record_text.added_text end,
        case when record_text.dropped_text is not null
             then '不再计入（超出统计期、已移出或已恢复）：' || record_text.dropped_text end,
        case when attribute_text.attribute_changes is not null
             then case when attribute_text.ageing then '主体成立年限增长：' else '登记属性变化：' end
                || attribute_text.attribute_changes end,
        case when override_text.overrides_started is not null
             then '触发直接判级：' || override_text.overrides_started end,
        case when override_text.overrides_ended is not null
             then '解除直接判级：' || override_text.overrides_ended end,
        case when policy_text.repointed is not null
             then '评分规则（权重）变化：' || policy_text.repointed end,
        case when changed.score = changed.previous_score
                and record_text.entity_id is null and attribute_text.entity_id is null
                and policy_text.entity_id is null
                and override_text.overrides_started is null and override_text.overrides_ended is null
             then '分级阈值变化：分值' || cast(changed.score as string) || '未变' end
    ), '') as cause,
    changed.reasons
from changed
inner join {{ ref('dim_entity') }} as entity on entity.entity_id = changed.entity_id
left join override_text on override_text.entity_id = changed.entity_id
left join indicator_text on indicator_text.entity_id = changed.entity_id
left join record_text on record_text.entity_id = changed.entity_id
left join attribute_text on attribute_text.entity_id = changed.entity_id
left join policy_text on policy_text.entity_id = changed.entity_id

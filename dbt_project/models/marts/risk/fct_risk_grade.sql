{#- 信用风险分类 (internal, never published): one row per registered entity. Each model that
    grades the entity turns its score into a grade by seed risk_grade_thresholds; with
    var risk_grade_combination = worst the riskier of the base and the industry grade counts
    (base: the base model only). Overrides (seed risk_overrides) then raise the grade to at
    least their min_grade while their indicator holds. score stays the deciding model's score. -#}
with

scores as (

    select * from {{ ref('int_risk__model_scores') }}
    {% if var('risk_grade_combination') == 'base' %}where model_role = 'base'{% endif %}

),

thresholds as (

    select * from {{ ref('risk_grade_thresholds') }}

),

graded as (

    select
        scores.entity_id,
        scores.model_name,
        scores.model_role,
        scores.score,
        max(thresholds.grade_rank) as grade_rank
    from scores
    inner join thresholds on thresholds.min_score <= scores.score
    group by scores.entity_id, scores.model_name, scores.model_role, scores.score

),

deciding as (

    select *
    from graded
    qualify row_number() over (
        partition by entity_id
        order by grade_rank desc, score desc, model_role, model_name
    ) = 1

),

per_role as (

    select
        entity_id,
        max(model_name) filter (where model_role = 'base') as base_model,
        max(score) filter (where model_role = 'base') as base_score,
        max(model_name) filter (where model_role = 'industry') as industry_model,
        max(score) filter (where model_role = 'industry') as industry_score
    from graded
    group by entity_id

),

fired as (

    select
        indicators.entity_id,
        string_agg(overrides.override_code, ',' order by overrides.override_code) as overrides_fired,
        string_agg(overrides.override_label, '；' order by overrides.override_code) as overrides_label,
        max(thresholds.grade_rank) as override_rank
    from {{ ref('int_risk__indicators_long') }} as indicators
    inner join {{ ref('risk_overrides') }} as overrides
        on overrides.indicator = indicators.indicator
        and indicators.value >= overrides.min_value
    inner join thresholds on thresholds.grade = overrides.min_grade
    group by indicators.entity_id

),

windows as (

    select
        window_name,
        '（近' || case when window_months % 12 = 0 then cast(window_months // 12 as varchar) || '年'
                      else cast(window_months as varchar) || '个月' end || '）' as window_label
    from {{ ref('risk_windows') }}

),

deciding_points as (

    select
        points.entity_id,
        points.indicator,
        points.value,
        points.points,
        definitions.indicator_label || coalesce(windows.window_label, '') as indicator_label,
        definitions.unit
    from {{ ref('int_risk__indicator_points') }} as points
    inner join deciding
        on deciding.entity_id = points.entity_id
        and deciding.model_name = points.model_name
    inner join {{ ref('risk_indicators') }} as definitions
        on definitions.indicator = points.indicator
    left join windows on windows.window_name = definitions.window_name

),

top_points as (

    select *
    from deciding_points
    where points > 0
    qualify row_number() over (
        partition by entity_id order by points desc, indicator
    ) <= 3

),

evidence as (

    -- the records behind each top indicator, most recent first
    select
        evidence.entity_id,
        evidence.indicator,
        count(*) as record_count,
        string_agg(evidence.event_id, ',' order by evidence.event_date desc, evidence.event_id)
            as event_ids,
        string_agg(
            coalesce(evidence.reference, evidence.event_type) || ' '
                || coalesce(cast(evidence.event_date as varchar), '日期不详'),
            '、' order by evidence.event_date desc, evidence.event_id
        ) filter (where evidence.recency <= 3) as references
    from (
        select
            *,
            row_number() over (
                partition by entity_id, indicator order by event_date desc, event_id
            ) as recency
        from {{ ref('int_risk__indicator_evidence') }}
    ) as evidence
    inner join top_points
        on top_points.entity_id = evidence.entity_id
        and top_points.indicator = evidence.indicator
    group by evidence.entity_id, evidence.indicator

),

reasons as (

    select
        top_points.entity_id,
        string_agg(
            top_points.indicator_label
            || case when coalesce(top_points.unit, '') = '' then ''
                    else '=' || format('{:g}', round(top_points.value, 2)) || top_points.unit end
            || '（+' || format('{:g}', round(top_points.points, 1)) || '）'
            || case when evidence.references is null then ''
                    else '：' || evidence.references
                        || case when evidence.record_count > 3
                                then '等' || cast(evidence.record_count as varchar) || '条'
                                else '' end
               end,
            '；' order by top_points.points desc, top_points.indicator
        ) as reasons,
        string_agg(evidence.event_ids, ',' order by top_points.points desc, top_points.indicator)
            as reason_event_ids
    from top_points
    left join evidence
        on evidence.entity_id = top_points.entity_id
        and evidence.indicator = top_points.indicator
    group by top_points.entity_id

),

indicator_points as (

    -- every indicator earning points in the deciding model: what the change report compares.
    -- Keys in indicator order (json_group_object has none: the text would differ between runs)
    select
        entity_id,
        to_json(map_from_entries(list(
            struct_pack(k := indicator, v := json_object('value', round(value, 4), 'points', round(points, 1)))
            order by indicator
        ))) as indicator_points
    from deciding_points
    group by entity_id

),

final as (

    select
        deciding.entity_id,
        deciding.model_name,
        per_role.base_model,
        per_role.base_score,
        per_role.industry_model,
        per_role.industry_score,
        deciding.score,
        deciding.grade_rank as score_grade_rank,
        greatest(deciding.grade_rank, coalesce(fired.override_rank, 0)) as grade_rank,
        fired.override_rank,
        fired.overrides_fired,
        fired.overrides_label,
        reasons.reasons,
        reasons.reason_event_ids,
        cast(indicator_points.indicator_points as varchar) as indicator_points
    from deciding
    inner join per_role on per_role.entity_id = deciding.entity_id
    left join fired on fired.entity_id = deciding.entity_id
    left join reasons on reasons.entity_id = deciding.entity_id
    left join indicator_points on indicator_points.entity_id = deciding.entity_id

)

select
    final.entity_id,
    final.model_name,
    final.base_model,
    final.base_score,
    final.industry_model,
    final.industry_score,
    final.score,
    score_grade.grade as score_grade,
    grade.grade,
    grade.grade_label,
    final.overrides_fired,
    final.overrides_label,
    nullif(concat_ws('；',
        case when final.overrides_label is not null
             then '直接判级：' || final.overrides_label || '（不低于' || override_grade.grade || '类）' end,
        final.reasons
    ), '') as reasons,
    final.reason_event_ids,
    final.indicator_points,
    {{ as_of_date() }} as as_of_date,
    '{{ pipeline_run_id() }}' as run_id
from final
inner join thresholds as grade on grade.grade_rank = final.grade_rank
inner join thresholds as score_grade on score_grade.grade_rank = final.score_grade_rank
left join thresholds as override_grade on override_grade.grade_rank = final.override_rank

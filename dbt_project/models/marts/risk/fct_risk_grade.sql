{#- 信用风险分类 (internal, never published): one row per registered entity. Each model that
    grades the entity turns its score into a grade by seed risk_grade_thresholds; with
    var risk_grade_combination = worst the riskier of the base and the industry grade counts
    (base: the base model only). Overrides (seed risk_overrides) then raise the grade to at
    least their min_grade while their indicator holds. score stays the deciding model's score.
    Reasons: an A grade says why it is A (score below the B threshold, no override, the
    protective indicators); each override that fired and the three indicators earning most
    points (not the model's level, an entity-type attribute) name their records (or say
    they are registration attributes); indicator_points and override_evidence (JSON, keys
    sorted) give every indicator's and override's event ids. -#}
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
        {{ ordered_agg('overrides.override_code', "','", 'overrides.override_code') }} as overrides_fired,
        {{ ordered_agg('overrides.override_label', "'；'", 'overrides.override_code') }} as overrides_label,
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
        '（近' || case when window_months % 12 = 0 then cast({{ int_div('window_months', '12') }} as string) || '年'
                      else cast(window_months as string) || '个月' end || '）' as window_label
    from {{ ref('risk_windows') }}

),

deciding_points as (

    select
        points.entity_id,
        points.indicator,
        points.value,
        points.points,
        definitions.indicator_label || coalesce(windows.window_label, '') as indicator_label,
        definitions.unit,
        coalesce(definitions.basis, 'records') as basis
    from {{ ref('int_risk__indicator_points') }} as points
    inner join deciding
        on deciding.entity_id = points.entity_id
        and deciding.model_name = points.model_name
    inner join {{ ref('risk_indicators') }} as definitions
        on definitions.indicator = points.indicator
    left join windows on windows.window_name = definitions.window_name

),

evidence_ranked as (

    select
        *,
        row_number() over (
            partition by entity_id, indicator order by event_date desc nulls last, event_id
        ) as recency
    from {{ ref('int_risk__indicator_evidence') }}

),

evidence as (

    -- the records behind each indicator of each graded entity: every event id (sorted, for
    -- byte-stable output) and the three most recent record_refs for the text
    select
        entity_id,
        indicator,
        count(distinct event_id) as record_count,
        {{ ordered_list('event_id', 'event_id', distinct=true) }} as event_ids,
        {{ ordered_agg(
            "case when recency <= 3 then coalesce(reference, event_type) || ' '
                || coalesce(cast(event_date as string), '日期不详') end",
            "'、'", 'event_date desc nulls last, event_id'
        ) }} as record_refs
    from evidence_ranked
    group by entity_id, indicator

),

cited_points as (

    select
        deciding_points.*,
        case when deciding_points.basis = 'records' then coalesce(evidence.event_ids, {{ empty_text_list() }}) end
            as event_ids,
        evidence.record_refs,
        evidence.record_count
    from deciding_points
    left join evidence
        on evidence.entity_id = deciding_points.entity_id
        and evidence.indicator = deciding_points.indicator

),

top_points as (

    -- the three largest indicators; a model's level (the points of the entity's type, which
    -- every entity of the model has) is in indicator_points but not a reason
    select *
    from cited_points
    where points > 0
        and indicator not in ('individual_business', 'enterprise', 'cooperative')
    qualify row_number() over (
        partition by entity_id order by points desc, indicator
    ) <= 3

),

reasons as (

    select
        entity_id,
        {{ ordered_agg(
            "indicator_label
            || case when coalesce(unit, '') = '' then ''
                    else '=' || " ~ g_format('round(value, 2)') ~ " || unit end
            || '（+' || " ~ g_format('round(points, 1)') ~ " || '）'
            || case when basis = 'attribute' then '［登记属性］'
                    when record_refs is null then ''
                    else '：' || record_refs
                        || case when record_count > 3
                                then '等' || cast(record_count as string) || '条'
                                else '' end
               end",
            "'；'", 'points desc, indicator'
        ) }} as reasons
    from top_points
    group by entity_id

),

protective as (

    -- what keeps a low score low: the indicators earning negative points
    select
        entity_id,
        {{ ordered_agg(
            "indicator_label
            || case when coalesce(unit, '') = '' then ''
                    else '=' || " ~ g_format('round(value, 2)') ~ " || unit end
            || '（' || " ~ g_format('round(points, 1)') ~ " || '）'",
            "'、'", 'points, indicator'
        ) }} as protective
    from cited_points
    where points < 0
    group by entity_id

),

fired_evidence as (

    -- the records behind each override that fired (none for an attribute such as the industry)
    select
        fired_codes.entity_id,
        fired_codes.override_code,
        fired_codes.override_label,
        fired_codes.min_grade,
        coalesce(definitions.basis, 'records') as basis,
        case when coalesce(definitions.basis, 'records') = 'records'
            then coalesce(evidence.event_ids, {{ empty_text_list() }}) end as event_ids,
        evidence.record_refs,
        evidence.record_count
    from (
        select indicators.entity_id, overrides.*
        from {{ ref('int_risk__indicators_long') }} as indicators
        inner join {{ ref('risk_overrides') }} as overrides
            on overrides.indicator = indicators.indicator
            and indicators.value >= overrides.min_value
    ) as fired_codes
    left join {{ ref('risk_indicators') }} as definitions
        on definitions.indicator = fired_codes.indicator
    left join evidence
        on evidence.entity_id = fired_codes.entity_id
        and evidence.indicator = fired_codes.indicator

),

override_reasons as (

    select
        entity_id,
        {{ ordered_agg(
            "override_label || '（不低于' || min_grade || '类）'
            || case when basis = 'attribute' then '［登记属性］'
                    when record_refs is null then ''
                    else '：' || record_refs
                        || case when record_count > 3
                                then '等' || cast(record_count as string) || '条'
                                else '' end
               end",
            "'；'", 'override_code'
        ) }} as override_text,
        {{ json_object_agg(
            'override_code',
            [('basis', 'basis'), ('event_ids', 'event_ids'), ('min_grade', 'min_grade')],
            'override_code'
        ) }} as override_evidence
    from fired_evidence
    group by entity_id

),

indicator_points as (

    -- every indicator earning points in the deciding model, with the records behind it: what
    -- the change report compares. Keys sorted at every level (indicators by name, fields
    -- basis, event_ids, points, value), event ids sorted: byte-stable between runs.
    select
        entity_id,
        {{ json_object_agg(
            'indicator',
            [('basis', 'basis'), ('event_ids', 'event_ids'),
             ('points', 'round(points, 1)'), ('value', 'round(value, 4)')],
            'indicator'
        ) }} as indicator_points,
        {{ merged_sorted_list('event_ids', 'points > 0') }} as point_event_ids
    from cited_points
    group by entity_id

),

cited_event_ids as (

    -- every record cited: behind each indicator earning positive points and each override
    select entity_id, {{ ordered_agg('event_id', "','", 'event_id') }} as reason_event_ids
    from (
        select entity_id, {{ unnest_list('point_event_ids') }} as event_id from indicator_points
        union
        select entity_id, {{ unnest_list('event_ids') }} from fired_evidence
    )
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
        protective.protective,
        override_reasons.override_text,
        cast(override_reasons.override_evidence as string) as override_evidence,
        cited_event_ids.reason_event_ids,
        cast(indicator_points.indicator_points as string) as indicator_points
    from deciding
    inner join per_role on per_role.entity_id = deciding.entity_id
    left join fired on fired.entity_id = deciding.entity_id
    left join reasons on reasons.entity_id = deciding.entity_id
    left join protective on protective.entity_id = deciding.entity_id
    left join override_reasons on override_reasons.entity_id = deciding.entity_id
    left join cited_event_ids on cited_event_ids.entity_id = deciding.entity_id
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
    concat_ws('；',
        case when grade.grade = 'A'
             then '评为A类：分值' || cast(final.score as string) || '低于B类下限'
                || {{ g_format('next_grade.min_score') }} || '，未触发直接判级规则'
                || case when final.reasons is null then '，无加分风险指标' else '' end
                || case when final.protective is not null
                        then '；有利因素：' || final.protective else '' end end,
        case when final.override_text is not null
             then '直接判级：' || final.override_text end,
        final.reasons
    ) as reasons,
    final.reason_event_ids,
    final.indicator_points,
    final.override_evidence,
    {{ as_of_date() }} as as_of_date,
    '{{ pipeline_run_id() }}' as run_id
from final
inner join thresholds as grade on grade.grade_rank = final.grade_rank
inner join thresholds as score_grade on score_grade.grade_rank = final.score_grade_rank
left join thresholds as next_grade on next_grade.grade_rank = final.grade_rank + 1

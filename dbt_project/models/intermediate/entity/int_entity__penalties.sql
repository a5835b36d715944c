{#- Administrative penalties per entity: all time and within the penalties window. -#}
with

penalties as (

    select
        resolved.entity_id,
        penalty.record_id,
        penalty.decision_date,
        coalesce(penalty.fine_amount, 0) + coalesce(penalty.confiscation_amount, 0) as amount
    from {{ ref('stg_raw__penalty') }} as penalty
    inner join {{ ref('int_resolution__records') }} as resolved
        on resolved.record_id = penalty.record_id
    where resolved.entity_id is not null
        and (penalty.decision_date is null or penalty.decision_date <= {{ as_of_date() }})

),

severity as (

    select
        penalty.record_id,
        max(category.severity) as severity,
        bool_or(category.is_severe) as is_severe
    from {{ ref('stg_raw__penalty') }} as penalty
    inner join {{ ref('ref_penalty_categories') }} as category
        on contains(penalty.penalty_category, category.keyword)
    group by penalty.record_id

)

select
    penalties.entity_id,
    count(*) as penalty_count,
    sum(penalties.amount) as penalty_amount_total,
    max(penalties.decision_date) as latest_penalty_date,
    count(*) filter (where penalties.decision_date >= {{ window_start('penalties') }})
        as penalties_in_window,
    coalesce(sum(penalties.amount) filter (
        where penalties.decision_date >= {{ window_start('penalties') }}
    ), 0) as penalty_amount_in_window,
    count(*) filter (
        where penalties.decision_date >= {{ window_start('penalties') }} and severity.is_severe
    ) as severe_penalties_in_window
from penalties
left join severity on severity.record_id = penalties.record_id
group by penalties.entity_id

{#- Spot-check (双随机) results per entity. -#}
select
    resolved.entity_id,
    count(*) as spot_check_count,
    count(*) filter (where spot.problem_found) as spot_check_problem_count,
    count(*) filter (where spot.problem_found
        and spot.check_date >= {{ window_start('spot_checks') }}) as spot_check_problems_in_window,
    count(*) filter (where spot.not_reachable
        and spot.check_date >= {{ window_start('spot_checks') }}) as spot_check_unreachable_in_window,
    max(spot.check_date) as latest_spot_check_date
from {{ ref('stg_raw__spot_check') }} as spot
inner join {{ ref('int_resolution__records') }} as resolved
    on resolved.record_id = spot.record_id
where resolved.entity_id is not null
    and (spot.check_date is null or spot.check_date <= {{ as_of_date() }})
group by resolved.entity_id

{#- Registration changes per entity, with the recent-changes window for legal representative
    and address. -#}
select
    resolved.entity_id,
    count(*) as change_count,
    count(*) filter (where change.change_type = 'legal_rep'
        and change.change_date >= {{ window_start('recent_changes') }}
        and change.change_date <= {{ as_of_date() }}) as legal_rep_changes_in_window,
    count(*) filter (where change.change_type = 'address'
        and change.change_date >= {{ window_start('recent_changes') }}
        and change.change_date <= {{ as_of_date() }}) as address_changes_in_window,
    max(change.change_date) as latest_change_date
from {{ ref('stg_raw__registration_change') }} as change
inner join {{ ref('int_resolution__records') }} as resolved
    on resolved.record_id = change.record_id
where resolved.entity_id is not null
group by resolved.entity_id

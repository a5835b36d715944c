{#- 12315 complaints linked to an entity. -#}
select
    resolved.entity_id,
    count(*) as complaint_count,
    count(*) filter (where complaint.received_date >= {{ window_start('complaints') }})
        as complaints_in_window,
    max(complaint.received_date) as latest_complaint_date
from {{ ref('stg_raw__complaint') }} as complaint
inner join {{ ref('int_resolution__records') }} as resolved
    on resolved.record_id = complaint.record_id
where resolved.entity_id is not null
    and (complaint.received_date is null or complaint.received_date <= {{ as_of_date() }})
group by resolved.entity_id

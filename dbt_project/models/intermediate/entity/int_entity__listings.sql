{#- Abnormal-operations list (enterprises, co-operatives), individual businesses' abnormal-state
    marks, serious-illegal-and-dishonest list and the courts' dishonest
    judgment-debtor list per entity, as of the as_of_date. A listing counts "now" from its list
    date until its removal date; court entries count while present in the latest delivery. -#}
with

resolved as (

    select record_id, entity_id
    from {{ ref('int_resolution__records') }}
    where entity_id is not null

),

abnormal as (

    select
        resolved.entity_id,
        bool_or({{ listed_on_as_of('list_date', 'remove_date') }}) as abnormal_list_now,
        min(list_date) filter (where {{ listed_on_as_of('list_date', 'remove_date') }})
            as abnormal_list_since,
        count(*) filter (where list_date >= {{ window_start('past_listings') }}
            and list_date <= {{ as_of_date() }}) as abnormal_listings_in_window
    from {{ ref('stg_raw__abnormal_list') }} as listing
    inner join resolved on resolved.record_id = listing.record_id
    group by resolved.entity_id

),

abnormal_state as (

    -- an individual business's 经营异常状态 marks: not a listing, but counted the same way
    select
        resolved.entity_id,
        bool_or({{ listed_on_as_of('mark_date', 'restore_date') }}) as abnormal_state_now,
        min(mark_date) filter (where {{ listed_on_as_of('mark_date', 'restore_date') }})
            as abnormal_state_since,
        count(*) filter (where mark_date >= {{ window_start('past_listings') }}
            and mark_date <= {{ as_of_date() }}) as abnormal_state_marks_in_window
    from {{ ref('stg_raw__abnormal_state') }} as mark
    inner join resolved on resolved.record_id = mark.record_id
    group by resolved.entity_id

),

serious as (

    select
        resolved.entity_id,
        bool_or({{ listed_on_as_of('list_date', 'remove_date') }}) as serious_dishonest_now,
        min(list_date) filter (where {{ listed_on_as_of('list_date', 'remove_date') }})
            as serious_dishonest_since,
        count(*) filter (where remove_date is not null and remove_date <= {{ as_of_date() }}
            and remove_date >= {{ window_start('past_listings') }}) as serious_dishonest_past_in_window
    from {{ ref('stg_raw__serious_dishonest') }} as listing
    inner join resolved on resolved.record_id = listing.record_id
    group by resolved.entity_id

),

court as (

    select
        resolved.entity_id,
        bool_or(coalesce(court.publish_date, court.filing_date) <= {{ as_of_date() }})
            as court_debtor_now,
        count(*) as court_case_count,
        min(court.publish_date) as court_debtor_since
    from {{ ref('stg_raw__court_dishonest') }} as court
    inner join resolved on resolved.record_id = court.record_id
    group by resolved.entity_id

),

entities as (

    select entity_id from abnormal
    union
    select entity_id from abnormal_state
    union
    select entity_id from serious
    union
    select entity_id from court

)

select
    entities.entity_id,
    coalesce(abnormal.abnormal_list_now, false) as abnormal_list_now,
    abnormal.abnormal_list_since,
    coalesce(abnormal.abnormal_listings_in_window, 0) as abnormal_listings_in_window,
    coalesce(abnormal_state.abnormal_state_now, false) as abnormal_state_now,
    abnormal_state.abnormal_state_since,
    coalesce(abnormal_state.abnormal_state_marks_in_window, 0) as abnormal_state_marks_in_window,
    coalesce(serious.serious_dishonest_now, false) as serious_dishonest_now,
    serious.serious_dishonest_since,
    coalesce(serious.serious_dishonest_past_in_window, 0) as serious_dishonest_past_in_window,
    coalesce(court.court_debtor_now, false) as court_debtor_now,
    court.court_debtor_since,
    coalesce(court.court_case_count, 0) as court_case_count
from entities
left join abnormal on abnormal.entity_id = entities.entity_id
left join abnormal_state on abnormal_state.entity_id = entities.entity_id
left join serious on serious.entity_id = entities.entity_id
left join court on court.entity_id = entities.entity_id

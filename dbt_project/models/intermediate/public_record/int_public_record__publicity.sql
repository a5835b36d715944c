{#- 公示期限: every public-record fact of a registered entity (penalty, licence, spot-check
    result, abnormal-list and serious-dishonest listing) with the publicity rule that applies to
    it (seed public_record_terms), its publicity_until (the last day it is shown; null: shown
    while the listing or the long-term licence lasts) and its state on the as_of_date:
    published, not_published (a warning only), out_of_term, ended_by_repair (信用修复) or
    not_yet (dated after the as_of_date). The public tables show the published rows. -#}
with

terms as (

    select * from {{ ref('public_record_terms') }}

),

resolved as (

    select record_id, entity_id
    from {{ ref('int_resolution__records') }}
    where entity_id is not null

),

entities as (

    select entity_id, entity_type from {{ ref('int_entity__attributes') }}

),

repairs as (

    {#- A repair decision ends the publicity of the penalty with the same decision number of
        the same entity (the USCC the repair names). -#}
    select uscc, decision_no, min(repair_date) as repair_date
    from {{ ref('stg_raw__credit_repair') }}
    where repair_date <= {{ as_of_date() }} and uscc is not null and decision_no is not null
    group by uscc, decision_no

),

penalty_rules as (

    select
        'penalty' as record_kind,
        penalty.record_id,
        resolved.entity_id as uscc,
        penalty.decision_date as event_date,
        {{ penalty_publicity_rule(
            'penalty.penalty_category', 'penalty.fine_amount', 'penalty.confiscation_amount',
            'fines.max_fine_wan'
        ) }} as base_rule_id,
        repairs.repair_date
    from {{ ref('stg_raw__penalty') }} as penalty
    inner join resolved on resolved.record_id = penalty.record_id
    left join entities on entities.entity_id = resolved.entity_id
    left join {{ ref('public_record_minor_fines') }} as fines
        on fines.entity_type = entities.entity_type
    left join repairs
        on repairs.uscc = resolved.entity_id and repairs.decision_no = penalty.decision_no

),

penalties as (

    {#- A repair counts when it comes before the term would have ended anyway. -#}
    select
        rules.record_kind,
        rules.record_id,
        rules.uscc,
        rules.event_date,
        case when repaired then 'penalty_repaired' else rules.base_rule_id end as rule_id,
        case when repaired then rules.repair_date else rules.event_date end as term_start_date
    from (
        select
            penalty_rules.*,
            coalesce(
                base.is_published
                and penalty_rules.repair_date
                    <= {{ publicity_until('penalty_rules.event_date', 'base.term_months') }},
                false
            ) as repaired
        from penalty_rules
        inner join terms as base on base.rule_id = penalty_rules.base_rule_id
    ) as rules

),

listings as (

    {% for kind in ['abnormal_list', 'serious_dishonest'] %}
    select
        '{{ kind }}' as record_kind,
        listing.record_id,
        resolved.entity_id as uscc,
        listing.list_date as event_date,
        case
            when {{ listed_on_as_of('listing.list_date', 'listing.remove_date') }}
                then 'listing_current'
            when contains(coalesce(listing.remove_reason, ''), '信用修复') then 'listing_repaired'
            else 'listing_removed'
        end as rule_id,
        listing.remove_date as term_start_date
    from {{ ref('stg_raw__' ~ kind) }} as listing
    inner join resolved on resolved.record_id = listing.record_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

licences as (

    select
        'licence' as record_kind,
        licence.record_id,
        resolved.entity_id as uscc,
        licence.decision_date as event_date,
        'licence' as rule_id,
        {#- 有效期至 2099-12-31 (or later) is how departments write 长期: no end. -#}
        case when licence.valid_to < date '2099-12-31' then licence.valid_to end
            as term_start_date
    from {{ ref('stg_raw__licence') }} as licence
    inner join resolved on resolved.record_id = licence.record_id

),

spot_checks as (

    select
        'spot_check' as record_kind,
        spot.record_id,
        resolved.entity_id as uscc,
        spot.check_date as event_date,
        'spot_check' as rule_id,
        spot.check_date as term_start_date
    from {{ ref('stg_raw__spot_check') }} as spot
    inner join resolved on resolved.record_id = spot.record_id

),

facts as (

    select * from penalties
    union all select * from listings
    union all select * from licences
    union all select * from spot_checks

),

termed as (

    select
        facts.*,
        terms.is_published,
        terms.term_months,
        case when terms.is_published then
            {{ publicity_until('facts.term_start_date', 'terms.term_months') }}
        end as publicity_until
    from facts
    inner join terms on terms.rule_id = facts.rule_id

)

select
    *,
    case
        when not is_published then 'not_published'
        when event_date > {{ as_of_date() }} then 'not_yet'
        when publicity_until < {{ as_of_date() }} and rule_id in ('penalty_repaired', 'listing_repaired')
            then 'ended_by_repair'
        when publicity_until < {{ as_of_date() }} then 'out_of_term'
        else 'published'
    end as publicity_state
from termed

{#- Grade history: at most one current period per entity, and periods never overlap. -#}
{% test one_current_period_per_entity(model) %}
with current_counts as (
    select entity_id from {{ model }} where is_current group by entity_id having count(*) > 1
),
overlapping as (
    select a.entity_id
    from {{ model }} as a
    inner join {{ model }} as b
        on a.entity_id = b.entity_id and a.history_id <> b.history_id
        and a.valid_from < coalesce(b.valid_to, date '9999-12-31')
        and b.valid_from < coalesce(a.valid_to, date '9999-12-31')
)
select entity_id from current_counts
union all
select entity_id from overlapping
{% endtest %}

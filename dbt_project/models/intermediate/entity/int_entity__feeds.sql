{#- Which department feeds mention each entity (应归尽归: where its facts came from). -#}
with

mentions as (

    select distinct entity_id, feed
    from {{ ref('int_resolution__records') }}
    where entity_id is not null

)

select
    entity_id,
    count(*) as feed_count,
    {{ ordered_agg('feed', "','", 'feed') }} as feeds
from mentions
group by entity_id

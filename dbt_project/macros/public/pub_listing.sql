{#- Public projection shared by pub_abnormal_list and pub_serious_dishonest: listings within
    their publicity term (int_public_record__publicity: shown while listed, and with their
    removal for the term after it unless removed after credit repair). -#}
{% macro pub_listing(staging_model, record_kind) -%}
select
    md5(listing.record_id) as listing_id,
    publicity.uscc,
    {{ mask_person_name('listing.party_name', 'entity.legal_rep', 'entity.entity_type') }}
        as entity_name,
    listing.list_reason,
    listing.list_date,
    listing.list_org,
    listing.remove_reason,
    listing.remove_date,
    listing.remove_org,
    {{ listed_on_as_of('listing.list_date', 'listing.remove_date') }} as is_listed,
    publicity.publicity_until
from {{ ref(staging_model) }} as listing
inner join {{ ref('int_public_record__publicity') }} as publicity
    on publicity.record_kind = '{{ record_kind }}' and publicity.record_id = listing.record_id
left join {{ ref('dim_entity') }} as entity
    on entity.entity_id = publicity.uscc
where publicity.publicity_state = 'published'
{%- endmacro %}

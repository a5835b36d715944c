{#- Public projection shared by pub_abnormal_list and pub_serious_dishonest. -#}
{% macro pub_listing(staging_model) -%}
select
    md5(listing.record_id) as listing_id,
    resolved.entity_id as uscc,
    listing.party_name as entity_name,
    listing.list_reason,
    listing.list_date,
    listing.list_org,
    listing.remove_reason,
    listing.remove_date,
    listing.remove_org,
    {{ listed_on_as_of('listing.list_date', 'listing.remove_date') }} as is_listed
from {{ ref(staging_model) }} as listing
inner join {{ ref('int_resolution__records') }} as resolved
    on resolved.record_id = listing.record_id
where resolved.entity_id is not null
    and listing.list_date <= {{ as_of_date() }}
{%- endmacro %}

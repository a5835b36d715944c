{#- Hand-off to the probabilistic matcher: records that identifiers could not link, that could
    belong to a registered entity (not natural persons, not registration rows themselves),
    with what a matcher can compare (name, address, division, legal representative, the codes
    as delivered).
    Built from identifier matching only, so the matcher's own output never feeds back here. -#}
select
    record_id,
    record_kind,
    feed,
    party_name,
    name_key,
    address,
    division_code,
    legal_rep,
    uscc,
    reg_no,
    org_code,
    unresolved_reason,
    candidate_entity_id
from {{ ref('int_resolution__identifier_matches') }}
where entity_id is null
    and record_kind <> 'registration'
    and unresolved_reason <> 'natural_person'
    and party_name is not null

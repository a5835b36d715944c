{#- Final resolution of every staged record: identifier matches, then probabilistic matches
    at or above var probabilistic_match_threshold for the records identifiers left open. A
    probabilistic match below the threshold (the matcher's grey zone) links nothing: it is
    kept as the review candidate of the unresolved record. -#}
with

identifier_matches as (

    select * from {{ ref('int_resolution__identifier_matches') }}

),

registry as (

    select entity_id from {{ ref('int_resolution__registry') }}

),

probabilistic as (

    select
        p.*,
        p.match_probability >= {{ var('probabilistic_match_threshold') }} as is_accepted
    from {{ ref('stg_resolution__probabilistic_matches') }} as p
    inner join registry on registry.entity_id = p.entity_id

),

accepted as (

    select * from probabilistic where is_accepted

),

review as (

    select * from probabilistic where not is_accepted

)

select
    m.record_id,
    m.record_kind,
    m.feed,
    m.source_file,
    m.source_row,
    m.batch_id,
    m.load_date,
    m.party_name,
    m.name_key,
    m.uscc,
    m.uscc_problem,
    m.reg_no,
    m.org_code,
    m.org_code_problem,
    m.id_code_type,
    m.id_code_masked,
    m.address,
    m.division_code,
    coalesce(m.entity_id, a.entity_id) as entity_id,
    case
        when m.entity_id is not null then m.resolution_method
        when a.entity_id is not null then 'probabilistic'
    end as resolution_method,
    a.match_probability,
    case when m.entity_id is null and a.entity_id is null then m.unresolved_reason end
        as unresolved_reason,
    m.candidate_entity_id,
    r.entity_id as review_candidate_entity_id,
    r.match_probability as review_match_probability,
    coalesce(a.model_version, r.model_version) as match_model_version
from identifier_matches as m
left join accepted as a
    on m.entity_id is null
    and a.record_id = m.record_id
left join review as r
    on m.entity_id is null
    and r.record_id = m.record_id

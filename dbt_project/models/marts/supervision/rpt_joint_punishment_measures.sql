{#- 联合惩戒措施清单: for every entity currently on the serious-illegal-and-dishonest list, the
    joint-punishment measures other departments are to apply (reference.supervision_joint_
    punishment_measures), with the department, the basis and the listing date. -#}
select
    listing.entity_id,
    entity.uscc,
    entity.entity_name,
    entity.division_code,
    listing.serious_dishonest_since as listed_since,
    measure.measure,
    measure.department,
    measure.description as measure_description,
    measure.basis as measure_basis
from {{ ref('int_entity__listings') }} as listing
inner join {{ ref('dim_entity') }} as entity on entity.entity_id = listing.entity_id
cross join {{ ref('supervision_joint_punishment_measures') }} as measure
where listing.serious_dishonest_now

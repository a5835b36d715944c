{#- 公示·市场主体: public registration facts of each registered entity. No legal
    representative's ID number, no phone, no grade or score; an individual business registered
    under its operator's name shows the name masked (mask_person_name). -#}
select
    entity.uscc,
    {{ mask_person_name('entity.entity_name', 'entity.legal_rep', 'entity.entity_type') }}
        as entity_name,
    entity.entity_type_name,
    entity.division_code,
    entity.division_name,
    entity.industry_code,
    entity.industry_section_name,
    entity.address,
    entity.registered_capital,
    entity.established_date,
    entity.status
from {{ ref('dim_entity') }} as entity

{#- What finance partners (信易贷 banks) read: per entity the code, name, suggested credit-loan
    ceiling and its basis. No grade reasons, no events, no personal data: a projection of
    rpt_credit_loan_ceiling, the regulators' table. -#}
select
    entity_id,
    entity_name,
    entity_type_name,
    division_name,
    suggested_ceiling_wan,
    is_eligible,
    basis,
    as_of_date
from {{ ref('rpt_credit_loan_ceiling') }}

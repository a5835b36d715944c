{#- Every record is either resolved (resolved_column set) or carries a reason, never both,
    never neither: nothing is silently dropped. -#}
{% test exactly_one_outcome(model, resolved_column, reason_column) %}
select *
from {{ model }}
where ({{ resolved_column }} is null) = ({{ reason_column }} is null)
{% endtest %}

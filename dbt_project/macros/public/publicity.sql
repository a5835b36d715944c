{#- Last day a fact is shown: ``months`` after ``start``, less one day (a three-month term that
    starts on 2026-03-10 ends on 2026-06-09). Null when either is null: shown while it lasts. -#}
{% macro publicity_until(start, months) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', months, start)) }} as date)
{%- endmacro %}

{#- Publicity rule of a penalty (seed public_record_terms) before any credit repair:
    only a warning -> penalty_warning_only (not published); only 通报批评 and/or a fine at most
    ``max_fine_wan`` (seed public_record_minor_fines), nothing confiscated -> penalty_minor;
    anything else (confiscation, licence action, closure, a larger fine, an unknown category)
    -> penalty_other. A category is "light" when it names nothing but 警告, 通报批评 and 罚款. -#}
{% macro penalty_publicity_rule(category, fine, confiscation, max_fine_wan) -%}
    case
        when {{ light_penalty_category(category) }}
            and contains({{ category }}, '警告')
            and not contains({{ category }}, '通报批评')
            and coalesce({{ fine }}, 0) = 0
            and coalesce({{ confiscation }}, 0) = 0
            then 'penalty_warning_only'
        when {{ light_penalty_category(category) }}
            and coalesce({{ confiscation }}, 0) = 0
            and (
                (coalesce({{ fine }}, 0) = 0 and contains({{ category }}, '通报批评'))
                or (coalesce({{ fine }}, 0) > 0 and {{ fine }} <= {{ max_fine_wan }})
            )
            then 'penalty_minor'
        else 'penalty_other'
    end
{%- endmacro %}

{% macro light_penalty_category(category) -%}
    ({{ category }} is not null
        and {{ replace_all(category, '警告|通报批评|罚款|[、，,；;/ 和及并处]', '') }} = '')
{%- endmacro %}

{#- A natural person's name in a public name is masked to the surname and one * per other
    character: an individual business registered under its operator's name (德城区张三丰（个体
    工商户）) is shown as 德城区张**（个体工商户）. ``person`` is the operator (registered legal
    representative); only individual businesses are masked. -#}
{% macro mask_person_name(text, person, entity_type) -%}
    case
        when {{ entity_type }} = 'individual'
            and length({{ person }}) >= 2
            and contains({{ text }}, {{ person }})
            then replace({{ text }}, {{ person }},
                left({{ person }}, 1) || repeat('*', length({{ person }}) - 1))
        else {{ text }}
    end
{%- endmacro %}

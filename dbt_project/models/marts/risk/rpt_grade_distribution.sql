{#- 分类结果分布 (internal): entities per grade, overall and by division, entity type and
    industry section, with the share of each grade within its group. -#}
with

graded as (

    select
        entity.division_code,
        coalesce(entity.division_name, entity.division_code, '未知') as division_name,
        entity.entity_type,
        entity.entity_type_name,
        coalesce(entity.industry_section, '?') as industry_section,
        coalesce(entity.industry_section_name, '未知') as industry_section_name,
        grade.grade
    from {{ ref('fct_risk_grade') }} as grade
    inner join {{ ref('dim_entity') }} as entity on entity.entity_id = grade.entity_id

),

counted as (

    select
        case
            when grouping(division_code) = 0 then 'division'
            when grouping(entity_type) = 0 then 'entity_type'
            when grouping(industry_section) = 0 then 'industry_section'
            else 'total'
        end as breakdown,
        coalesce(division_code, entity_type, industry_section, 'all') as breakdown_value,
        case
            when grouping(division_code) = 0 then any_value(division_name)
            when grouping(entity_type) = 0 then any_value(entity_type_name)
            when grouping(industry_section) = 0 then any_value(industry_section_name)
            else '全部'
        end as breakdown_label,
        grade,
        count(*) as entity_count
    from graded
    group by grouping sets (
        (grade), (division_code, grade), (entity_type, grade), (industry_section, grade)
    )

)

select
    md5(breakdown || '|' || breakdown_value || '|' || grade) as distribution_id,
    breakdown,
    breakdown_value,
    breakdown_label,
    grade,
    entity_count,
    round(entity_count / sum(entity_count) over (partition by breakdown, breakdown_value), 4)
        as entity_share,
    {{ as_of_date() }} as as_of_date
from counted

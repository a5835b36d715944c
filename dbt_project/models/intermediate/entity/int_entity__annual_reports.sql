{#- Annual reports per entity. A report for year Y is due by 30 June of Y+1; the years checked
    are the due years inside the annual_reports window (in months, rounded to whole years) from
    the year of establishment, while the entity still operated on the due date. Missed = due,
    covered by the delivery, and not filed. The years missed are listed (missed_years) for the
    reasons that cite them. -#}
with

registry as (

    select entity_id, established_date, status, status_date
    from {{ ref('int_resolution__registry') }}

),

filed as (

    select distinct resolved.entity_id, report.report_year
    from {{ ref('stg_raw__annual_report') }} as report
    inner join {{ ref('int_resolution__records') }} as resolved
        on resolved.record_id = report.record_id
    where resolved.entity_id is not null and report.is_filed

),

last_due as (

    select
        case
            when {{ as_of_date() }} > make_date(year({{ as_of_date() }}), 6, 30)
                then year({{ as_of_date() }}) - 1
            else year({{ as_of_date() }}) - 2
        end as last_due_year,
        {{ int_div("(select window_months from " ~ ref('risk_windows')
            ~ " where window_name = 'annual_reports')", '12') }} as window_years

),

due_years as (

    select
        registry.entity_id,
        {{ unnest_range(
            'greatest(last_due.last_due_year - last_due.window_years + 1,
                     coalesce(year(registry.established_date), 0))',
            'last_due.last_due_year + 1'
        ) }} as report_year
    from registry
    cross join last_due

),

due_while_operating as (

    -- a report falls due only for an entity still operating on the due date (30 June)
    select due_years.*
    from due_years
    inner join registry on registry.entity_id = due_years.entity_id
    where not (
        coalesce({{ similar_to('registry.status', '.*(注销|吊销|撤销|迁出).*') }}, false)
        and registry.status_date <= make_date(due_years.report_year + 1, 6, 30)
    )

),

covered_years as (

    -- a year counts only once the annual-report delivery covers it at all
    select distinct report_year from {{ ref('stg_raw__annual_report') }}

),

missed as (

    select
        due_years.entity_id,
        count(*) as years_missed,
        {{ ordered_list('due_years.report_year', 'due_years.report_year') }} as missed_years
    from due_while_operating as due_years
    inner join covered_years on covered_years.report_year = due_years.report_year
    left join filed
        on filed.entity_id = due_years.entity_id and filed.report_year = due_years.report_year
    where filed.entity_id is null
    group by due_years.entity_id

),

last_filed as (

    select entity_id, max(report_year) as last_filed_year
    from filed
    group by entity_id

)

select
    registry.entity_id,
    last_filed.last_filed_year,
    coalesce(missed.years_missed, 0) as annual_report_years_missed,
    missed.missed_years as annual_report_missed_years
from registry
left join last_filed on last_filed.entity_id = registry.entity_id
left join missed on missed.entity_id = registry.entity_id

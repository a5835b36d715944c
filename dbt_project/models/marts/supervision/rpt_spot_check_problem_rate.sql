{#- 发现问题率 by grade: among operating checked entities (results no_problem or problem), the
    share with a problem found, per quarter of the check and over all quarters (period 'all'),
    with a 95 % Wilson interval. The grade is the grade at the draw for checks of a plan, the
    current grade otherwise (checks before plans were kept): grade_basis. Internal. -#}
with

operating as (

    select check_quarter, grade, grade_basis, result_class = 'problem' as problem
    from {{ ref('int_supervision__check_results') }}
    where result_class in ('problem', 'no_problem') and grade is not null

),

periods as (

    select check_quarter as period, grade, grade_basis, problem from operating
    union all
    select 'all' as period, grade, grade_basis, problem from operating

),

counts as (

    select
        period,
        grade,
        {{ ordered_agg('grade_basis', "','", 'grade_basis', distinct=true) }} as grade_basis,
        count(*) as checked,
        count(*) filter (where problem) as problems_found
    from periods
    group by period, grade

)

select
    period,
    grade,
    grade_basis,
    checked,
    problems_found,
    round(problems_found / checked, 4) as problem_rate,
    round(greatest(0.0, {{ wilson_bound('problems_found', 'checked', '-') }}), 4) as ci_low,
    round(least(1.0, {{ wilson_bound('problems_found', 'checked', '+') }}), 4) as ci_high
from counts

{#- 抽查计划汇总: per plan and stratum, the population at the draw, the ratio and how many were
    drawn (ceil(ratio × population)); for regulators checking a plan against the rules. -#}
select
    plan_id,
    stratum,
    any_value(stratum_description) as stratum_description,
    any_value(ratio) as ratio,
    any_value(stratum_population) as population,
    count(*) as drawn,
    round(count(*) / any_value(stratum_population), 4) as drawn_share,
    any_value(drawn_on) as drawn_on,
    any_value(draw_seed) as draw_seed
from {{ ref('fct_spot_check_plan') }}
group by plan_id, stratum

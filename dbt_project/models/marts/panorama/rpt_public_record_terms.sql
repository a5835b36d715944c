{#- 公示期限统计: how many public-record facts of registered entities each publicity rule covers,
    by state on the as_of_date (published, not_published, out_of_term, ended_by_repair,
    not_yet). Counts only: the facts themselves are in the public tables. -#}
select
    publicity.record_kind,
    publicity.rule_id,
    publicity.publicity_state,
    count(*) as records
from {{ ref('int_public_record__publicity') }} as publicity
group by publicity.record_kind, publicity.rule_id, publicity.publicity_state

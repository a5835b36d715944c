{{
    config(
        materialized='incremental',
        unique_key=['plan_id', 'stratum'],
        incremental_strategy=incremental_strategy_keyed(),
        meta={'kept': true},
        on_schema_change='fail'
    )
}}
{#- 抽查承诺: per plan and stratum, the rule and ratio in force at the draw, the population
    count, sha256 of the stratum's population list (entity ids, sorted, joined by ',') and of
    the seed, and the plan's commitment: sha256 of the seed hash and every stratum's
    "stratum:count:hash", in stratum order. Aggregates and hashes only (no entity, no grade):
    it can be published before the checks, and anyone holding the snapshot can recompute it.
    Written with the plan's snapshot and kept. -#}
with

snapshot as (

    select * from {{ ref('fct_spot_check_population') }}
    {% if is_incremental() %}
        where plan_id not in (select distinct plan_id from {{ this }})
    {% endif %}

),

strata as (

    select
        snapshot.plan_id,
        snapshot.stratum,
        count(*) as population,
        count(*) filter (where snapshot.drawn) as drawn,
        {{ sha256_hex(ordered_agg('snapshot.entity_id', "','", 'snapshot.entity_id')) }}
            as population_sha256,
        {{ sha256_hex('any_value(snapshot.draw_seed)') }} as seed_sha256,
        any_value(snapshot.drawn_on) as committed_on
    from snapshot
    group by snapshot.plan_id, snapshot.stratum

),

plans as (

    select
        plan_id,
        {{ sha256_hex(
            "any_value(seed_sha256) || '|'
            || " ~ ordered_agg("stratum || ':' || population || ':' || population_sha256", "'|'",
                'stratum')
        ) }} as plan_commitment
    from strata
    group by plan_id

)

select
    strata.plan_id,
    strata.stratum,
    ratios.stratum_type,
    ratios.grade,
    ratios.min_years_missed,
    ratios.min_score,
    cast(ratios.ratio as decimal(9, 4)) as ratio,
    ratios.priority,
    ratios.description as stratum_description,
    strata.population,
    strata.drawn,
    strata.population_sha256,
    strata.seed_sha256,
    plans.plan_commitment,
    strata.committed_on
from strata
inner join plans on plans.plan_id = strata.plan_id
inner join {{ ref('supervision_spot_check_ratios') }} as ratios on ratios.stratum = strata.stratum

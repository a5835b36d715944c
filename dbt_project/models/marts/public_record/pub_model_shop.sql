{#- 公示·放心消费示范店: current awards of registered shops (as delivered by the consumer
    protection office's list, model_shop feed), linked to the entity by USCC. An award past its
    valid_until is not shown. -#}
select
    md5(award.record_id) as award_id,
    award.uscc,
    award.title,
    award.award_date,
    award.valid_until,
    award.award_org
from {{ ref('stg_raw__model_shop') }} as award
inner join {{ ref('pub_entity') }} as entity
    on entity.uscc = award.uscc
where award.award_date <= {{ as_of_date() }}
    and (award.valid_until is null or award.valid_until >= {{ as_of_date() }})

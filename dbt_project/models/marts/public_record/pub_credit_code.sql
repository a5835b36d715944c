{#- 信用码: one opaque, stable code per public entity, the key of the consumer page /c/<code>
    and of its QR code. The code is a keyed hash, SHA-256 of the bureau's key
    (PANORAMA_CREDIT_CODE_KEY), the USCC and the code's generation, cut to 20 hex digits
    (80 bits): not the USCC (an individual business's USCC can carry a person's name in the
    register), and not computable from the USCC without the key. A regulator re-issues a code
    (a printed code misused or copied onto another shop) by adding a row with the next
    generation to the seed credit_code_reissues: from the next publication the old code no
    longer resolves and the new one does. -#}
with

reissues as (

    select uscc, max(generation) as generation
    from {{ ref('credit_code_reissues') }}
    group by uscc

),

coded as (

    select
        entity.uscc,
        coalesce(reissues.generation, 0) as code_generation
    from {{ ref('pub_entity') }} as entity
    left join reissues
        on reissues.uscc = entity.uscc

)

select
    uscc,
    substr({{ sha256_hex("concat_ws(
        '|',
        '" ~ env_var("PANORAMA_CREDIT_CODE_KEY", "credit-panorama-development-code-key") ~ "',
        uscc,
        cast(code_generation as string)
    )") }}, 1, 20) as credit_code,
    cast(code_generation as integer) as code_generation
from coded

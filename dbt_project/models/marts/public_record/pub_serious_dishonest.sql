{#- 公示·严重违法失信名单: listings of registered entities, with removal where it happened. -#}
{{ pub_listing('stg_raw__serious_dishonest', 'serious_dishonest') }}

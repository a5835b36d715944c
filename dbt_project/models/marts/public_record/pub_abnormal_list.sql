{#- 公示·经营异常名录: listings of registered entities, with removal where it happened. -#}
{{ pub_listing('stg_raw__abnormal_list', 'abnormal_list') }}

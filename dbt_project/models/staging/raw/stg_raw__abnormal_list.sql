{{ stg_listing('abnormal_list') }}

{{ stg_listing('serious_dishonest') }}

diesel::table! {
    locations (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        lat -> Double,
        lon -> Double,
        timezone -> Text,
        capabilities -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        region -> Nullable<Text>,
        curbside_bays -> Integer,
        pick_capacity -> Nullable<Integer>,
    }
}

diesel::table! {
    skus (sku) {
        sku -> Text,
        title -> Text,
        tags -> Text,
        reorder_point -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        price_minor -> Nullable<BigInt>,
        price_currency -> Nullable<Text>,
    }
}

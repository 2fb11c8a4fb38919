diesel::table! {
    nodes (location_id) {
        location_id -> Text,
        lat -> Double,
        lon -> Double,
        capabilities -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    node_channel_stock (location_id, sku, channel) {
        location_id -> Text,
        sku -> Text,
        channel -> Text,
        available -> BigInt,
    }
}

diesel::table! {
    node_stock (location_id, sku) {
        location_id -> Text,
        sku -> Text,
        atp -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    fulfillments (id) {
        id -> Text,
        order_id -> Text,
        location_id -> Text,
        reservation_id -> Text,
        status -> Text,
        explanation -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

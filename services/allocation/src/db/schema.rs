diesel::table! {
    known_locations (id) {
        id -> Text,
        lat -> Double,
        lon -> Double,
        updated_at -> Timestamp,
        timezone -> Text,
        region -> Nullable<Text>,
    }
}

diesel::table! {
    location_weather (location_id) {
        location_id -> Text,
        condition -> Text,
        observed_at -> Timestamp,
        valid_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    policies (id) {
        id -> Text,
        spec -> Text,
        version -> BigInt,
        source -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    policy_versions (id, version) {
        id -> Text,
        version -> BigInt,
        spec -> Nullable<Text>,
        source -> Text,
        changed_by -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    known_skus (sku) {
        sku -> Text,
        tags -> Text,
        reorder_point -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    movements (event_id) {
        event_id -> Text,
        location_id -> Text,
        sku -> Text,
        kind -> Text,
        quantity -> BigInt,
        delta -> BigInt,
        recorded_at -> Timestamp,
        written_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    stock_checkpoints (sku, cut, location_id) {
        sku -> Text,
        cut -> BigInt,
        location_id -> Text,
        on_hand -> BigInt,
    }
}

diesel::table! {
    reservations (reservation_id) {
        reservation_id -> Text,
        order_id -> Nullable<Text>,
        channel -> Text,
        location_id -> Text,
        status -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        parent_id -> Nullable<Text>,
    }
}

diesel::table! {
    reservation_lines (reservation_id, sku) {
        reservation_id -> Text,
        sku -> Text,
        quantity -> BigInt,
        held -> Bool,
        location_id -> Text,
    }
}

diesel::joinable!(reservation_lines -> reservations (reservation_id));
diesel::allow_tables_to_appear_in_same_query!(reservations, reservation_lines);

diesel::table! {
    availability_marks (id) {
        id -> Text,
        sku -> Text,
    }
}

diesel::table! {
    hold_generation (id) {
        id -> Integer,
        generation -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        status -> Text,
        channel -> Text,
        partner_id -> Nullable<Text>,
        partner_order_id -> Nullable<Text>,
        request -> Text,
        currency -> Text,
        total_minor -> BigInt,
        location_id -> Nullable<Text>,
        reservation_id -> Nullable<Text>,
        fulfillment_id -> Nullable<Text>,
        payment_intent_id -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        reroutes -> Integer,
        promise_by -> Nullable<Timestamp>,
        dispatched_at -> Nullable<Timestamp>,
        traceparent -> Nullable<Text>,
        intake_event_id -> Nullable<Text>,
        placed_by -> Text,
        captured_minor -> BigInt,
        refunded_minor -> BigInt,
        voided_minor -> BigInt,
        returned -> Text,
        exchange_for -> Nullable<Text>,
    }
}

diesel::table! {
    known_skus (sku) {
        sku -> Text,
        price_minor -> Nullable<BigInt>,
        price_currency -> Nullable<Text>,
    }
}

diesel::table! {
    known_locations (id) {
        id -> Text,
        capabilities -> Text,
    }
}

diesel::table! {
    idempotency_keys (principal, idempotency_key) {
        principal -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        order_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    order_exclusions (order_id, location_id) {
        order_id -> Text,
        location_id -> Text,
        attempt -> Integer,
    }
}

diesel::table! {
    order_parts (fulfillment_id) {
        fulfillment_id -> Text,
        order_id -> Text,
        reservation_id -> Text,
        location_id -> Text,
        state -> Text,
        position -> Integer,
    }
}

diesel::table! {
    order_views (order_id) {
        order_id -> Text,
        status -> Text,
        lines -> Text,
        currency -> Text,
        location_id -> Nullable<Text>,
        partner_id -> Nullable<Text>,
        accepted_at -> Timestamp,
        updated_at -> Timestamp,
        channel -> Text,
        total_minor -> BigInt,
        placed_by -> Text,
        policy -> Nullable<Text>,
        return_code_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    return_code_failures (id) {
        id -> Text,
        order_id -> Text,
        client -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    sku_tags (sku) {
        sku -> Text,
        tags -> Text,
    }
}

diesel::table! {
    order_deliveries (order_id, fulfillment_id, sku) {
        order_id -> Text,
        fulfillment_id -> Text,
        sku -> Text,
        quantity -> Integer,
        location_id -> Text,
        delivered_at -> Timestamp,
    }
}

diesel::table! {
    returns (id) {
        id -> Text,
        request_id -> Text,
        order_id -> Text,
        status -> Text,
        method -> Text,
        refund_to -> Text,
        declined_rule -> Nullable<Text>,
        declined_reason -> Nullable<Text>,
        requested_by -> Text,
        refund_minor -> BigInt,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        manager_rule -> Nullable<Text>,
        manager_reason -> Nullable<Text>,
        store_credit_reference -> Nullable<Text>,
        store_credit_last4 -> Nullable<Text>,
        exchange -> Nullable<Text>,
        exchange_order_id -> Nullable<Text>,
    }
}

diesel::table! {
    return_lines (return_id, sku) {
        return_id -> Text,
        sku -> Text,
        quantity -> Integer,
        reason -> Text,
        received -> Integer,
    }
}

diesel::table! {
    return_units (return_id, unit) {
        return_id -> Text,
        unit -> Integer,
        sku -> Text,
        grade -> Text,
        disposition -> Text,
        location_id -> Text,
        refund_minor -> BigInt,
        refund_override -> Bool,
    }
}

diesel::allow_tables_to_appear_in_same_query!(returns, return_lines);

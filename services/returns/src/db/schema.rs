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
    }
}

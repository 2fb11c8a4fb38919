diesel::table! {
    nodes (location_id) {
        location_id -> Text,
        lat -> Double,
        lon -> Double,
        capabilities -> Text,
        updated_at -> Timestamp,
        kind -> Text,
        curbside_bays -> Integer,
        pick_capacity -> Nullable<Integer>,
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
        lines -> Text,
        method -> Text,
        promise_by -> Nullable<Timestamp>,
        units -> Integer,
    }
}

diesel::table! {
    routed_orders (order_id) {
        order_id -> Text,
        request -> Text,
        decided -> Text,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    store_tasks (id) {
        id -> Text,
        fulfillment_id -> Text,
        order_id -> Text,
        location_id -> Text,
        method -> Text,
        state -> Text,
        version -> Integer,
        accept_by -> Timestamp,
        parcels -> Text,
        carrier -> Nullable<Text>,
        tracking -> Nullable<Text>,
        bay -> Nullable<Text>,
        vehicle -> Nullable<Text>,
        runner -> Nullable<Text>,
        pickup_code_hash -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        ready_by -> Timestamp,
        ready_at -> Nullable<Timestamp>,
        arrived_at -> Nullable<Timestamp>,
        reminded -> Bool,
        ready_late -> Bool,
        handover_late -> Bool,
        deadline -> Timestamp,
    }
}

diesel::table! {
    store_task_lines (task_id, sku) {
        task_id -> Text,
        sku -> Text,
        line_no -> Integer,
        ordered -> Integer,
        open -> Integer,
        picked -> Integer,
        short -> Integer,
        packed -> Integer,
        staged -> Integer,
        handed_over -> Integer,
        shipped -> Integer,
        released -> Integer,
    }
}

diesel::table! {
    store_task_timers (task_id, kind) {
        task_id -> Text,
        kind -> Text,
        due_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    pickup_code_failures (id) {
        id -> Text,
        task_id -> Text,
        client -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    node_fenced_stock (sku, channel, tier, segment, location_id) {
        location_id -> Text,
        sku -> Text,
        channel -> Text,
        tier -> Text,
        segment -> Text,
        available -> BigInt,
    }
}

//! Tables every service shares (see `migrations/`).

diesel::table! {
    omni_outbox (id) {
        id -> Text,
        topic -> Text,
        message_key -> Text,
        headers -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    omni_inbox (consumer, event_id) {
        consumer -> Text,
        event_id -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    omni_audit_log (id) {
        id -> Text,
        principal -> Text,
        action -> Text,
        subject -> Text,
        detail -> Text,
        recorded_at -> Timestamp,
        request_id -> Nullable<Text>,
        trace_id -> Nullable<Text>,
        seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

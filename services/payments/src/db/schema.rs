diesel::table! {
    data_keys (version) {
        version -> Integer,
        wrapped_key -> Text,
        created_at -> Timestamp,
        retired -> Bool,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    vault_cards (token) {
        token -> Text,
        key_version -> Integer,
        nonce -> Text,
        ciphertext -> Text,
        brand -> Text,
        first6 -> Text,
        last4 -> Text,
        exp_month -> Integer,
        exp_year -> Integer,
        created_at -> Timestamp,
        reference -> Nullable<Text>,
        owner -> Text,
        customer_id -> Nullable<Text>,
    }
}

diesel::table! {
    payment_intents (id) {
        id -> Text,
        order_id -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        psp_reference -> Nullable<Text>,
        decline_reason -> Nullable<Text>,
        tenders -> Text,
        created_at -> Timestamp,
        payer -> Text,
        customer_id -> Nullable<Text>,
        renew_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(vault_cards -> data_keys (key_version));

diesel::allow_tables_to_appear_in_same_query!(data_keys, vault_cards, payment_intents);

diesel::table! {
    tender_money (intent_id, tender) {
        intent_id -> Text,
        tender -> Integer,
        authorized -> BigInt,
        authorized_pending -> BigInt,
        captured -> BigInt,
        captured_pending -> BigInt,
        refunded -> BigInt,
        refunded_pending -> BigInt,
        voided -> BigInt,
        voided_pending -> BigInt,
    }
}

diesel::table! {
    tender_operations (id) {
        id -> Text,
        intent_id -> Text,
        tender -> Integer,
        kind -> Text,
        amount -> BigInt,
        state -> Text,
        seq -> BigInt,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        order_id -> Text,
        payment_intent_id -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        reason -> Text,
        requested_by -> Text,
        status -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    stored_value_cards (reference) {
        reference -> Text,
        kind -> Text,
        issue_id -> Text,
        last4 -> Text,
        currency -> Text,
        balance -> BigInt,
        held -> BigInt,
        customer_id -> Nullable<Text>,
        issued_by -> Text,
        created_at -> Timestamp,
        order_id -> Nullable<Text>,
    }
}

diesel::table! {
    stored_value_movements (id) {
        id -> Text,
        reference -> Text,
        kind -> Text,
        amount -> BigInt,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    payment_batches (intent_id, name) {
        intent_id -> Text,
        name -> Text,
        announced_at -> Timestamp,
    }
}

diesel::table! {
    psp_webhooks (id) {
        id -> Text,
        psp -> Text,
        kind -> Text,
        operation_id -> Text,
        received_at -> Timestamp,
    }
}

//! What payments consumes and publishes.
//!
//! - Consumes `omni.orders.v1` (consumer `orders`): `reserved` starts an authorization, `part_delivered` and
//!   `fulfilled` capture, `failed` and `cancelled` void; every other order event is acknowledged and ignored.
//! - Consumes `omni.payments.v1` (consumer `commands`): `omni.payment.refund_requested`, the refund command other
//!   services send; payments' own events on that topic are acknowledged and ignored.
//! - Publishes `omni.payments.v1` through the outbox: `authorized` or `declined` (exactly one per order),
//!   `captured` per delivery (the last one `final`), `voided`, `refunded`, `refund_refused`. Never card data:
//!   payment-method references and PSP references only.

pub mod commands;
pub mod orders;

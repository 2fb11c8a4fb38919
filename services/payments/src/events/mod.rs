//! What payments consumes and publishes.
//!
//! - Consumes `omni.orders.v1` (consumer `orders`): `omni.order.reserved` starts an authorization; every other
//!   order event is acknowledged and ignored.
//! - Publishes `omni.payments.v1` through the outbox: `omni.payment.authorized` or `omni.payment.declined`,
//!   exactly one per order. Never card data: vault tokens and PSP references only.

pub mod orders;

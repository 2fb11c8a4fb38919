//! The sandbox PSP's test card numbers: the only place in this crate where literal card numbers live.
//!
//! With `payments.psp = "sandbox"` Omni never contacts a real payment provider; the
//! [`SandboxPsp`](super::sandbox_psp::SandboxPsp) decides by card number (any expiry in the future, any CVC):
//!
//! | number               | constant                    | outcome                                   |
//! |----------------------|-----------------------------|-------------------------------------------|
//! | `4242424242424242`   | [`VISA_APPROVED`]           | approved                                  |
//! | `5555555555554444`   | [`MASTERCARD_APPROVED`]     | approved (Mastercard)                     |
//! | `378282246310005`    | [`AMEX_APPROVED`]           | approved (American Express)               |
//! | `4000000000000002`   | [`VISA_DECLINED`]           | declined, reason `card_declined`          |
//! | `4000000000009995`   | [`VISA_INSUFFICIENT_FUNDS`] | declined, reason `insufficient_funds`     |
//! | `4000000000000069`   | [`VISA_EXPIRED_CARD`]       | declined, reason `expired_card`           |
//! | `4000000000000119`   | [`VISA_UNAVAILABLE_ONCE`]   | PSP unavailable (retried, then succeeds)  |
//! | `4000000000003071`   | [`VISA_DROPS_REPLIES`]      | approved, but the first reply to each call on it is lost (the work is done); asked again with the same idempotency key, the answer comes |
//! | `4000000000003139`   | [`VISA_ONCE_A_MINUTE`]      | approved once a minute; declined `card_velocity_exceeded` within the minute (a renewal declines) |
//! | any other Luhn-valid |                             | approved                                  |
//!
//! An approval's reference is `sandbox_auth_` + 24 random characters. Authorizations lapse after
//! `payments.card_authorization_seconds` (a capture after that is refused with `authorization_expired`). The same
//! table is in `services/payments/sandbox-test-cards.md`.
//!
//! The remaining constants are well-known Luhn-valid sample numbers of the other brands, used to test brand
//! detection; the sandbox approves them like any other Luhn-valid number.

/// Visa; the sandbox approves it.
pub const VISA_APPROVED: &str = "4242424242424242";
/// Mastercard (51–55 range); the sandbox approves it.
pub const MASTERCARD_APPROVED: &str = "5555555555554444";
/// American Express; the sandbox approves it.
pub const AMEX_APPROVED: &str = "378282246310005";
/// Visa; the sandbox declines it with `card_declined`.
pub const VISA_DECLINED: &str = "4000000000000002";
/// Visa; the sandbox declines it with `insufficient_funds`.
pub const VISA_INSUFFICIENT_FUNDS: &str = "4000000000009995";
/// Visa; the sandbox declines it with `expired_card`.
pub const VISA_EXPIRED_CARD: &str = "4000000000000069";
/// Visa; every other authorization attempt finds the sandbox PSP unavailable (the first fails, its retry
/// is approved).
pub const VISA_UNAVAILABLE_ONCE: &str = "4000000000000119";

/// Visa; the sandbox does the work of every call on it but loses its first reply (a timeout); the same call asked
/// again with the same idempotency key gets the answer.
pub const VISA_DROPS_REPLIES: &str = "4000000000003071";
/// Visa; the sandbox approves one authorization of it a minute and declines the others within that minute with
/// `card_velocity_exceeded` (so a renewal of its authorization declines).
pub const VISA_ONCE_A_MINUTE: &str = "4000000000003139";

/// Mastercard from the 2-series range (2221–2720).
pub const MASTERCARD_2_SERIES: &str = "2223003122003222";
/// Discover.
pub const DISCOVER: &str = "6011111111111117";
/// JCB.
pub const JCB: &str = "3566002020360505";
/// Diners Club (14 digits).
pub const DINERS: &str = "36227206271667";
/// UnionPay.
pub const UNIONPAY: &str = "6200000000000005";
/// Luhn-valid, but of no known brand.
pub const UNKNOWN_BRAND: &str = "9999999999999995";

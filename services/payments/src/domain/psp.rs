//! Payment service providers behind one adapter trait. The sandbox PSP that ships with Omni is in
//! [`sandbox_psp`](super::sandbox_psp); its test card numbers are documented in [`sandbox`](super::sandbox).

use std::future::Future;
use std::pin::Pin;

use omni_contracts::Money;

use super::card::Card;

/// A PSP call in flight.
pub type PspFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PspError>> + Send + 'a>>;

/// What to authorize.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    /// The card, detokenized for this call only.
    pub card: &'a Card,
    /// The amount to hold.
    pub amount: Money,
    /// Sent as the PSP's idempotency key, so a retried call does not authorize twice.
    pub idempotency_key: String,
}

/// The PSP's answer to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The amount is held; `psp_reference` names the hold for capture or void.
    Approved {
        /// The PSP's reference.
        psp_reference: String,
    },
    /// The issuer or the PSP said no.
    Declined {
        /// A reason code safe to show, e.g. `card_declined`.
        reason: String,
    },
}

/// A PSP call that failed without an answer; retry later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PspError {
    /// The PSP could not be reached or answered with an error.
    #[error("the PSP is unavailable: {0}")]
    Unavailable(String),
    /// The PSP does not know the reference (void of an unknown authorization).
    #[error("the PSP does not know the reference {0}")]
    UnknownReference(String),
}

/// A payment service provider adapter.
pub trait Psp: Send + Sync {
    /// The adapter's name, e.g. `sandbox`.
    fn name(&self) -> &'static str;

    /// Authorizes (holds) an amount on a card.
    fn authorize<'a>(&'a self, request: AuthorizeRequest<'a>) -> PspFuture<'a, Authorization>;

    /// Releases an authorization that will not be captured.
    fn void<'a>(&'a self, psp_reference: &'a str) -> PspFuture<'a, ()>;

    /// Captures an authorization (the order was fulfilled). `idempotency_key` makes a retried capture a no-op,
    /// so an amount is never captured twice.
    fn capture<'a>(&'a self, psp_reference: &'a str, idempotency_key: String) -> PspFuture<'a, ()>;
}

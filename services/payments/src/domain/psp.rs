//! Payment service providers behind one adapter trait. The sandbox PSP that ships with Omni is in
//! [`sandbox_psp`](super::sandbox_psp); its test card numbers are documented in [`sandbox`](super::sandbox).
//!
//! Every call carries an idempotency key that payments records (`tender_operations`) before the call, so a call
//! whose reply never came is asked again with the same key and the PSP answers it as the first time: an amount is
//! never held, taken or given back twice.

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

/// What a capture, refund or void moves on an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// The authorization's PSP reference.
    pub psp_reference: String,
    /// How much.
    pub amount: Money,
    /// The operation's idempotency key, recorded before the call.
    pub idempotency_key: String,
    /// For a capture: the last one of this authorization (the PSP releases what was not captured).
    pub final_capture: bool,
}

/// A PSP call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PspError {
    /// The PSP could not be reached, answered with an error or not at all: the outcome is unknown; ask again with
    /// the same idempotency key.
    #[error("the PSP is unavailable: {0}")]
    Unavailable(String),
    /// The PSP does not know the reference (void of an unknown authorization).
    #[error("the PSP does not know the reference {0}")]
    UnknownReference(String),
    /// The PSP answered and refused the operation (more than is left on the authorization, an expired
    /// authorization): final, nothing moved.
    #[error("the PSP refused: {0}")]
    Refused(String),
}

impl PspError {
    /// Whether the PSP gave a final answer (nothing moved, asking again changes nothing).
    pub fn is_final(&self) -> bool {
        matches!(self, PspError::UnknownReference(_) | PspError::Refused(_))
    }
}

/// What the PSP's own record says of one authorization, in minor units (for the reconcile).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PspRecord {
    /// Held.
    pub authorized: i64,
    /// Taken.
    pub captured: i64,
    /// Given back.
    pub refunded: i64,
    /// Released.
    pub voided: i64,
}

/// A payment service provider adapter.
pub trait Psp: Send + Sync {
    /// The adapter's name, e.g. `sandbox`.
    fn name(&self) -> &'static str;

    /// Authorizes (holds) an amount on a card.
    fn authorize<'a>(&'a self, request: AuthorizeRequest<'a>) -> PspFuture<'a, Authorization>;

    /// Takes held money, partially or whole; several captures of one authorization add up.
    fn capture<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()>;

    /// Gives captured money back.
    fn refund<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()>;

    /// Releases held money that will not be captured.
    fn void<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()>;

    /// The PSP's own record of an authorization (`None`: it does not know it), for the reconcile.
    fn lookup<'a>(&'a self, psp_reference: &'a str) -> PspFuture<'a, Option<PspRecord>>;
}

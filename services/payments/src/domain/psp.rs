//! Payment service providers behind one adapter trait, and the sandbox PSP that ships with Omni.
//!
//! # Sandbox test cards
//!
//! The sandbox never contacts anyone. It decides by card number (any expiry in the future, any CVC):
//!
//! | number               | outcome                                   |
//! |----------------------|-------------------------------------------|
//! | `4242424242424242`   | approved                                  |
//! | `5555555555554444`   | approved (Mastercard)                     |
//! | `378282246310005`    | approved (American Express)               |
//! | `4000000000000002`   | declined, reason `card_declined`          |
//! | `4000000000009995`   | declined, reason `insufficient_funds`     |
//! | `4000000000000069`   | declined, reason `expired_card`           |
//! | `4000000000000119`   | PSP unavailable (retried, then succeeds)  |
//! | any other Luhn-valid | approved                                  |
//!
//! An approval's reference is `sandbox_auth_` + 24 random characters. The same table is in
//! `services/payments/SANDBOX_TEST_CARDS.md`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

/// The number that approves.
pub const APPROVE: &str = "4242424242424242";
/// The number declined with `card_declined`.
pub const DECLINE: &str = "4000000000000002";
/// The number declined with `insufficient_funds`.
pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
/// The number declined with `expired_card`.
pub const EXPIRED_CARD: &str = "4000000000000069";
/// The number whose first authorization attempt finds the PSP unavailable.
pub const UNAVAILABLE_ONCE: &str = "4000000000000119";

/// Prefix of the sandbox's authorization references.
pub const SANDBOX_REFERENCE_PREFIX: &str = "sandbox_auth_";

/// The sandbox PSP: decides by test card number, see the module documentation.
#[derive(Debug, Default)]
pub struct SandboxPsp {
    unavailable_calls: AtomicU64,
}

impl SandboxPsp {
    /// A sandbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sandbox's decision for a card and amount, without I/O.
    pub fn decide(&self, request: &AuthorizeRequest<'_>) -> Result<Authorization, PspError> {
        let declined = |reason: &str| {
            Ok(Authorization::Declined {
                reason: reason.to_owned(),
            })
        };
        if request.amount.amount_minor < 0 {
            return declined("invalid_amount");
        }
        match request.card.pan.expose() {
            DECLINE => declined("card_declined"),
            INSUFFICIENT_FUNDS => declined("insufficient_funds"),
            EXPIRED_CARD => declined("expired_card"),
            // Fails every other call: the first attempt sees an outage, its retry goes through.
            UNAVAILABLE_ONCE
                if self
                    .unavailable_calls
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(2) =>
            {
                Err(PspError::Unavailable("sandbox: simulated outage".into()))
            }
            _ => Ok(Authorization::Approved {
                psp_reference: sandbox_reference(),
            }),
        }
    }
}

fn sandbox_reference() -> String {
    let random = super::vault::new_token();
    format!(
        "{SANDBOX_REFERENCE_PREFIX}{}",
        &random[super::vault::TOKEN_PREFIX.len()..]
    )
}

impl Psp for SandboxPsp {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn authorize<'a>(&'a self, request: AuthorizeRequest<'a>) -> PspFuture<'a, Authorization> {
        Box::pin(std::future::ready(self.decide(&request)))
    }

    fn void<'a>(&'a self, psp_reference: &'a str) -> PspFuture<'a, ()> {
        let outcome = if psp_reference.starts_with(SANDBOX_REFERENCE_PREFIX) {
            Ok(())
        } else {
            Err(PspError::UnknownReference(psp_reference.to_owned()))
        };
        Box::pin(std::future::ready(outcome))
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use omni_contracts::Currency;
    use omni_contracts::api::TokenizeCard;

    use super::*;

    fn card(number: &str) -> Card {
        let request = TokenizeCard {
            number: number.into(),
            exp_month: 1,
            exp_year: 2030,
            cvc: None,
        };
        Card::from_request(&request, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap()
    }

    async fn authorize(psp: &SandboxPsp, number: &str) -> Result<Authorization, PspError> {
        let card = card(number);
        let amount = Money {
            amount_minor: 1999,
            currency: Currency::parse("EUR").unwrap(),
        };
        psp.authorize(AuthorizeRequest {
            card: &card,
            amount,
            idempotency_key: "k".into(),
        })
        .await
    }

    #[tokio::test]
    async fn the_documented_test_cards_behave_as_documented() {
        let psp = SandboxPsp::new();
        let Authorization::Approved { psp_reference } = authorize(&psp, APPROVE).await.unwrap() else {
            panic!("4242 must approve")
        };
        assert!(psp_reference.starts_with("sandbox_auth_"), "{psp_reference}");
        for (number, reason) in [
            (DECLINE, "card_declined"),
            (INSUFFICIENT_FUNDS, "insufficient_funds"),
            (EXPIRED_CARD, "expired_card"),
        ] {
            assert_eq!(
                authorize(&psp, number).await.unwrap(),
                Authorization::Declined {
                    reason: reason.into()
                }
            );
        }
        assert!(matches!(
            authorize(&psp, "5555555555554444").await.unwrap(),
            Authorization::Approved { .. }
        ));
    }

    #[tokio::test]
    async fn the_outage_card_fails_once_then_approves_on_retry() {
        let psp = SandboxPsp::new();
        assert!(matches!(
            authorize(&psp, UNAVAILABLE_ONCE).await,
            Err(PspError::Unavailable(_))
        ));
        assert!(matches!(
            authorize(&psp, UNAVAILABLE_ONCE).await,
            Ok(Authorization::Approved { .. })
        ));
    }

    #[tokio::test]
    async fn the_sandbox_voids_only_its_own_references() {
        let psp = SandboxPsp::new();
        assert!(psp.void("sandbox_auth_abc").await.is_ok());
        assert!(psp.void("other").await.is_err());
    }

    #[test]
    fn every_documented_test_card_is_luhn_valid() {
        for number in [
            APPROVE,
            DECLINE,
            INSUFFICIENT_FUNDS,
            EXPIRED_CARD,
            UNAVAILABLE_ONCE,
        ] {
            assert!(crate::domain::card::luhn_valid(number), "{number}");
        }
    }
}

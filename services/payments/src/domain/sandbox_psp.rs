//! The sandbox PSP that ships with Omni: it never contacts anyone and decides by card number, see
//! [`super::sandbox`] for the test cards and their outcomes.

use std::sync::atomic::{AtomicU64, Ordering};

use super::psp::{Authorization, AuthorizeRequest, Psp, PspError, PspFuture};
use super::sandbox::{VISA_DECLINED, VISA_EXPIRED_CARD, VISA_INSUFFICIENT_FUNDS, VISA_UNAVAILABLE_ONCE};

/// Prefix of the sandbox's authorization references.
pub const SANDBOX_REFERENCE_PREFIX: &str = "sandbox_auth_";

/// The sandbox PSP: decides by test card number, see [`super::sandbox`].
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
            VISA_DECLINED => declined("card_declined"),
            VISA_INSUFFICIENT_FUNDS => declined("insufficient_funds"),
            VISA_EXPIRED_CARD => declined("expired_card"),
            // Fails every other call: the first attempt sees an outage, its retry goes through.
            VISA_UNAVAILABLE_ONCE
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

    fn capture<'a>(&'a self, psp_reference: &'a str, _idempotency_key: String) -> PspFuture<'a, ()> {
        // The sandbox keeps no state: capturing one of its references succeeds, as often as asked.
        self.void(psp_reference)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use omni_contracts::api::TokenizeCard;
    use omni_contracts::{Currency, Money};

    use super::*;
    use crate::domain::card::Card;
    use crate::domain::sandbox::{MASTERCARD_APPROVED, VISA_APPROVED};

    fn card(number: &str) -> Card {
        let request = TokenizeCard {
            number: number.into(),
            exp_month: 1,
            exp_year: 2030,
            cvc: None,
            customer_id: None,
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
        let Authorization::Approved { psp_reference } = authorize(&psp, VISA_APPROVED).await.unwrap() else {
            panic!("4242 must approve")
        };
        assert!(psp_reference.starts_with("sandbox_auth_"), "{psp_reference}");
        for (number, reason) in [
            (VISA_DECLINED, "card_declined"),
            (VISA_INSUFFICIENT_FUNDS, "insufficient_funds"),
            (VISA_EXPIRED_CARD, "expired_card"),
        ] {
            assert_eq!(
                authorize(&psp, number).await.unwrap(),
                Authorization::Declined {
                    reason: reason.into()
                }
            );
        }
        assert!(matches!(
            authorize(&psp, MASTERCARD_APPROVED).await.unwrap(),
            Authorization::Approved { .. }
        ));
    }

    #[tokio::test]
    async fn the_outage_card_fails_once_then_approves_on_retry() {
        let psp = SandboxPsp::new();
        assert!(matches!(
            authorize(&psp, VISA_UNAVAILABLE_ONCE).await,
            Err(PspError::Unavailable(_))
        ));
        assert!(matches!(
            authorize(&psp, VISA_UNAVAILABLE_ONCE).await,
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
            VISA_APPROVED,
            VISA_DECLINED,
            VISA_INSUFFICIENT_FUNDS,
            VISA_EXPIRED_CARD,
            VISA_UNAVAILABLE_ONCE,
        ] {
            assert!(crate::domain::card::luhn_valid(number), "{number}");
        }
    }
}

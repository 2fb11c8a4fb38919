//! The sandbox PSP that ships with Omni: it never contacts anyone and decides by card number, see
//! [`super::sandbox`] for the test cards and their outcomes. It keeps its own book of every authorization
//! (authorized, captured, refunded, voided) and answers a repeated idempotency key as it answered the first time,
//! as a real PSP does; it refuses to capture, refund or void more than is left.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::psp::{Authorization, AuthorizeRequest, Movement, Psp, PspError, PspFuture, PspRecord};
use super::sandbox::{
    VISA_DECLINED, VISA_DROPS_REPLIES, VISA_EXPIRED_CARD, VISA_INSUFFICIENT_FUNDS, VISA_ONCE_A_MINUTE,
    VISA_UNAVAILABLE_ONCE,
};

/// What the sandbox answers when it loses a reply.
const LOST: &str = "sandbox: the reply was lost (the work was done; ask again with the same key)";

/// Prefix of the sandbox's authorization references.
pub const SANDBOX_REFERENCE_PREFIX: &str = "sandbox_auth_";

/// The sandbox's record of one authorization, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SandboxAuthorization {
    /// Held.
    pub authorized: i64,
    /// Taken.
    pub captured: i64,
    /// Given back.
    pub refunded: i64,
    /// Released.
    pub voided: i64,
    /// A final capture was made: no more captures.
    pub closed: bool,
    /// When it lapses (no capture after), if the sandbox lapses authorizations.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The first reply to each call on it is lost ([`VISA_DROPS_REPLIES`]).
    pub drops_replies: bool,
}

#[derive(Debug, Default)]
struct Book {
    authorizations: HashMap<String, SandboxAuthorization>,
    /// Each idempotency key's answer.
    authorize_replies: HashMap<String, Authorization>,
    movement_replies: HashMap<String, Result<(), PspError>>,
}

/// What a movement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Capture,
    Refund,
    Void,
}

/// The sandbox PSP: decides by test card number, see [`super::sandbox`].
#[derive(Debug, Default)]
pub struct SandboxPsp {
    unavailable_calls: AtomicU64,
    book: Mutex<Book>,
    /// How long its authorizations last (`None`: they do not lapse).
    lifetime: Option<chrono::Duration>,
    /// When the once-a-minute card was last approved.
    once_a_minute: Mutex<Option<std::time::Instant>>,
}

impl SandboxPsp {
    /// A sandbox whose authorizations do not lapse.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sandbox whose authorizations lapse after `lifetime`, as an issuer's do.
    pub fn lapsing_after(lifetime: chrono::Duration) -> Self {
        Self {
            lifetime: Some(lifetime),
            ..Self::default()
        }
    }

    /// The sandbox's decision for a card and amount, without I/O.
    pub fn decide(&self, request: &AuthorizeRequest<'_>) -> Result<Authorization, PspError> {
        let declined = |reason: &str| {
            Ok(Authorization::Declined {
                reason: reason.to_owned(),
            })
        };
        if request.amount.amount_minor <= 0 {
            return declined("invalid_amount");
        }
        if let Some(reply) = self.book().authorize_replies.get(&request.idempotency_key) {
            return Ok(reply.clone());
        }
        let reply = match request.card.pan.expose() {
            VISA_DECLINED => declined("card_declined"),
            VISA_INSUFFICIENT_FUNDS => declined("insufficient_funds"),
            VISA_EXPIRED_CARD => declined("expired_card"),
            VISA_ONCE_A_MINUTE if !self.first_this_minute() => declined("card_velocity_exceeded"),
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
        }?;
        let drops_replies = request.card.pan.expose() == VISA_DROPS_REPLIES;
        let mut book = self.book();
        if let Authorization::Approved { psp_reference } = &reply {
            book.authorizations.insert(
                psp_reference.clone(),
                SandboxAuthorization {
                    authorized: request.amount.amount_minor,
                    expires_at: self.lifetime.map(|l| chrono::Utc::now() + l),
                    drops_replies,
                    ..SandboxAuthorization::default()
                },
            );
        }
        book.authorize_replies
            .insert(request.idempotency_key.clone(), reply.clone());
        if drops_replies {
            return Err(PspError::Unavailable(LOST.into()));
        }
        Ok(reply)
    }

    /// The sandbox's record of an authorization.
    pub fn authorization(&self, psp_reference: &str) -> Option<SandboxAuthorization> {
        self.book().authorizations.get(psp_reference).copied()
    }

    /// Whether the once-a-minute card may be approved now (and counts it).
    fn first_this_minute(&self) -> bool {
        let mut last = self
            .once_a_minute
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < std::time::Duration::from_secs(60)) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn apply(&self, what: Move, movement: &Movement) -> Result<(), PspError> {
        let mut book = self.book();
        if let Some(reply) = book.movement_replies.get(&movement.idempotency_key) {
            return reply.clone();
        }
        let Some(auth) = book.authorizations.get_mut(&movement.psp_reference) else {
            return Err(PspError::UnknownReference(movement.psp_reference.clone()));
        };
        let amount = movement.amount.amount_minor;
        let open = auth.authorized - auth.captured - auth.voided;
        let reply = if amount <= 0 {
            Err(PspError::Refused("invalid_amount".into()))
        } else {
            match what {
                Move::Capture if auth.closed => Err(PspError::Refused("authorization_closed".into())),
                Move::Capture if auth.expires_at.is_some_and(|e| e < chrono::Utc::now()) => {
                    Err(PspError::Refused("authorization_expired".into()))
                }
                Move::Capture if amount > open => Err(PspError::Refused("amount_too_large".into())),
                Move::Capture => {
                    auth.captured += amount;
                    auth.closed = movement.final_capture;
                    Ok(())
                }
                Move::Refund if amount > auth.captured - auth.refunded => {
                    Err(PspError::Refused("amount_too_large".into()))
                }
                Move::Refund => {
                    auth.refunded += amount;
                    Ok(())
                }
                Move::Void if amount > open => Err(PspError::Refused("amount_too_large".into())),
                Move::Void => {
                    auth.voided += amount;
                    Ok(())
                }
            }
        };
        let drops_replies = auth.drops_replies;
        book.movement_replies
            .insert(movement.idempotency_key.clone(), reply.clone());
        if drops_replies {
            return Err(PspError::Unavailable(LOST.into()));
        }
        reply
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

    fn capture<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()> {
        Box::pin(std::future::ready(self.apply(Move::Capture, movement)))
    }

    fn refund<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()> {
        Box::pin(std::future::ready(self.apply(Move::Refund, movement)))
    }

    fn void<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()> {
        Box::pin(std::future::ready(self.apply(Move::Void, movement)))
    }

    fn lookup<'a>(&'a self, psp_reference: &'a str) -> PspFuture<'a, Option<PspRecord>> {
        let record = self.authorization(psp_reference).map(|a| PspRecord {
            authorized: a.authorized,
            captured: a.captured,
            refunded: a.refunded,
            voided: a.voided,
        });
        Box::pin(std::future::ready(Ok(record)))
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
            idempotency_key: format!("k-{number}"),
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

    fn movement(reference: &str, amount: i64, key: &str) -> Movement {
        Movement {
            psp_reference: reference.into(),
            amount: Money {
                amount_minor: amount,
                currency: Currency::parse("EUR").unwrap(),
            },
            idempotency_key: key.into(),
            final_capture: false,
        }
    }

    #[tokio::test]
    async fn the_sandbox_moves_money_only_on_its_own_references_and_within_what_is_left() {
        let psp = SandboxPsp::new();
        assert!(matches!(
            psp.void(&movement("other", 1, "v")).await,
            Err(PspError::UnknownReference(_))
        ));
        let Authorization::Approved { psp_reference } = authorize(&psp, VISA_APPROVED).await.unwrap() else {
            panic!("4242 must approve")
        };
        psp.capture(&movement(&psp_reference, 999, "c1")).await.unwrap();
        // The same key again is the same capture, not a second one.
        psp.capture(&movement(&psp_reference, 999, "c1")).await.unwrap();
        assert_eq!(
            psp.capture(&movement(&psp_reference, 1001, "c2")).await,
            Err(PspError::Refused("amount_too_large".into()))
        );
        psp.refund(&movement(&psp_reference, 500, "r1")).await.unwrap();
        assert!(psp.refund(&movement(&psp_reference, 500, "r2")).await.is_err());
        psp.void(&movement(&psp_reference, 1000, "v1")).await.unwrap();
        assert_eq!(
            psp.authorization(&psp_reference),
            Some(SandboxAuthorization {
                authorized: 1999,
                captured: 999,
                refunded: 500,
                voided: 1000,
                closed: false,
                expires_at: None,
                drops_replies: false,
            })
        );
    }

    #[tokio::test]
    async fn an_authorization_asked_again_with_its_key_is_the_same_hold() {
        let psp = SandboxPsp::new();
        let first = authorize(&psp, VISA_APPROVED).await.unwrap();
        assert_eq!(authorize(&psp, VISA_APPROVED).await.unwrap(), first);
    }

    #[test]
    fn every_documented_test_card_is_luhn_valid() {
        for number in [
            VISA_APPROVED,
            VISA_DECLINED,
            VISA_INSUFFICIENT_FUNDS,
            VISA_EXPIRED_CARD,
            VISA_UNAVAILABLE_ONCE,
            VISA_DROPS_REPLIES,
            VISA_ONCE_A_MINUTE,
        ] {
            assert!(crate::domain::card::luhn_valid(number), "{number}");
        }
    }
}

//! Gift cards and store credit (DESIGN §6, issue 22): issued by managers (audited, the code shown once), looked up
//! by code (rate-limited per caller, so codes cannot be guessed), held by an order's authorization, captured,
//! released on cancel and reloaded on refund. Each movement is applied once under the tender operation's
//! idempotency key, in payments' own database: Omni is the PSP of its stored value.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::SubsecRound;
use omni_contracts::Money;

use crate::app::State;
use crate::db::stored_value as cards;
use crate::domain::ledger::Kind;
use crate::domain::psp::{Authorization, Movement as PspMovement};
use crate::domain::rate_limit::RateLimiter;
use crate::domain::stored_value::{Movement, Refused, StoredValueCard, StoredValueKind, new_code};
use crate::error::{Error, Result};

/// Wrong codes a caller may try in a burst.
pub const GUESS_BURST: u32 = 10;
/// Wrong codes a caller may try per minute, sustained.
pub const GUESSES_PER_MINUTE: u32 = 6;
/// Callers tracked at most; beyond, the oldest buckets are forgotten (a forgotten caller starts full again).
const TRACKED_CALLERS: usize = 10_000;

/// Wrong codes per caller: every lookup that finds no card takes one; an empty bucket refuses lookups until it
/// refills.
#[derive(Debug, Default)]
pub struct GuessLimit {
    callers: Mutex<HashMap<String, (RateLimiter, Instant)>>,
}

impl GuessLimit {
    /// `Err(wait)` while `caller` has used up its wrong guesses.
    pub fn check(&self, caller: &str) -> std::result::Result<(), Duration> {
        let now = Instant::now();
        let mut callers = self
            .callers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match callers.get_mut(caller) {
            // Peek: take a token and give it back (a right guess costs nothing).
            Some((bucket, _)) => bucket.try_acquire(1, now).map(|()| bucket.give_back(1)),
            None => Ok(()),
        }
    }

    /// Counts a wrong guess by `caller`.
    pub fn missed(&self, caller: &str) {
        let now = Instant::now();
        let mut callers = self
            .callers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if callers.len() >= TRACKED_CALLERS && !callers.contains_key(caller) {
            let oldest = callers
                .iter()
                .min_by_key(|(_, (_, seen))| *seen)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                callers.remove(&oldest);
            }
        }
        let (bucket, seen) = callers
            .entry(caller.to_owned())
            .or_insert_with(|| (RateLimiter::per_minute(GUESS_BURST, GUESSES_PER_MINUTE, now), now));
        *seen = now;
        let _ = bucket.try_acquire(1, now);
    }
}

/// A card to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The issuer's idempotency key.
    pub issue_id: String,
    /// Gift card or store credit.
    pub kind: StoredValueKind,
    /// Its starting balance.
    pub amount: Money,
    /// The customer it is for, if any.
    pub customer_id: Option<String>,
    /// Who issues it.
    pub issued_by: String,
}

/// A card issued: its code only the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The card.
    pub card: StoredValueCard,
    /// Its code, shown once; `None` when it was issued before under the same id.
    pub code: Option<String>,
}

/// Issues a card (audited), or answers the one issued before under the same id.
pub async fn issue(state: &State, issue: Issue) -> Result<Issued> {
    match issue_announced(state, issue, None).await? {
        Ok(issued) => Ok(issued),
        // Only store credit owed on an order is capped.
        Err(refused) => Err(Error::Corrupt {
            what: "stored value issue",
            reason: refused,
        }),
    }
}

/// Issues store credit owed on `order` (a command's), announcing it with its code to the customer
/// (`omni.payment.store_credit_issued`) in the same transaction; a repeated command answers the card issued
/// before, announced then. Refused (`Ok(Err(why))`, nothing issued) when the credit issued for the order would
/// exceed what the order paid: captured less refunded, over its tenders.
pub async fn issue_for_order(
    state: &State,
    issue: Issue,
    order: omni_contracts::OrderId,
) -> Result<std::result::Result<Issued, String>> {
    let issued = issue_announced(state, issue, Some(order)).await?;
    if issued.as_ref().is_ok_and(|i| i.code.is_some()) {
        state.relay.notify_one();
    }
    Ok(issued)
}

/// What an order's `intents` paid: captured less refunded (settled and pending), over every tender.
fn paid_on(
    conn: &mut omni_db::DbConnection,
    intents: &[crate::domain::intent::PaymentIntent],
) -> Result<i64> {
    let mut paid = 0;
    for intent in intents {
        for tender in 0..intent.tenders.len() {
            let key = crate::db::tender_ledger::TenderKey {
                intent: intent.id,
                tender: u32::try_from(tender).unwrap_or(u32::MAX),
            };
            let money = crate::db::tender_ledger::money(conn, key)?;
            paid += money.captured.settled - money.refunded.settled - money.refunded.pending;
        }
    }
    Ok(paid)
}

async fn issue_announced(
    state: &State,
    issue: Issue,
    order: Option<omni_contracts::OrderId>,
) -> Result<std::result::Result<Issued, String>> {
    let code = new_code();
    let reference = omni_contracts::stored_value::reference(&code).unwrap_or_default();
    let card = StoredValueCard {
        reference,
        kind: issue.kind,
        issue_id: issue.issue_id.clone(),
        last4: omni_contracts::stored_value::last4(&code),
        currency: issue.amount.currency,
        balance: issue.amount.amount_minor,
        held: 0,
        customer_id: issue.customer_id.clone(),
    };
    let issued = state
        .db
        .transaction(move |conn| -> Result<std::result::Result<Issued, String>> {
            if let Some(card) = cards::find_issued(conn, &issue.issue_id)? {
                return Ok(Ok(Issued { card, code: None }));
            }
            if let Some(order_id) = order {
                // One order's credits are issued one at a time: its intents' lock.
                let intents = crate::db::intents::for_order(conn, order_id)?;
                for intent in &intents {
                    crate::db::tender_ledger::lock_intent(conn, intent.id)?;
                }
                let (paid, issued) = (paid_on(conn, &intents)?, cards::issued_for_order(conn, order_id)?);
                if issued + issue.amount.amount_minor > paid {
                    return Ok(Err(format!(
                        "amount: {} of store credit asked on order {order_id}, which paid {paid} and was issued \
                         {issued} already",
                        issue.amount.amount_minor
                    )));
                }
            }
            cards::issue(conn, &card, &issue.issued_by)?;
            omni_db::audit::record(
                conn,
                &issue.issued_by,
                "payment.stored_value_issued",
                &card.reference,
                &serde_json::json!({
                    "kind": card.kind.as_str(), "last4": card.last4, "amount_minor": card.balance,
                    "currency": card.currency.as_str(), "customer_id": card.customer_id,
                    "issued_at": chrono::Utc::now().trunc_subsecs(6),
                }),
            )?;
            if let Some(order_id) = order {
                cards::link_order(conn, &card.reference, order_id)?;
                let announced = omni_contracts::events::PaymentEvent::StoreCreditIssued(
                    omni_contracts::events::StoreCreditIssued {
                        order_id,
                        issue_id: issue.issue_id.clone(),
                        amount: issue.amount,
                        reference: card.reference.clone(),
                        last4: card.last4.clone(),
                        code: code.clone(),
                    },
                );
                omni_kafka::outbox::enqueue(conn, &omni_contracts::Envelope::new("payments", announced))?;
            }
            Ok(Ok(Issued {
                card,
                code: Some(code),
            }))
        })
        .await?;
    if let Ok(issued) = &issued
        && issued.code.is_some()
    {
        tracing::info!(stored_value = %issued.card.reference, kind = issued.card.kind.as_str(), "Stored value issued.");
    }
    Ok(issued)
}

/// Why a lookup by code found nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lookup {
    /// Not a code's shape, or no card has it.
    #[error("code: no gift card or store credit has this code")]
    Unknown,
    /// Too many wrong codes from this caller.
    #[error("too many wrong codes; retry in {} s", .0.as_secs().max(1))]
    TooManyGuesses(Duration),
}

/// The card behind `code`, for `caller` (rate-limited, see [`GuessLimit`]).
pub async fn by_code(
    state: &State,
    caller: &str,
    code: &str,
) -> Result<std::result::Result<StoredValueCard, Lookup>> {
    if let Err(wait) = state.guesses.check(caller) {
        return Ok(Err(Lookup::TooManyGuesses(wait)));
    }
    let Some(reference) = omni_contracts::stored_value::reference(code) else {
        state.guesses.missed(caller);
        return Ok(Err(Lookup::Unknown));
    };
    let card = state.db.run(move |conn| cards::find(conn, &reference)).await?;
    match card {
        Some(card) => Ok(Ok(card)),
        None => {
            state.guesses.missed(caller);
            Ok(Err(Lookup::Unknown))
        }
    }
}

/// Holds `amount` on the card `reference` for an authorization (operation `id`): approved with the card's
/// reference as the hold's, or declined with a reason safe to show. A code nobody holds counts as a wrong guess
/// by `payer`.
pub async fn hold(
    state: &State,
    id: &str,
    reference: &str,
    amount: Money,
    payer: &str,
) -> Result<Authorization> {
    if let Err(wait) = state.guesses.check(payer) {
        return Ok(Authorization::Declined {
            reason: format!(
                "too many wrong gift card codes; retry in {} s",
                wait.as_secs().max(1)
            ),
        });
    }
    let (id, reference_owned) = (id.to_owned(), reference.to_owned());
    let applied = state
        .db
        .transaction(move |conn| cards::apply(conn, &id, &reference_owned, Movement::Hold, amount))
        .await?;
    Ok(match applied {
        Ok(()) => Authorization::Approved {
            psp_reference: reference.to_owned(),
        },
        Err(refused) => {
            if refused == Refused::Unknown {
                state.guesses.missed(payer);
            }
            Authorization::Declined {
                reason: refused.to_string(),
            }
        }
    })
}

/// Moves stored value for a tender operation (capture, void, refund): `true` done (now or before), `false`
/// refused for good.
pub async fn apply(state: &State, kind: Kind, movement: &PspMovement) -> Result<bool> {
    let what = match kind {
        Kind::Capture => Movement::Capture,
        Kind::Void => Movement::Release,
        Kind::Refund => Movement::Refund,
        Kind::Authorize => Movement::Hold,
    };
    let (movement, logged) = (movement.clone(), movement.clone());
    let applied = state
        .db
        .transaction(move |conn| {
            cards::apply(
                conn,
                &movement.idempotency_key,
                &movement.psp_reference,
                what,
                movement.amount,
            )
        })
        .await?;
    if let Err(refused) = &applied {
        tracing::warn!(
            stored_value = %logged.psp_reference, operation = %logged.idempotency_key, kind = kind.as_str(),
            reason = %refused, "Stored value refused a movement; nothing moved."
        );
    }
    Ok(applied.is_ok())
}

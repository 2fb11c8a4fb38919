//! Authorizing a reserved order: detokenize its cards (audited), ask the PSP, then store the intent and its
//! event in one transaction.
//!
//! The PSP call is I/O and stays outside any database transaction:
//!
//! 1. **Prepare** (one transaction): skip if the order already has an intent; take detokenization permits;
//!    open each card tender (each opening is audited and the audit entries commit here).
//! 2. **Ask the PSP** per tender, in order, stopping at the first decline. Each call carries an idempotency key
//!    derived from the order and the tender's position, so a real PSP answers a retry with the same hold.
//! 3. **Commit** (one transaction): claim the event in the inbox, check again that the order has no intent,
//!    insert the intent (unique by order id) and enqueue exactly one `omni.payment.authorized` or
//!    `omni.payment.declined` event.
//!
//! Whenever a hold will not be used (a later tender was declined, the commit failed, or another delivery of the
//! order won the race), it is voided. Idempotency by order id holds even under concurrent deliveries: the
//! unique index on `payment_intents.order_id` lets only one intent commit.

use std::time::Instant;

use chrono::SubsecRound;
use omni_contracts::api::{CardSummary, PaymentMethod};
use omni_contracts::events::{OrderReserved, PaymentAuthorized, PaymentDeclined, PaymentEvent};
use omni_contracts::{Envelope, PaymentIntentId};

use crate::app::State;
use crate::db::vault::{Detokenized, Purpose};
use crate::db::{intents, vault};
use crate::domain::card::Card;
use crate::domain::intent::{
    Decision, IntentStatus, MARKETPLACE_PREPAID_REFERENCE, NOT_THE_PAYERS, PaymentIntent, TenderOutcome,
    TenderRecord, UNKNOWN_TOKEN, UNREADABLE_TOKEN, decide,
};
use crate::domain::psp::{Authorization, AuthorizeRequest, Psp};
use crate::error::{Error, Result};

/// The inbox name of the orders consumer.
pub const INBOX: &str = "payments.orders";

/// What authorizing an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new intent was stored and its event enqueued.
    Decided(PaymentIntent),
    /// The order already had an intent (or this event was handled before); nothing changed.
    AlreadyDecided,
}

/// A tender after the prepare step.
enum Prepared {
    /// A card to authorize on the PSP.
    Card(Card, CardSummary),
    /// Approved without a PSP call.
    Prepaid,
    /// Declined before any PSP call (with what may be shown of the card, when the vault has it).
    Unusable(&'static str, Option<CardSummary>),
}

/// Authorizes the amount of a reserved order on its tenders and records the decision (see the module docs).
/// `event_id` is the CloudEvents id of the `omni.order.reserved` event, claimed in the inbox.
pub async fn authorize_order(state: &State, event_id: &str, reserved: OrderReserved) -> Result<Outcome> {
    let order_id = reserved.order_id;
    let Some(prepared) = prepare(state, &reserved).await? else {
        tracing::debug!(order.id = %order_id, "Order already has a payment intent; nothing to do.");
        return Ok(Outcome::AlreadyDecided);
    };

    let mut records: Vec<TenderRecord> = reserved.tenders.iter().map(TenderRecord::of).collect();
    let mut holds = Vec::new();
    for (index, (record, tender)) in records.iter_mut().zip(prepared).enumerate() {
        let outcome = match tender {
            Prepared::Prepaid => TenderOutcome::Approved {
                psp_reference: MARKETPLACE_PREPAID_REFERENCE.to_owned(),
            },
            Prepared::Unusable(reason, summary) => {
                record.card = summary;
                TenderOutcome::Declined {
                    reason: reason.to_owned(),
                }
            }
            Prepared::Card(card, summary) => {
                record.card = Some(summary);
                let request = AuthorizeRequest {
                    card: &card,
                    amount: reserved.amount,
                    idempotency_key: format!("omni-order-{order_id}-tender-{index}"),
                };
                match state.psp.authorize(request).await {
                    Ok(Authorization::Approved { psp_reference }) => {
                        holds.push(psp_reference.clone());
                        TenderOutcome::Approved { psp_reference }
                    }
                    Ok(Authorization::Declined { reason }) => TenderOutcome::Declined { reason },
                    Err(e) => {
                        void_all(state.psp.as_ref(), &holds).await;
                        return Err(e.into());
                    }
                }
                // `card` is dropped here and its digits wiped.
            }
        };
        let declined = matches!(outcome, TenderOutcome::Declined { .. });
        record.outcome = Some(outcome);
        if declined {
            break;
        }
    }

    let decision = decide(&records);
    if matches!(decision, Decision::Declined { .. }) {
        void_all(state.psp.as_ref(), &holds).await;
        holds.clear();
    }
    let intent = intent_for(&reserved, decision, records);
    match commit(state, event_id, &intent).await {
        Ok(true) => {
            state.relay.notify_one();
            match intent.status {
                IntentStatus::Authorized => {
                    tracing::info!(order.id = %order_id, payment_intent.id = %intent.id, "Payment authorized.")
                }
                IntentStatus::Declined => tracing::info!(
                    order.id = %order_id, payment_intent.id = %intent.id,
                    reason = intent.decline_reason.as_deref().unwrap_or(""), "Payment declined."
                ),
                // A new intent is authorized or declined; it is voided or captured only later.
                IntentStatus::Voided | IntentStatus::Captured => {}
            }
            Ok(Outcome::Decided(intent))
        }
        Ok(false) => {
            void_all(state.psp.as_ref(), &holds).await;
            tracing::debug!(order.id = %order_id, "Another delivery decided this order first; voided our holds.");
            Ok(Outcome::AlreadyDecided)
        }
        Err(e) if e.is_unique_violation() => {
            void_all(state.psp.as_ref(), &holds).await;
            tracing::debug!(order.id = %order_id, "A concurrent delivery decided this order first; voided our holds.");
            Ok(Outcome::AlreadyDecided)
        }
        Err(e) => {
            void_all(state.psp.as_ref(), &holds).await;
            Err(e)
        }
    }
}

/// Step 1: `None` if the order already has an intent, else each tender ready for the PSP.
async fn prepare(state: &State, reserved: &OrderReserved) -> Result<Option<Vec<Prepared>>> {
    let kek = state.kek.clone();
    let limiter = state.detokenize_limit.clone();
    let order_id = reserved.order_id;
    let tenders = reserved.tenders.clone();
    let payer = reserved.payer.clone();
    let customer = reserved.customer_id.clone();
    state
        .db
        .transaction(move |conn| -> Result<Option<Vec<Prepared>>> {
            if intents::exists_for_order(conn, order_id)? {
                return Ok(None);
            }
            let cards = tenders
                .iter()
                .filter(|t| matches!(t, PaymentMethod::Card { .. }))
                .count();
            if cards > 0 {
                let permits = u32::try_from(cards).unwrap_or(u32::MAX);
                let mut bucket = limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                bucket
                    .try_acquire(permits, Instant::now())
                    .map_err(Error::RateLimited)?;
            }
            let mut prepared = Vec::with_capacity(tenders.len());
            let purpose = Purpose::Authorize {
                order_id,
                payer: &payer,
                customer: customer.as_ref(),
            };
            for tender in &tenders {
                prepared.push(match tender {
                    PaymentMethod::MarketplacePrepaid {} => Prepared::Prepaid,
                    PaymentMethod::Card { reference, .. } => {
                        match vault::detokenize(conn, &kek, reference, purpose)? {
                            Detokenized::Card(card, summary) => Prepared::Card(card, summary),
                            Detokenized::Unknown => Prepared::Unusable(UNKNOWN_TOKEN, None),
                            Detokenized::NotThePayers(summary) => {
                                Prepared::Unusable(NOT_THE_PAYERS, Some(summary))
                            }
                            Detokenized::Unreadable(summary) => {
                                Prepared::Unusable(UNREADABLE_TOKEN, Some(summary))
                            }
                        }
                    }
                });
            }
            Ok(Some(prepared))
        })
        .await
}

fn intent_for(reserved: &OrderReserved, decision: Decision, tenders: Vec<TenderRecord>) -> PaymentIntent {
    let (status, psp_reference, decline_reason) = match decision {
        Decision::Authorized { psp_reference } => (IntentStatus::Authorized, Some(psp_reference), None),
        Decision::Declined { reason } => (IntentStatus::Declined, None, Some(reason)),
    };
    PaymentIntent {
        id: PaymentIntentId::generate(),
        order_id: reserved.order_id,
        amount: reserved.amount,
        status,
        psp_reference,
        decline_reason,
        tenders,
        // Both backends keep microseconds.
        created_at: chrono::Utc::now().trunc_subsecs(6),
    }
}

/// Step 3: `false` if the event or the order was handled before.
async fn commit(state: &State, event_id: &str, intent: &PaymentIntent) -> Result<bool> {
    let event_id = event_id.to_owned();
    let intent = intent.clone();
    state
        .db
        .transaction(move |conn| -> Result<bool> {
            if !omni_db::inbox::claim(conn, INBOX, &event_id)?
                || intents::exists_for_order(conn, intent.order_id)?
            {
                return Ok(false);
            }
            intents::insert(conn, &intent)?;
            let methods = intent
                .tenders
                .iter()
                .map(TenderRecord::to_payment_method)
                .collect();
            let event = match (&intent.status, &intent.psp_reference, &intent.decline_reason) {
                (IntentStatus::Authorized, reference, _) => PaymentEvent::Authorized(PaymentAuthorized {
                    order_id: intent.order_id,
                    payment_intent_id: intent.id,
                    amount: intent.amount,
                    psp_reference: reference.clone().unwrap_or_default(),
                    methods,
                }),
                // A new intent is never voided or captured (that comes later), so this arm is the declined one.
                (IntentStatus::Declined | IntentStatus::Voided | IntentStatus::Captured, _, reason) => {
                    PaymentEvent::Declined(PaymentDeclined {
                        order_id: intent.order_id,
                        payment_intent_id: intent.id,
                        reason: reason.clone().unwrap_or_default(),
                        methods,
                    })
                }
            };
            omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            Ok(true)
        })
        .await
}

/// Releases holds that will not be used. A failed void is logged, not retried: an unused authorization expires
/// at the PSP on its own.
async fn void_all(psp: &dyn Psp, references: &[String]) {
    for reference in references {
        if let Err(e) = psp.void(reference).await {
            tracing::warn!(psp = psp.name(), psp_reference = %reference, error = %e, "Could not void an unused authorization.");
        }
    }
}

/// Voids the authorizations of an order that failed or was cancelled: each authorized intent is marked voided
/// (once, so a replay voids nothing twice) and its approved PSP holds are released. Returns how many intents.
pub async fn void_order(state: &State, order_id: omni_contracts::OrderId) -> Result<usize> {
    let intents = state
        .db
        .transaction(move |conn| -> Result<Vec<crate::domain::intent::PaymentIntent>> {
            let mut voided = Vec::new();
            for intent in crate::db::intents::for_order(conn, order_id)? {
                if crate::db::intents::mark_voided(conn, intent.id)? {
                    voided.push(intent);
                }
            }
            Ok(voided)
        })
        .await?;
    let references: Vec<String> = intents
        .iter()
        .flat_map(|i| i.tenders.iter())
        .filter_map(|t| match &t.outcome {
            Some(crate::domain::intent::TenderOutcome::Approved { psp_reference }) => {
                Some(psp_reference.clone())
            }
            _ => None,
        })
        .filter(|r| r != "marketplace_prepaid")
        .collect();
    void_all(state.psp.as_ref(), &references).await;
    for intent in &intents {
        tracing::info!(order.id = %order_id, payment_intent.id = %intent.id, "Authorization voided.");
    }
    Ok(intents.len())
}

/// Captures the authorizations of a fulfilled order: each approved PSP hold is captured (with an idempotency
/// key per intent and tender, so a retried capture is a no-op at the PSP), then each authorized intent is marked
/// captured with its `omni.payment.captured` event in one transaction (a conditional update: a replay captures
/// nothing twice). Marketplace-prepaid tenders need no PSP call. Returns how many intents were captured now.
pub async fn capture_order(state: &State, order_id: omni_contracts::OrderId) -> Result<usize> {
    let authorized: Vec<PaymentIntent> = state
        .db
        .run(move |conn| intents::for_order(conn, order_id))
        .await?
        .into_iter()
        .filter(|i| i.status == IntentStatus::Authorized)
        .collect();
    for intent in &authorized {
        for (position, tender) in intent.tenders.iter().enumerate() {
            if let Some(TenderOutcome::Approved { psp_reference }) = &tender.outcome
                && psp_reference != MARKETPLACE_PREPAID_REFERENCE
            {
                state
                    .psp
                    .capture(psp_reference, format!("capture:{}:{position}", intent.id))
                    .await?;
            }
        }
    }
    let captured = state
        .db
        .transaction(move |conn| -> Result<usize> {
            let mut captured = 0;
            for intent in &authorized {
                if intents::mark_captured(conn, intent.id)? {
                    omni_kafka::outbox::enqueue(
                        conn,
                        &Envelope::new(
                            "payments",
                            PaymentEvent::Captured(omni_contracts::events::PaymentCaptured {
                                order_id: intent.order_id,
                                payment_intent_id: intent.id,
                                amount: intent.amount,
                            }),
                        ),
                    )?;
                    captured += 1;
                }
            }
            Ok(captured)
        })
        .await?;
    if captured > 0 {
        state.relay.notify_one();
        tracing::info!(order.id = %order_id, intents = captured, "Payment captured.");
    }
    Ok(captured)
}

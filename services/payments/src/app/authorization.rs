//! Authorizing a reserved order's payment plan: each tender for its own amount, in charge order (stored value
//! first, then cards), every PSP call recorded before it is made; one decline voids what was authorized.
//!
//! 1. **Start** (one transaction): the order's intent is created in status `authorizing` with its tenders and
//!    their planned amounts (unique by order id), or found again when an earlier delivery started it; an intent
//!    already decided ends here. Detokenization permits are taken and each card tender not decided yet is opened
//!    (each opening audited, the audit entries commit here).
//! 2. **Per tender, in charge order**: the authorization is recorded as asked (`<intent>:authorize:<tender>`, the
//!    idempotency key the PSP gets), the PSP is asked, and its answer is recorded on the tender's buckets and the
//!    intent. A PSP that does not answer fails the delivery; its retry asks again with the same key, so a hold is
//!    never made twice. The first decline stops the loop.
//! 3. **Decide** (one transaction): all approved → `authorized` and `omni.payment.authorized`; a decline → the holds
//!    already made are voided (`app::operations`, batch `void-declined`), then `declined` with
//!    `omni.payment.declined` (and `omni.payment.voided` when something was released). The intent's status moves
//!    conditionally, so a replay announces nothing twice.

use std::time::Instant;

use chrono::SubsecRound;
use omni_contracts::api::{CardSummary, PaymentMethod};
use omni_contracts::events::{
    OrderReserved, PaymentAuthorized, PaymentDeclined, PaymentEvent, PaymentVoided,
};
use omni_contracts::{Envelope, Money, PaymentIntentId};

use crate::app::State;
use crate::app::operations::{self, Batch};
use crate::app::stored_value;
use crate::db::tender_ledger::{self, TenderKey};
use crate::db::vault::{Detokenized, Purpose};
use crate::db::{intents, vault};
use crate::domain::card::Card;
use crate::domain::charges::plan_void_rest;
use crate::domain::intent::{
    Decision, IntentStatus, MARKETPLACE_PREPAID_REFERENCE, NOT_THE_PAYERS, PaymentIntent, TenderKind,
    TenderOutcome, TenderRecord, UNKNOWN_TOKEN, UNREADABLE_TOKEN, charge_order, decide, next_renewal,
    planned_amounts,
};
use crate::domain::ledger::{Kind, Record};
use crate::domain::psp::{Authorization, AuthorizeRequest};
use crate::error::{Error, Result};

/// The decline reason when the tenders' amounts do not add up to the order's (intake refuses such plans).
pub const PLAN_DOES_NOT_ADD_UP: &str = "the tenders' amounts do not add up to the order amount";
/// The decline reason for a gift card or store credit reference that is not one.
pub const UNKNOWN_STORED_VALUE: &str = "unknown gift card";
/// The reference of a tender with nothing to pay (an order of total 0).
pub const NOTHING_DUE_REFERENCE: &str = "nothing_due";

/// What authorizing an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The intent was decided now and its event enqueued.
    Decided(PaymentIntent),
    /// The order's intent was decided before; nothing changed.
    AlreadyDecided,
}

/// A tender after the start step.
enum Prepared {
    /// A card to authorize on the PSP.
    Card(Card, CardSummary),
    /// Approved without a PSP call.
    Prepaid,
    /// A gift card or store credit, held in payments' own database.
    StoredValue(String),
    /// Declined before any PSP call (with what may be shown of the card, when the vault has it).
    Unusable(&'static str, Option<CardSummary>),
    /// Decided by an earlier delivery.
    Decided,
}

/// An intent being authorized, with its tenders ready.
struct Started {
    intent: PaymentIntent,
    amounts: Vec<i64>,
    prepared: Vec<Prepared>,
}

/// Authorizes a reserved order's payment plan and records the decision (see the module docs). `event_id` is the
/// CloudEvents id of the `omni.order.reserved` event, for the logs.
pub async fn authorize_order(state: &State, event_id: &str, reserved: OrderReserved) -> Result<Outcome> {
    let order_id = reserved.order_id;
    let reserved_payer = reserved.payer.clone();
    let Some(Started {
        mut intent,
        amounts,
        mut prepared,
    }) = start(state, &reserved).await?
    else {
        tracing::debug!(order.id = %order_id, event.id = event_id, "Order's payment was decided before; nothing to do.");
        return Ok(Outcome::AlreadyDecided);
    };

    for position in charge_order(&intent.tenders) {
        let tender = std::mem::replace(&mut prepared[position], Prepared::Decided);
        if matches!(tender, Prepared::Decided) {
            if matches!(
                intent.tenders[position].outcome,
                Some(TenderOutcome::Declined { .. })
            ) {
                break;
            }
            continue;
        }
        let amount = amounts[position];
        let operation = format!("{}:authorize:{position}", intent.id);
        // Whether the authorization was recorded as asked (then its answer is recorded too).
        let (outcome, recorded) = match tender {
            Prepared::Decided => continue,
            Prepared::Unusable(reason, summary) => {
                intent.tenders[position].card = summary;
                let reason = reason.to_owned();
                (TenderOutcome::Declined { reason }, false)
            }
            _ if amount <= 0 => {
                let psp_reference = NOTHING_DUE_REFERENCE.to_owned();
                (TenderOutcome::Approved { psp_reference }, false)
            }
            Prepared::Prepaid => {
                record(state, &intent, position, asked(&operation, amount)).await?;
                let psp_reference = MARKETPLACE_PREPAID_REFERENCE.to_owned();
                (TenderOutcome::Approved { psp_reference }, true)
            }
            Prepared::StoredValue(reference) => {
                record(state, &intent, position, asked(&operation, amount)).await?;
                let money = Money {
                    amount_minor: amount,
                    currency: intent.amount.currency,
                };
                let payer = reserved_payer.as_str();
                let outcome = match stored_value::hold(state, &operation, &reference, money, payer).await? {
                    Authorization::Approved { psp_reference } => TenderOutcome::Approved { psp_reference },
                    Authorization::Declined { reason } => TenderOutcome::Declined { reason },
                };
                (outcome, true)
            }
            Prepared::Card(card, summary) => {
                intent.tenders[position].card = Some(summary);
                record(state, &intent, position, asked(&operation, amount)).await?;
                let outcome = ask_card(state, &card, &intent, amount, &operation).await?;
                // `card` is dropped here and its digits wiped.
                (outcome, true)
            }
        };
        let declined = matches!(outcome, TenderOutcome::Declined { .. });
        if recorded && !declined && intent.tenders[position].kind == TenderKind::Card {
            intent.tenders[position].expires_at =
                Some((chrono::Utc::now() + state.renewal.card_authorization).trunc_subsecs(6));
        }
        let result = recorded.then(|| answered(&operation, amount, !declined));
        intent.tenders[position].outcome = Some(outcome);
        save(state, &intent, position, result).await?;
        if declined {
            break;
        }
    }

    let decided = match decide(&intent.tenders) {
        Decision::Authorized { psp_reference } => {
            intent.renew_at = next_renewal(&intent.tenders, &amounts, state.renewal.before);
            authorized(state, intent, psp_reference).await?
        }
        Decision::Declined { reason } => declined(state, intent, reason).await?,
    };
    Ok(match decided {
        Some(intent) => {
            match intent.status {
                IntentStatus::Authorized => {
                    tracing::info!(order.id = %order_id, payment_intent.id = %intent.id, "Payment authorized.")
                }
                _ => tracing::info!(
                    order.id = %order_id, payment_intent.id = %intent.id,
                    reason = intent.decline_reason.as_deref().unwrap_or(""), "Payment declined."
                ),
            }
            Outcome::Decided(intent)
        }
        None => Outcome::AlreadyDecided,
    })
}

/// Asks the PSP to authorize `amount` of the intent's currency on `card`, with the operation's idempotency key.
pub(crate) async fn ask_card(
    state: &State,
    card: &Card,
    intent: &PaymentIntent,
    amount: i64,
    operation: &str,
) -> Result<TenderOutcome> {
    let request = AuthorizeRequest {
        card,
        amount: Money {
            amount_minor: amount,
            currency: intent.amount.currency,
        },
        idempotency_key: operation.to_owned(),
    };
    Ok(match state.psp.authorize(request).await? {
        Authorization::Approved { psp_reference } => TenderOutcome::Approved { psp_reference },
        Authorization::Declined { reason } => TenderOutcome::Declined { reason },
    })
}

/// An authorization recorded as asked, before the PSP call.
pub(crate) fn asked(operation: &str, amount: i64) -> Record {
    Record::Requested {
        id: operation.to_owned(),
        kind: Kind::Authorize,
        amount,
    }
}

/// An authorization's answer, as recorded.
pub(crate) fn answered(operation: &str, amount: i64, succeeded: bool) -> Record {
    let (id, kind) = (operation.to_owned(), Kind::Authorize);
    if succeeded {
        Record::Succeeded { id, kind, amount }
    } else {
        Record::Failed { id, kind, amount }
    }
}

fn tender_key(intent: &PaymentIntent, position: usize) -> TenderKey {
    TenderKey {
        intent: intent.id,
        tender: u32::try_from(position).unwrap_or(u32::MAX),
    }
}

/// Records an authorization as asked, before the PSP call.
pub(crate) async fn record(
    state: &State,
    intent: &PaymentIntent,
    position: usize,
    asked: Record,
) -> Result<()> {
    let key = tender_key(intent, position);
    state
        .db
        .transaction(move |conn| -> Result<()> {
            tender_ledger::record(conn, key, asked)?.map_err(Error::Ledger)?;
            Ok(())
        })
        .await
}

/// Records a tender's answer on its buckets and the intent.
pub(crate) async fn save(
    state: &State,
    intent: &PaymentIntent,
    position: usize,
    answer: Option<Record>,
) -> Result<()> {
    let key = tender_key(intent, position);
    let (id, tenders) = (intent.id, intent.tenders.clone());
    state
        .db
        .transaction(move |conn| -> Result<()> {
            if let Some(answer) = answer {
                tender_ledger::record(conn, key, answer)?.map_err(Error::Ledger)?;
            }
            intents::save_tenders(conn, id, &tenders, None)
        })
        .await
}

/// Step 1: `None` if the order's intent was decided before, else the intent and each tender ready.
async fn start(state: &State, reserved: &OrderReserved) -> Result<Option<Started>> {
    let kek = state.kek.clone();
    let limiter = state.detokenize_limit.clone();
    let reserved = reserved.clone();
    state
        .db
        .transaction(move |conn| -> Result<Option<Started>> {
            let intent = match intents::of_order(conn, reserved.order_id)? {
                Some(intent) if intent.status != IntentStatus::Authorizing => return Ok(None),
                Some(intent) => intent,
                None => {
                    let intent = new_intent(&reserved);
                    intents::insert(conn, &intent)?;
                    intent
                }
            };
            let amounts = planned_amounts(&intent.tenders, intent.amount.amount_minor);
            let Some(amounts) = amounts else {
                let mut intent = intent;
                if let Some(first) = intent.tenders.first_mut() {
                    first.outcome = Some(TenderOutcome::Declined {
                        reason: PLAN_DOES_NOT_ADD_UP.to_owned(),
                    });
                }
                let prepared = intent.tenders.iter().map(|_| Prepared::Decided).collect();
                let amounts = vec![0; intent.tenders.len()];
                return Ok(Some(Started {
                    intent,
                    amounts,
                    prepared,
                }));
            };
            let open: Vec<usize> = (0..intent.tenders.len())
                .filter(|&i| intent.tenders[i].outcome.is_none())
                .collect();
            let cards = open
                .iter()
                .filter(|&&i| matches!(reserved.tenders.get(i), Some(PaymentMethod::Card { .. })))
                .count();
            if cards > 0 {
                let permits = u32::try_from(cards).unwrap_or(u32::MAX);
                let mut bucket = limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                bucket
                    .try_acquire(permits, Instant::now())
                    .map_err(Error::RateLimited)?;
            }
            let purpose = Purpose::Authorize {
                order_id: reserved.order_id,
                payer: &reserved.payer,
                customer: reserved.customer_id.as_ref(),
            };
            let mut prepared = Vec::with_capacity(reserved.tenders.len());
            for (i, tender) in reserved.tenders.iter().enumerate() {
                prepared.push(match tender {
                    _ if !open.contains(&i) => Prepared::Decided,
                    PaymentMethod::MarketplacePrepaid { .. } => Prepared::Prepaid,
                    PaymentMethod::GiftCard { reference, .. }
                    | PaymentMethod::StoreCredit { reference, .. } => {
                        if omni_contracts::stored_value::is_reference(reference) {
                            Prepared::StoredValue(reference.clone())
                        } else {
                            Prepared::Unusable(UNKNOWN_STORED_VALUE, None)
                        }
                    }
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
            Ok(Some(Started {
                intent,
                amounts,
                prepared,
            }))
        })
        .await
}

fn new_intent(reserved: &OrderReserved) -> PaymentIntent {
    PaymentIntent {
        id: PaymentIntentId::generate(),
        order_id: reserved.order_id,
        amount: reserved.amount,
        status: IntentStatus::Authorizing,
        psp_reference: None,
        decline_reason: None,
        tenders: reserved.tenders.iter().map(TenderRecord::of).collect(),
        // Both backends keep microseconds.
        created_at: chrono::Utc::now().trunc_subsecs(6),
        payer: reserved.payer.clone(),
        customer_id: reserved.customer_id.clone(),
        renew_at: None,
    }
}

fn methods(intent: &PaymentIntent) -> Vec<PaymentMethod> {
    intent
        .tenders
        .iter()
        .map(TenderRecord::to_payment_method)
        .collect()
}

/// Every tender approved: the intent is authorized and announced, once.
async fn authorized(
    state: &State,
    intent: PaymentIntent,
    psp_reference: String,
) -> Result<Option<PaymentIntent>> {
    let decided = state
        .db
        .transaction(move |conn| -> Result<Option<PaymentIntent>> {
            if !intents::transition(
                conn,
                intent.id,
                &[IntentStatus::Authorizing],
                IntentStatus::Authorized,
                None,
            )? {
                return Ok(None);
            }
            intents::save_tenders(conn, intent.id, &intent.tenders, Some(&psp_reference))?;
            intents::set_renew_at(conn, intent.id, intent.renew_at)?;
            let event = PaymentEvent::Authorized(PaymentAuthorized {
                order_id: intent.order_id,
                payment_intent_id: intent.id,
                amount: intent.amount,
                psp_reference: psp_reference.clone(),
                methods: methods(&intent),
            });
            omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            Ok(Some(PaymentIntent {
                status: IntentStatus::Authorized,
                psp_reference: Some(psp_reference),
                ..intent
            }))
        })
        .await?;
    if decided.is_some() {
        state.relay.notify_one();
    }
    Ok(decided)
}

/// A tender declined: what was authorized is voided, then the intent is declined and announced, once.
async fn declined(state: &State, intent: PaymentIntent, reason: String) -> Result<Option<PaymentIntent>> {
    let batch = Batch {
        intent: intent.id,
        name: "void-declined".to_owned(),
        final_capture: false,
    };
    let tenders = intent.tenders.clone();
    let decided_now = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let decided = decided_now.clone();
    let ran = operations::run(
        state,
        batch,
        |_, _, money| Ok(Ok::<_, std::convert::Infallible>(plan_void_rest(money))),
        move |conn, ran| {
            if !intents::transition(
                conn,
                ran.intent.id,
                &[IntentStatus::Authorizing],
                IntentStatus::Declined,
                Some(&reason),
            )? {
                return Ok(());
            }
            decided.store(true, std::sync::atomic::Ordering::Relaxed);
            intents::save_tenders(conn, ran.intent.id, &tenders, None)?;
            let mut shown = ran.intent.clone();
            shown.tenders = tenders.clone();
            let declined = PaymentEvent::Declined(PaymentDeclined {
                order_id: ran.intent.order_id,
                payment_intent_id: ran.intent.id,
                reason: reason.clone(),
                methods: methods(&shown),
            });
            omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", declined))?;
            let voided = ran.succeeded(Kind::Void);
            if voided > 0 {
                let event = PaymentEvent::Voided(PaymentVoided {
                    order_id: ran.intent.order_id,
                    payment_intent_id: ran.intent.id,
                    amount: ran.money(voided),
                    reason: "declined".to_owned(),
                    tenders: ran.tender_amounts(),
                });
                omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            }
            Ok(())
        },
    )
    .await?;
    let Ok(ran) = ran;
    if !decided_now.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(None);
    }
    state.relay.notify_one();
    let id = ran.intent.id;
    state.db.run(move |conn| intents::find(conn, id)).await
}

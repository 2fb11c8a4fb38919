//! Renewing card authorizations before they lapse (DESIGN §6, issue 22): a pickup collected after a week, a
//! second parcel that ships late. A durable timer (`payment_intents.renew_at`, so a restart loses nothing) finds
//! intents with a card authorization due for renewal (`payments.reauthorize_before_seconds` before it lapses) and
//! authorizes the card again for what is left to capture, as a new tender linked to the old one (`replaces`); the
//! old authorization's rest is then voided. The new authorization is recorded and asked of the PSP under its
//! idempotency key like any other. If the card declines, the intent goes to `awaiting_payment` with
//! `omni.payment.reauthorization_failed` (orders shows the order awaiting payment), instead of a capture that the
//! PSP would refuse.

use std::time::Duration;

use chrono::SubsecRound;

use omni_contracts::events::{PaymentEvent, PaymentReauthorizationFailed, PaymentReauthorized};
use omni_contracts::{Envelope, PaymentIntentId};

use crate::app::operations::{self, Batch, money_of};
use crate::app::{State, authorization};
use crate::db::vault::{Detokenized, Purpose};
use crate::db::{intents, vault};
use crate::domain::charges::Step;
use crate::domain::intent::{
    IntentStatus, PaymentIntent, TenderOutcome, TenderRecord, next_renewal, renewal_due,
};
use crate::domain::ledger::Kind;
use crate::error::Result;

/// Intents renewed per round at most.
const PER_ROUND: i64 = 50;

/// How long authorizations last and when they are renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    /// A card authorization's life.
    pub card_authorization: chrono::Duration,
    /// Renewed this long before it lapses.
    pub before: chrono::Duration,
}

impl Default for Renewal {
    /// Seven days, renewed a day before.
    fn default() -> Self {
        Self {
            card_authorization: chrono::Duration::days(7),
            before: chrono::Duration::days(1),
        }
    }
}

impl Renewal {
    /// From `payments.*` settings.
    pub fn from_settings(settings: &omni_config::PaymentsSettings) -> Self {
        let seconds = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000));
        Self {
            card_authorization: seconds(settings.card_authorization_seconds),
            before: seconds(settings.reauthorize_before_seconds),
        }
    }
}

/// What renewing one intent did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewed {
    /// Nothing was due (or the intent no longer holds money).
    NothingDue,
    /// The card was authorized again: the new tender's position.
    Renewed(usize),
    /// The card declined: the intent awaits another payment.
    Declined(String),
}

/// A renewal started: the intent, the tender renewed and its renewal (positions), the amount and the card.
struct Started {
    intent: PaymentIntent,
    old: usize,
    new: usize,
    amount: i64,
    card: Detokenized,
}

/// The timer: every `every`, renews what is due, until `shutdown`.
pub fn run(
    state: State,
    every: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            match renew_due(&state).await {
                Ok(0) => {}
                Ok(renewed) => tracing::info!(intents = renewed, "Card authorizations renewed."),
                Err(e) => tracing::warn!(error = %e, "Renewing card authorizations failed; retrying."),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    })
}

/// One round: renews every intent due now (at most `PER_ROUND`). Returns how many were looked at.
pub async fn renew_due(state: &State) -> Result<usize> {
    let now = chrono::Utc::now();
    let due = state
        .db
        .run(move |conn| intents::due_for_renewal(conn, now, PER_ROUND))
        .await?;
    for id in &due {
        if let Err(e) = renew(state, *id).await {
            tracing::warn!(payment_intent.id = %id, error = %e, "Could not renew a card authorization; will retry.");
        }
    }
    Ok(due.len())
}

/// Renews the intent's card authorization that is due, if one is (see the module docs).
pub async fn renew(state: &State, id: PaymentIntentId) -> Result<Renewed> {
    let renewal = state.renewal;
    let kek = state.kek.clone();
    let now = chrono::Utc::now();
    // Start: pick the tender, add (or find again) its renewal, open the card (audited).
    let started = state
        .db
        .transaction(move |conn| -> Result<Option<Started>> {
            let Some(mut intent) = intents::find(conn, id)? else {
                return Ok(None);
            };
            let money = money_of(conn, &intent)?;
            let capturable: Vec<i64> = money.iter().map(|m| m.capturable().max(0)).collect();
            if intent.status != IntentStatus::Authorized {
                intents::set_renew_at(conn, id, None)?;
                return Ok(None);
            }
            let Some(old) = renewal_due(&intent.tenders, &capturable, renewal.before, now) else {
                intents::set_renew_at(
                    conn,
                    id,
                    next_renewal(&intent.tenders, &capturable, renewal.before),
                )?;
                return Ok(None);
            };
            let marker = u32::try_from(old).unwrap_or(u32::MAX);
            let new = match intent.tenders.iter().position(|t| t.replaces == Some(marker)) {
                Some(new) => new,
                None => {
                    let renewed = TenderRecord {
                        amount_minor: Some(capturable[old]),
                        expires_at: None,
                        replaces: Some(marker),
                        outcome: None,
                        ..intent.tenders[old].clone()
                    };
                    intent.tenders.push(renewed);
                    intents::save_tenders(conn, id, &intent.tenders, intent.psp_reference.as_deref())?;
                    intent.tenders.len() - 1
                }
            };
            let amount = intent.tenders[new].amount_minor.unwrap_or(capturable[old]);
            let reference = intent.tenders[new].reference.clone().unwrap_or_default();
            let purpose = Purpose::Authorize {
                order_id: intent.order_id,
                payer: &intent.payer,
                customer: intent.customer_id.as_ref(),
            };
            let card = vault::detokenize(conn, &kek, &reference, purpose)?;
            Ok(Some(Started {
                intent,
                old,
                new,
                amount,
                card,
            }))
        })
        .await?;
    let Some(Started {
        mut intent,
        old,
        new,
        amount,
        card,
    }) = started
    else {
        return Ok(Renewed::NothingDue);
    };

    let operation = format!("{}:authorize:{new}", intent.id);
    // Whether the authorization was recorded as asked (then its answer is recorded too).
    let (outcome, asked_psp) = match card {
        Detokenized::Card(card, _) => {
            authorization::record(state, &intent, new, authorization::asked(&operation, amount)).await?;
            (
                authorization::ask_card(state, &card, &intent, amount, &operation).await?,
                true,
            )
        }
        Detokenized::Unknown | Detokenized::NotThePayers(_) | Detokenized::Unreadable(_) => {
            let reason = "the card cannot be authorized again".to_owned();
            (TenderOutcome::Declined { reason }, false)
        }
    };
    let approved = matches!(outcome, TenderOutcome::Approved { .. });
    if approved {
        intent.tenders[new].expires_at =
            Some((chrono::Utc::now() + renewal.card_authorization).trunc_subsecs(6));
    }
    intent.tenders[new].outcome = Some(outcome.clone());
    let answer = asked_psp.then(|| authorization::answered(&operation, amount, approved));
    authorization::save(state, &intent, new, answer).await?;

    match outcome {
        TenderOutcome::Approved { .. } => {
            void_renewed(state, &intent, old, new, amount).await?;
            Ok(Renewed::Renewed(new))
        }
        TenderOutcome::Declined { reason } => {
            await_payment(state, &intent, &reason).await?;
            Ok(Renewed::Declined(reason))
        }
    }
}

/// The old authorization's rest is voided, the renewal announced and the next one scheduled.
async fn void_renewed(
    state: &State,
    intent: &PaymentIntent,
    old: usize,
    new: usize,
    amount: i64,
) -> Result<()> {
    let batch = Batch {
        intent: intent.id,
        name: format!("void-renewed-{old}"),
        final_capture: false,
    };
    let renewal = state.renewal;
    let expires_at = intent.tenders[new].expires_at;
    let Ok(_) = operations::run(
        state,
        batch,
        move |_, _, money| {
            let rest = money.get(old).map(|m| m.capturable().max(0)).unwrap_or(0);
            let steps = (rest > 0)
                .then_some(Step {
                    tender: old,
                    kind: Kind::Void,
                    amount: rest,
                })
                .into_iter()
                .collect();
            Ok(Ok::<_, std::convert::Infallible>(steps))
        },
        move |conn, ran| {
            let money = money_of(conn, &ran.intent)?;
            let capturable: Vec<i64> = money.iter().map(|m| m.capturable().max(0)).collect();
            let stored = intents::find(conn, ran.intent.id)?
                .map(|i| i.tenders)
                .unwrap_or_default();
            intents::set_renew_at(
                conn,
                ran.intent.id,
                next_renewal(&stored, &capturable, renewal.before),
            )?;
            if ran.fresh {
                let event = PaymentEvent::Reauthorized(PaymentReauthorized {
                    order_id: ran.intent.order_id,
                    payment_intent_id: ran.intent.id,
                    tender: u32::try_from(new).unwrap_or(u32::MAX),
                    replaces: u32::try_from(old).unwrap_or(u32::MAX),
                    amount: ran.money(amount),
                    expires_at,
                });
                omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            }
            Ok(())
        },
    )
    .await?;
    state.relay.notify_one();
    tracing::info!(order.id = %intent.order_id, payment_intent.id = %intent.id, tender = new, replaces = old, "Card authorization renewed.");
    Ok(())
}

/// The card declined its renewal: the intent awaits another payment, announced once.
async fn await_payment(state: &State, intent: &PaymentIntent, reason: &str) -> Result<()> {
    let (id, order_id, reason) = (intent.id, intent.order_id, reason.to_owned());
    let moved = state
        .db
        .transaction(move |conn| -> Result<bool> {
            if !intents::transition(
                conn,
                id,
                &[IntentStatus::Authorized],
                IntentStatus::AwaitingPayment,
                Some(&reason),
            )? {
                return Ok(false);
            }
            intents::set_renew_at(conn, id, None)?;
            let event = PaymentEvent::ReauthorizationFailed(PaymentReauthorizationFailed {
                order_id,
                payment_intent_id: id,
                reason,
            });
            omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            Ok(true)
        })
        .await?;
    if moved {
        state.relay.notify_one();
        tracing::warn!(order.id = %order_id, payment_intent.id = %id, "A card authorization could not be renewed; the order awaits payment.");
    }
    Ok(())
}

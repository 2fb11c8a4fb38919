//! Capturing what was delivered and releasing the rest (DESIGN §6): each part of an order that ships or is handed
//! over has its value captured from the tenders in charge order; the order's last part makes the final capture,
//! and what stays authorized is voided. An order that fails or is cancelled has everything it holds voided. Each
//! is a batch of PSP operations ([`super::operations`]) announced once on `omni.payments.v1`.

use omni_contracts::events::{PaymentCaptured, PaymentEvent, PaymentVoided};
use omni_contracts::{Envelope, FulfillmentId, OrderId};

use crate::app::State;
use crate::app::operations::{self, Batch, Ran};
use crate::db::intents;
use crate::domain::charges::{plan_capture, plan_void_rest};
use crate::domain::intent::{IntentStatus, PaymentIntent, charge_order};
use crate::domain::ledger::Kind;
use crate::error::Result;

/// What left for the customer, to be paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The part that left (absent when an order ends without a part leaving, or on older events).
    pub fulfillment_id: Option<FulfillmentId>,
    /// Its value in minor units; `None` (older events): everything still authorized.
    pub amount: Option<i64>,
    /// The order's last part: after this capture, what stays authorized is voided.
    pub last: bool,
}

type Infallible = std::convert::Infallible;

/// Captures a delivery's value (see the module docs). Returns what was captured now (0 on a replay).
pub async fn capture_delivery(state: &State, order_id: OrderId, delivery: Delivery) -> Result<i64> {
    // A retry of the last delivery finds the intent captured already and resumes its voids. An intent awaiting
    // payment (its renewal declined) is still captured while its old authorization holds: goods that left are
    // charged for as far as the PSP allows.
    let holding: &[IntentStatus] = if delivery.last {
        &[
            IntentStatus::Authorized,
            IntentStatus::AwaitingPayment,
            IntentStatus::Captured,
        ]
    } else {
        &[IntentStatus::Authorized, IntentStatus::AwaitingPayment]
    };
    let Some(intent) = intent_in(state, order_id, holding).await? else {
        return Ok(0);
    };
    let name = match (delivery.last, delivery.fulfillment_id) {
        (true, _) => "capture-final".to_owned(),
        (false, Some(part)) => format!("capture-{part}"),
        // A part without a name that is not the last: older events never send one; nothing to tell it by.
        (false, None) => return Ok(0),
    };
    let batch = Batch {
        intent: intent.id,
        name,
        final_capture: delivery.last,
    };
    let order = charge_order(&intent.tenders);
    let ran = operations::run(
        state,
        batch,
        move |_, _, money| {
            let asked = delivery
                .amount
                .unwrap_or_else(|| money.iter().map(|m| m.capturable().max(0)).sum());
            let (steps, short) = plan_capture(money, &order, asked);
            if short > 0 {
                tracing::warn!(
                    order.id = %order_id, asked, short,
                    "A delivery is worth more than is left authorized; capturing what is."
                );
            }
            Ok(Ok::<_, Infallible>(steps))
        },
        move |conn, ran| {
            let announce = if delivery.last {
                intents::transition(
                    conn,
                    ran.intent.id,
                    &[IntentStatus::Authorized, IntentStatus::AwaitingPayment],
                    IntentStatus::Captured,
                    None,
                )?
            } else {
                ran.fresh && ran.succeeded(Kind::Capture) > 0
            };
            if announce {
                let event = PaymentEvent::Captured(PaymentCaptured {
                    order_id,
                    payment_intent_id: ran.intent.id,
                    amount: ran.money(ran.succeeded(Kind::Capture)),
                    fulfillment_id: delivery.fulfillment_id,
                    final_capture: delivery.last,
                    tenders: ran.tender_amounts(),
                });
                omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            }
            Ok(())
        },
    )
    .await?;
    let Ok(ran) = ran;
    let captured = if ran.fresh {
        ran.succeeded(Kind::Capture)
    } else {
        0
    };
    if ran.fresh || delivery.last {
        tracing::info!(
            order.id = %order_id, payment_intent.id = %intent.id, captured, last = delivery.last,
            "Delivery captured."
        );
    }
    if delivery.last {
        void_rest(state, &intent, "capture-final-void", "final_capture", None).await?;
    }
    Ok(captured)
}

/// Voids everything an order that failed or was cancelled still holds. Returns what was voided now.
pub async fn void_order(state: &State, order_id: OrderId, why: &str) -> Result<i64> {
    let holding = [IntentStatus::Authorized, IntentStatus::AwaitingPayment];
    let Some(intent) = intent_in(state, order_id, &holding).await? else {
        return Ok(0);
    };
    void_rest(state, &intent, "void-order", why, Some(IntentStatus::Voided)).await
}

/// The voids of what `intent` holds and has not taken, as batch `name`, announced with `why`; the intent moves
/// from authorized to `then` when given.
async fn void_rest(
    state: &State,
    intent: &PaymentIntent,
    name: &str,
    why: &str,
    then: Option<IntentStatus>,
) -> Result<i64> {
    let batch = Batch {
        intent: intent.id,
        name: name.to_owned(),
        final_capture: false,
    };
    let why = why.to_owned();
    let Ok(ran): std::result::Result<Ran, Infallible> = operations::run(
        state,
        batch,
        |_, _, money| Ok(Ok::<_, Infallible>(plan_void_rest(money))),
        move |conn, ran| {
            let moved = match then {
                Some(to) => intents::transition(
                    conn,
                    ran.intent.id,
                    &[IntentStatus::Authorized, IntentStatus::AwaitingPayment],
                    to,
                    None,
                )?,
                None => true,
            };
            let voided = ran.succeeded(Kind::Void);
            if moved && ran.fresh && voided > 0 {
                let event = PaymentEvent::Voided(PaymentVoided {
                    order_id: ran.intent.order_id,
                    payment_intent_id: ran.intent.id,
                    amount: ran.money(voided),
                    reason: why,
                    tenders: ran.tender_amounts(),
                });
                omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            }
            Ok(())
        },
    )
    .await?;
    let voided = if ran.fresh { ran.succeeded(Kind::Void) } else { 0 };
    if voided > 0 {
        tracing::info!(order.id = %intent.order_id, payment_intent.id = %intent.id, voided, "Authorization voided.");
    }
    Ok(voided)
}

/// The order's intent when it is in one of `statuses`, else `None`.
async fn intent_in(
    state: &State,
    order_id: OrderId,
    statuses: &[IntentStatus],
) -> Result<Option<PaymentIntent>> {
    let intent = state
        .db
        .run(move |conn| intents::of_order(conn, order_id))
        .await?;
    Ok(intent.filter(|i| statuses.contains(&i.status)))
}

//! `omni.payments.v1`: `refunded` of a return's refund (`return-<id>`), or `store_credit_issued` for it, settles the
//! return; a refused one is logged for a manager (the return stays `graded`). An exchange's credit
//! (`exchange-<id>`) issued releases its replacement order, refused withdraws it. Anything else → acknowledge.

use omni_contracts::events::PaymentEvent;
use omni_contracts::returns::StoreCreditRef;
use omni_contracts::{Money, ReturnId};
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::exchange::{self, CREDIT_PREFIX};
use crate::app::returns::REFUND_PREFIX;
use crate::app::settlement;
use crate::error::ReturnError;
use crate::metrics::Outcome;

/// Settles returns once their refunds are made.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<PaymentEvent>()?;
    let return_of = |refund_id: &str| {
        refund_id
            .strip_prefix(REFUND_PREFIX)
            .and_then(|id| ReturnId::parse(id).ok())
    };
    let exchange_of = |issue_id: &str| {
        issue_id
            .strip_prefix(CREDIT_PREFIX)
            .and_then(|id| ReturnId::parse(id).ok())
    };
    let event_id = event.id.to_string();
    match event.data {
        PaymentEvent::StoreCreditIssued(issued) if exchange_of(&issued.issue_id).is_some() => {
            let Some(id) = exchange_of(&issued.issue_id) else {
                return Ok(());
            };
            let credit = StoreCreditRef {
                reference: issued.reference,
                last4: issued.last4,
            };
            step(&state, event_id, move |conn| {
                exchange::credit_issued(conn, id, credit)
            })
            .await?;
        }
        PaymentEvent::RefundRefused(refused) if exchange_of(&refused.refund_id).is_some() => {
            let Some(id) = exchange_of(&refused.refund_id) else {
                return Ok(());
            };
            tracing::warn!(r#return.id = %id, order.id = %refused.order_id, reason = %refused.reason,
                "Payments refused an exchange's credit; the replacement is withdrawn, the return stays graded for a manager.");
            step(&state, event_id, move |conn| {
                exchange::credit_refused(conn, id, &refused.reason).map(|()| None)
            })
            .await?;
        }
        PaymentEvent::Refunded(refunded) => {
            let Some(id) = return_of(&refunded.refund_id) else {
                return Ok(());
            };
            settled(&state, event_id, id, refunded.amount, None).await?;
        }
        PaymentEvent::StoreCreditIssued(issued) => {
            let Some(id) = return_of(&issued.issue_id) else {
                return Ok(());
            };
            let credit = StoreCreditRef {
                reference: issued.reference,
                last4: issued.last4,
            };
            settled(&state, event_id, id, issued.amount, Some(credit)).await?;
        }
        PaymentEvent::RefundRefused(refused) => {
            if let Some(id) = return_of(&refused.refund_id) {
                tracing::warn!(r#return.id = %id, order.id = %refused.order_id, reason = %refused.reason,
                    "Payments refused a return's refund; the return stays graded for a manager.");
            }
        }
        _ => {}
    }
    Ok(())
}

/// Settles the return once per payments event, and counts it: a return whose exchange goes on is settled once its
/// credit is issued and the rest refunded.
async fn settled(
    state: &State,
    event_id: String,
    id: ReturnId,
    amount: omni_contracts::Money,
    credit: Option<StoreCreditRef>,
) -> Result<(), ReturnError> {
    step(state, event_id, move |conn| {
        let exchanging = crate::db::returns::find(conn, id)?
            .and_then(|found| found.exchange)
            .is_some_and(|e| e.status != omni_contracts::returns::ExchangeStatus::Cancelled);
        if exchanging {
            exchange::rest_refunded(conn, id, amount)
        } else {
            Ok(settlement::settle(conn, id, amount, credit)?.then_some(amount))
        }
    })
    .await
}

/// Applies one payments event to a return once (by its event id); counts the return settled, for what, when it
/// did.
async fn step(
    state: &State,
    event_id: String,
    apply: impl FnOnce(&mut omni_db::DbConnection) -> Result<Option<Money>, ReturnError> + Send + 'static,
) -> Result<(), ReturnError> {
    let settled = state
        .db
        .transaction(move |conn| -> Result<Option<Money>, ReturnError> {
            if !omni_db::inbox::claim(conn, "returns.payments", &event_id)? {
                return Ok(None);
            }
            apply(conn)
        })
        .await?;
    // Whatever the step did, it may have written events (an exchange released or withdrawn).
    state.relay.notify_one();
    if let Some(amount) = settled {
        state.metrics.count(Outcome::Settled);
        state.metrics.refunded(amount);
    }
    Ok(())
}

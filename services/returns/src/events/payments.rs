//! `omni.payments.v1`: `refunded` of a return's refund (`return-<id>`), or `store_credit_issued` for it, settles the
//! return; a refused one is logged for a manager (the return stays `graded`); anything else → acknowledge.

use omni_contracts::ReturnId;
use omni_contracts::events::PaymentEvent;
use omni_contracts::returns::StoreCreditRef;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::returns::{self, REFUND_PREFIX};
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
    let event_id = event.id.to_string();
    match event.data {
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

/// Settles the return once per payments event, and counts it.
async fn settled(
    state: &State,
    event_id: String,
    id: ReturnId,
    amount: omni_contracts::Money,
    credit: Option<StoreCreditRef>,
) -> Result<(), ReturnError> {
    let settled = state
        .db
        .transaction(move |conn| -> Result<bool, ReturnError> {
            Ok(omni_db::inbox::claim(conn, "returns.payments", &event_id)?
                && returns::settle(conn, id, amount, credit)?)
        })
        .await?;
    if settled {
        state.relay.notify_one();
        state.metrics.count(Outcome::Settled);
        state.metrics.refunded(amount);
    }
    Ok(())
}

//! `omni.payments.v1`: `refunded` of a return's refund (`return-<id>`) settles the return; a refused one is logged
//! for a manager (the return stays `graded`); anything else → acknowledge.

use omni_contracts::ReturnId;
use omni_contracts::events::PaymentEvent;
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
    match event.data {
        PaymentEvent::Refunded(refunded) => {
            let Some(id) = return_of(&refunded.refund_id) else {
                return Ok(());
            };
            let event_id = event.id.to_string();
            let amount = refunded.amount;
            let settled = state
                .db
                .transaction(move |conn| -> Result<bool, ReturnError> {
                    Ok(omni_db::inbox::claim(conn, "returns.payments", &event_id)?
                        && returns::settle(conn, id, amount)?)
                })
                .await?;
            if settled {
                state.relay.notify_one();
                state.metrics.count(Outcome::Settled);
                state.metrics.refunded(amount);
            }
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

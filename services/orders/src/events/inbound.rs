//! Partner marketplace intake on `omni.orders.inbound.v1`: each partner order is taken exactly once.

use omni_contracts::events::InboundOrderEvent;
use omni_kafka::{HandlerError, Incoming};

use super::accept::{AcceptError, PartnerRef, accept};
use crate::State;

/// Takes a partner order; a malformed or invalid one goes to the DLQ with the reason.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<InboundOrderEvent>()?;
    let InboundOrderEvent::Submitted(partner_order) = event.data;
    if partner_order.partner_order_id.is_empty() || partner_order.partner_order_id.len() > 128 {
        return Err(HandlerError::Permanent(
            "partner_order_id: must be 1 to 128 characters".into(),
        ));
    }
    let partner = PartnerRef {
        partner_id: partner_order.partner_id,
        partner_order_id: partner_order.partner_order_id,
    };
    let outcome = state
        .db
        .transaction(move |conn| accept(conn, partner_order.order, Some(partner)))
        .await;
    match outcome {
        Ok((order, created)) => {
            if created {
                state.relay.notify_one();
            } else {
                tracing::info!(order.id = %order.id, "Duplicate partner order acknowledged with the first order.");
            }
            Ok(())
        }
        Err(AcceptError::Invalid(reason)) => Err(HandlerError::Permanent(reason)),
        Err(AcceptError::Db(e)) if is_duplicate_race(&e) => Err(HandlerError::Transient(e.to_string())),
        Err(AcceptError::Db(e)) => Err(HandlerError::Transient(e.to_string())),
    }
}

/// Two deliveries of one partner order racing: the unique index stops the second; its retry finds the first.
fn is_duplicate_race(e: &omni_db::Error) -> bool {
    matches!(e, omni_db::Error::Query(q) if omni_db::is_unique_violation(q))
}

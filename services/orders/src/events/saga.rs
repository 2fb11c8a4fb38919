//! The saga consumer: replies from allocation, payments and fulfillment, decoded into saga inputs and applied
//! by `app::saga`.

use omni_contracts::events::*;
use omni_contracts::{OrderId, Topic};
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::saga::{Moved, advance};
use crate::domain::saga::SagaInput;

/// Applies one reply to its order, writing the next event in the same transaction.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    handle_batch(state, vec![incoming]).await
}

/// Applies the replies already waiting, in order, in one transaction (one commit for the batch). A reply that
/// fails fails the batch; the consumer then hands each message to [`handle`] alone.
pub async fn handle_batch(state: State, batch: Vec<Incoming>) -> Result<(), HandlerError> {
    let mut inputs = Vec::new();
    for incoming in &batch {
        inputs.extend(saga_inputs(incoming)?);
    }
    let moved = state
        .db
        .transaction(move |conn| -> Result<Vec<Moved>, crate::error::SagaFailure> {
            inputs
                .iter()
                .map(|(key, order_id, input)| advance(conn, key, *order_id, input))
                .collect()
        })
        .await?;
    for m in moved {
        state.count(m);
    }
    state.changed();
    Ok(())
}

/// What a reply means to the orders it concerns: `(inbox key, order, input)`, one per order (a shortage can hit
/// several orders: each is routed again on its own).
fn saga_inputs(incoming: &Incoming) -> Result<Vec<(String, OrderId, SagaInput)>, HandlerError> {
    let (event_id, order_id, input) = match incoming.topic {
        Topic::Reservations => {
            let e = incoming.decode::<ReservationEvent>()?;
            let order_id = match &e.data {
                ReservationEvent::Held(h) => h.order_id,
                ReservationEvent::Rejected(r) => r.order_id,
                ReservationEvent::Expired(x) => x.order_id,
                ReservationEvent::Shortage(s) => {
                    return Ok(s
                        .orders
                        .iter()
                        .map(|order_id| {
                            (
                                format!("{}:{order_id}", e.id),
                                *order_id,
                                SagaInput::Reservation(e.data.clone()),
                            )
                        })
                        .collect());
                }
            };
            (e.id, order_id, SagaInput::Reservation(e.data))
        }
        Topic::Payments => {
            let e = incoming.decode::<PaymentEvent>()?;
            let order_id = match &e.data {
                PaymentEvent::Authorized(a) => a.order_id,
                PaymentEvent::Declined(d) => d.order_id,
                PaymentEvent::Captured(c) => c.order_id,
                // Not steps of the saga, but the order shows the money they moved.
                PaymentEvent::Voided(v) => v.order_id,
                PaymentEvent::Refunded(r) => r.order_id,
                PaymentEvent::ReauthorizationFailed(f) => f.order_id,
                PaymentEvent::RefundRefused(_)
                | PaymentEvent::RefundRequested(_)
                | PaymentEvent::StoreCreditRequested(_)
                | PaymentEvent::StoreCreditIssued(_)
                | PaymentEvent::Reauthorized(_)
                | PaymentEvent::ReconcileDifference(_) => return Ok(vec![]),
            };
            (e.id, order_id, SagaInput::Payment(e.data))
        }
        Topic::Fulfillment => {
            let e = incoming.decode::<FulfillmentEvent>()?;
            let order_id = match &e.data {
                FulfillmentEvent::Sourced(s) => s.order_id,
                FulfillmentEvent::Unsourceable(u) => u.order_id,
                FulfillmentEvent::Released(r) => r.order_id,
                FulfillmentEvent::Completed(c) => c.order_id,
                FulfillmentEvent::Refused(r) => r.order_id,
                FulfillmentEvent::Cancelled(c) => c.order_id,
                // The store's work on a released order: the order moves on when it is completed or cancelled.
                FulfillmentEvent::TaskChanged(_)
                | FulfillmentEvent::ReadyForPickup(_)
                | FulfillmentEvent::SlaBreached(_)
                | FulfillmentEvent::PickupReminder(_)
                // Allocation gives back a hold's units; the new part they go to is announced by its `sourced`.
                | FulfillmentEvent::HoldReduced(_) => return Ok(vec![]),
            };
            (e.id, order_id, SagaInput::Fulfillment(e.data))
        }
        other => {
            return Err(HandlerError::Permanent(format!(
                "orders does not consume {}",
                other.default_name()
            )));
        }
    };
    Ok(vec![(event_id.to_string(), order_id, input)])
}

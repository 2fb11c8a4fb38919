//! Moving an order through the saga: one input (a reply, a timeout, a cancel) applied once per event id, the
//! order's next state and event written in the caller's transaction.

use omni_contracts::api::OrderStatus;
use omni_contracts::events::*;
use omni_contracts::{Envelope, Money, OrderId};
use omni_kafka::HandlerError;

use crate::db::orders::{self, StepUpdate};
use crate::domain::payment_methods::with_reported_cards;
use crate::domain::saga::{SagaInput, Step, step};

/// An order's move to a new state: `(channel, state)`, for `omni_orders_total`.
pub type Moved = Option<(String, String)>;

/// Applies one saga input to its order in the caller's transaction (once per `event_id`); returns the order's
/// channel and new state when the state changed.
pub fn advance(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    order_id: OrderId,
    input: &SagaInput,
) -> Result<Moved, HandlerError> {
    if !omni_db::inbox::claim(conn, "orders.saga", event_id)? {
        return Ok(None);
    }
    let Some(row) = orders::find(conn, order_id)? else {
        return Err(HandlerError::Permanent(format!("order {order_id} is unknown")));
    };
    let mut order = row.to_order()?;
    if let SagaInput::Payment(
        PaymentEvent::Authorized(PaymentAuthorized { methods, .. })
        | PaymentEvent::Declined(PaymentDeclined { methods, .. }),
    ) = input
        && let Some(tenders) = with_reported_cards(&order.request.tenders, methods)
    {
        // What payments found of the order's cards (brand, last four, expiry), for the order to show.
        order.request.tenders = tenders;
        let request = serde_json::to_string(&order.request)
            .map_err(|e| HandlerError::Permanent(format!("order {order_id}: {e}")))?;
        let update = StepUpdate {
            request: Some(request),
            ..StepUpdate::default()
        };
        orders::apply(conn, order_id, &update)?;
    }
    let reroutes = u32::try_from(row.reroutes).unwrap_or(0);
    let order_partner = order.partner_id.clone();
    let publish = |conn: &mut omni_db::DbConnection, event: OrderEvent| {
        // Every state change of a partner's order carries the partner in `ce_partnerid`.
        omni_kafka::outbox::enqueue(
            conn,
            &Envelope::new("orders", event).for_partner(order_partner.as_ref()),
        )
    };
    let (mut entered, before) = (None, order.status);
    match step(order.status, reroutes, input) {
        Step::Ignore => {
            tracing::debug!(order.id = %order_id, status = order.status.as_str(), "Saga input not for this state; ignored.");
        }
        Step::Note => {
            if let SagaInput::Fulfillment(FulfillmentEvent::Sourced(s)) = input {
                let update = StepUpdate {
                    location_id: Some(s.location_id.to_string()),
                    fulfillment_id: Some(s.fulfillment_id.to_string()),
                    ..StepUpdate::default()
                };
                apply(conn, order_id, &update, &mut entered)?;
            }
        }
        Step::CancelAgain => {
            let by = row.failure_reason.clone().unwrap_or_else(|| "cancelled".into());
            publish(conn, OrderEvent::Cancelled(OrderCancelled { order_id, by }))?;
            tracing::info!(order.id = %order_id, "A hold or authorization arrived after the cancellation; announced it again.");
        }
        Step::KeepAuthorization => {
            if let SagaInput::Payment(PaymentEvent::Authorized(auth)) = input {
                let update = StepUpdate {
                    payment_intent_id: Some(auth.payment_intent_id.to_string()),
                    ..StepUpdate::default()
                };
                apply(conn, order_id, &update, &mut entered)?;
            }
        }
        Step::Reserve => {
            let SagaInput::Reservation(ReservationEvent::Held(held)) = input else {
                return Ok(None);
            };
            // Routed again after a shortage with its authorization granted: that stands (same order, same
            // amount), so the order goes straight back to being released at its new node.
            let authorized = row
                .payment_intent_id
                .as_deref()
                .map(omni_contracts::PaymentIntentId::parse)
                .transpose()?;
            let update = StepUpdate {
                status: Some(if authorized.is_some() {
                    OrderStatus::PaymentAuthorized
                } else {
                    OrderStatus::Reserved
                }),
                location_id: Some(held.location_id.to_string()),
                reservation_id: Some(held.reservation_id.to_string()),
                ..StepUpdate::default()
            };
            apply(conn, order_id, &update, &mut entered)?;
            let event = match authorized {
                Some(payment_intent_id) => OrderEvent::PaymentAuthorized(OrderPaymentAuthorized {
                    order_id,
                    payment_intent_id,
                    location_id: held.location_id.clone(),
                }),
                None => OrderEvent::Reserved(OrderReserved {
                    order_id,
                    reservation_id: held.reservation_id,
                    location_id: held.location_id.clone(),
                    amount: Money {
                        amount_minor: order.total_minor,
                        currency: order.request.currency,
                    },
                    tenders: order.request.tenders.clone(),
                    payer: order.placed_by.clone(),
                    customer_id: order.request.customer.id.clone(),
                }),
            };
            publish(conn, event)?;
        }
        Step::Authorize => {
            let SagaInput::Payment(PaymentEvent::Authorized(auth)) = input else {
                return Ok(None);
            };
            let Some(location_id) = order.location_id.clone() else {
                return Err(HandlerError::Permanent(format!(
                    "order {order_id} was authorized without a node"
                )));
            };
            let update = StepUpdate {
                status: Some(OrderStatus::PaymentAuthorized),
                payment_intent_id: Some(auth.payment_intent_id.to_string()),
                ..StepUpdate::default()
            };
            apply(conn, order_id, &update, &mut entered)?;
            publish(
                conn,
                OrderEvent::PaymentAuthorized(OrderPaymentAuthorized {
                    order_id,
                    payment_intent_id: auth.payment_intent_id,
                    location_id,
                }),
            )?;
        }
        Step::Release => {
            let SagaInput::Fulfillment(FulfillmentEvent::Released(r)) = input else {
                return Ok(None);
            };
            apply(
                conn,
                order_id,
                &StepUpdate {
                    status: Some(OrderStatus::Released),
                    ..StepUpdate::default()
                },
                &mut entered,
            )?;
            publish(
                conn,
                OrderEvent::Released(OrderReleased {
                    order_id,
                    fulfillment_id: r.fulfillment_id,
                    location_id: r.location_id.clone(),
                }),
            )?;
            tracing::info!(order.id = %order_id, location.id = %r.location_id, "Order released to its node.");
        }
        Step::Fulfil => {
            let SagaInput::Fulfillment(FulfillmentEvent::Completed(c)) = input else {
                return Ok(None);
            };
            apply(
                conn,
                order_id,
                &StepUpdate {
                    status: Some(OrderStatus::Fulfilled),
                    ..StepUpdate::default()
                },
                &mut entered,
            )?;
            publish(
                conn,
                OrderEvent::Fulfilled(OrderFulfilled {
                    order_id,
                    location_id: c.location_id.clone(),
                    how: c.how,
                }),
            )?;
            tracing::info!(order.id = %order_id, location.id = %c.location_id, how = ?c.how, "Order fulfilled.");
        }
        Step::Complete => {
            apply(
                conn,
                order_id,
                &StepUpdate {
                    status: Some(OrderStatus::Completed),
                    ..StepUpdate::default()
                },
                &mut entered,
            )?;
            publish(conn, OrderEvent::Completed(OrderCompleted { order_id }))?;
            tracing::info!(order.id = %order_id, "Order completed: fulfilled and paid.");
        }
        Step::Reroute { reason, exclude } => {
            let update = StepUpdate {
                status: Some(OrderStatus::Accepted),
                exclude: Some(exclude.to_string()),
                ..StepUpdate::default()
            };
            apply(conn, order_id, &update, &mut entered)?;
            let mut excluded = row.excluded();
            excluded.push(exclude.clone());
            publish(
                conn,
                OrderEvent::RerouteRequested(OrderRerouteRequested {
                    order,
                    exclude: excluded,
                    reason: reason.clone(),
                    attempt: reroutes + 1,
                }),
            )?;
            tracing::info!(order.id = %order_id, location.id = %exclude, reason = %reason, "Hold refused; routing again.");
        }
        Step::Fail(reason) => {
            let update = StepUpdate {
                status: Some(OrderStatus::Failed),
                failure_reason: Some(reason.clone()),
                ..StepUpdate::default()
            };
            apply(conn, order_id, &update, &mut entered)?;
            publish(
                conn,
                OrderEvent::Failed(OrderFailed {
                    order_id,
                    reason: reason.clone(),
                }),
            )?;
            tracing::info!(order.id = %order_id, reason = %reason, "Order failed.");
        }
    }
    Ok(entered
        .filter(|status| *status != before)
        .map(|status: OrderStatus| (row.channel.clone(), status.as_str().to_owned())))
}

/// Applies a step's update to the order, noting the state it enters.
fn apply(
    conn: &mut omni_db::DbConnection,
    order_id: OrderId,
    update: &StepUpdate,
    entered: &mut Option<OrderStatus>,
) -> omni_db::Result<()> {
    if update.status.is_some() {
        *entered = update.status;
    }
    orders::apply(conn, order_id, update)
}

//! Moving an order through the saga: one input (a reply, a timeout, a cancel) applied once per event id, the
//! order's next state and event written in the caller's transaction.

use omni_contracts::api::OrderStatus;
use omni_contracts::{Envelope, OrderId};

use crate::db::orders;
use crate::domain::saga::{SagaInput, SagaOrder, Step};
use crate::error::SagaFailure;

/// An order's move to a new state: `(channel, state)`, for `omni_orders_total`.
pub type Moved = Option<(String, String)>;

/// Applies one saga input to its order in the caller's transaction (once per `event_id`); returns the order's
/// channel and new state when the state changed.
pub fn advance(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    order_id: OrderId,
    input: &SagaInput,
) -> Result<Moved, SagaFailure> {
    if !omni_db::inbox::claim(conn, "orders.saga", event_id)? {
        return Ok(None);
    }
    let Some(row) = orders::find(conn, order_id)? else {
        return Err(SagaFailure::UnknownOrder(order_id));
    };
    let order = SagaOrder {
        order: row.to_order()?,
        reroutes: u32::try_from(row.reroutes).unwrap_or(0),
        excluded: orders::exclusions(conn, order_id)?,
        payment_intent_id: row.payment_intent_id,
        parts: orders::parts(conn, order_id)?,
    };
    let (before, partner) = (order.order.status, order.order.partner_id.clone());
    let (step, plan) = order.decide(input)?;
    log(order_id, before, &step);
    if !plan.change.is_empty() {
        orders::apply(conn, order_id, &plan.change)?;
    }
    if let Some(event) = plan.announce {
        // Every state change of a partner's order carries the partner in `ce_partnerid`.
        omni_kafka::outbox::enqueue(
            conn,
            &Envelope::new("orders", event).for_partner(partner.as_ref()),
        )?;
    }
    Ok(plan
        .change
        .status
        .filter(|status| *status != before)
        .map(|status| (row.channel, status.as_str().to_owned())))
}

/// Says what the step does to the order, at the level an operator follows an order by.
fn log(order_id: OrderId, status: OrderStatus, step: &Step) {
    match step {
        Step::Ignore => {
            tracing::debug!(order.id = %order_id, status = status.as_str(), "Saga input not for this state; ignored.");
        }
        Step::CancelAgain => {
            tracing::info!(order.id = %order_id, "A hold or authorization arrived after the cancellation; announced it again.");
        }
        Step::Release { location_id, .. } => {
            tracing::info!(order.id = %order_id, location.id = %location_id, "Order released to its node.");
        }
        Step::Fulfil { location_id, how, .. } => {
            tracing::info!(order.id = %order_id, location.id = %location_id, how = ?how, "Order fulfilled.");
        }
        Step::Complete => tracing::info!(order.id = %order_id, "Order completed: fulfilled and paid."),
        Step::AwaitPayment { reason } => {
            tracing::warn!(order.id = %order_id, reason = %reason, "A card authorization could not be renewed; the order awaits payment.");
        }
        Step::Reroute {
            reason,
            exclude,
            part,
            ..
        } => {
            let part = part.map(|p| p.to_string()).unwrap_or_default();
            tracing::info!(order.id = %order_id, location.id = %exclude, part, reason = %reason, "Node could not take it; routing again.");
        }
        Step::Drop { part, reason, .. } => {
            tracing::info!(order.id = %order_id, part = %part, reason = %reason, "No node can take this part; the order goes on without it.");
        }
        Step::ReleaseReplacement { location_id, .. } => {
            tracing::info!(order.id = %order_id, location.id = %location_id, "Part routed again is held; releasing it.");
        }
        Step::Fail(reason) => tracing::info!(order.id = %order_id, reason = %reason, "Order failed."),
        Step::Cancel { reason } => {
            tracing::info!(order.id = %order_id, reason = %reason, "Its node stopped the work; order cancelled.");
        }
        Step::Note { .. }
        | Step::Track { .. }
        | Step::KeepAuthorization(_)
        | Step::Reserve { .. }
        | Step::Authorize(_) => {}
    }
}

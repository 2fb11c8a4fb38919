//! Sourcing and releasing orders: an order (or a part of it) routed when accepted or sent back (`app::routing`
//! decides and writes the plan), released to its nodes once paid, and stopped when cancelled, with the events
//! they announce, in the caller's transaction.

use omni_contracts::events::*;
use omni_contracts::{Envelope, FulfillmentId, LocationId};

use crate::app::routing::{Sourcing, decide, with_units, write_plan};
use crate::db::fulfillments::{self, FulfillmentRow};
use crate::db::routed_orders;
use crate::db::tasks::{self, StoredTask};
use crate::domain::FulfillmentStatus;
use crate::domain::routing::cost::CostModel;
use crate::domain::routing::what_if::RoutedRequest;
use crate::domain::task::Task;
use crate::error::SourcingError;

/// What to route: a whole order, or one part of a split order again.
#[derive(Debug, Clone)]
pub struct Routing<'a> {
    /// The order.
    pub order: &'a omni_contracts::api::Order,
    /// Nodes not to choose (they refused it before).
    pub exclude: &'a [LocationId],
    /// The part to route again (its lines only), or `None` for the whole order.
    pub part: Option<FulfillmentId>,
}

/// Routes an order (accepted, or sent back without the `exclude`d nodes after a refusal, whole or one part of
/// it), once per event id: refuses the fulfillments it replaces, chooses the cheapest plan with its explanation
/// and announces `omni.fulfillment.sourced` once per part (or `unsourceable`), in the caller's transaction.
pub fn source(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    routing: &Routing<'_>,
    rules: &[omni_contracts::routing::RoutingRule],
    model: &CostModel,
) -> Result<(), SourcingError> {
    if !omni_db::inbox::claim(conn, "fulfillment.orders", event_id)? {
        return Ok(());
    }
    let order = routing.order;
    // Routing again: the refused attempt (or part) is over, so a later release must not pick it.
    let mut lines = order.request.lines.clone();
    let mut exclude = routing.exclude.to_vec();
    for f in fulfillments::for_order(conn, order.id)? {
        if routing.part.is_some_and(|part| part != f.id) {
            // The order's other parts keep their nodes; a node serves one part of an order, so that a node
            // refusing a part (and its hold released there) never takes another part's hold with it.
            if matches!(
                f.status,
                FulfillmentStatus::Sourced | FulfillmentStatus::Released | FulfillmentStatus::Completed
            ) {
                exclude.push(f.location_id.clone());
            }
            continue;
        }
        if routing.part.is_some() {
            // The part's own units (a part made of units routed away from a store holds fewer than the line).
            let work = fulfillments::work(conn, f.id)?;
            lines = with_units(&order.request.lines, &work.lines);
        }
        if f.status == FulfillmentStatus::Sourced {
            moved(conn, &f, FulfillmentStatus::Refused)?;
        }
    }
    let request = RoutedRequest::of(order);
    let what = Sourcing::of(order.id, &request);
    let now = omni_db::now();
    let decision = decide(conn, &what, &lines, &exclude, rules, model, now)?;
    if routing.part.is_none() {
        routed_orders::record(conn, order, &decision, now)?;
    }
    if decision.chosen.is_none() {
        tracing::info!(order.id = %order.id, "No node can serve the order.");
        let event = FulfillmentEvent::Unsourceable(OrderUnsourceable {
            order_id: order.id,
            candidates: decision.candidates,
            part: routing.part,
        });
        omni_kafka::outbox::enqueue(conn, &Envelope::new("fulfillment", event))?;
        return Ok(());
    }
    write_plan(conn, &what, &decision, routing.part, now)
}

/// Releases a paid order's parts to their nodes once per event id, in the caller's transaction: every part
/// still sourced (all of them the first time; a part routed again once its new hold is placed).
pub fn release(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    authorized: OrderPaymentAuthorized,
    schedules: &crate::app::Schedules,
) -> Result<(), SourcingError> {
    if !omni_db::inbox::claim(conn, "fulfillment.orders", event_id)? {
        return Ok(());
    }
    let sourced: Vec<FulfillmentRow> = fulfillments::for_order(conn, authorized.order_id)?
        .into_iter()
        .filter(|f| f.status == FulfillmentStatus::Sourced)
        .collect();
    if sourced.is_empty() {
        return Err(SourcingError::NothingToRelease(authorized.order_id));
    }
    for row in &sourced {
        moved(conn, row, FulfillmentStatus::Released)?;
        open_task(conn, row, schedules)?;
        let released = FulfillmentReleased {
            order_id: authorized.order_id,
            fulfillment_id: row.id,
            location_id: row.location_id.clone(),
        };
        omni_kafka::outbox::enqueue(
            conn,
            &Envelope::new("fulfillment", FulfillmentEvent::Released(released)),
        )?;
    }
    Ok(())
}

/// Puts a released fulfillment's work in its node's queue: a store task waiting to be accepted within its node
/// kind's deadline, to be shipped or ready by the order's promise (or within the kind's `ready_within`), with its
/// timers armed. A fulfillment sourced before lines were kept has none, and no task.
fn open_task(
    conn: &mut omni_db::DbConnection,
    fulfillment: &FulfillmentRow,
    schedules: &crate::app::Schedules,
) -> Result<(), SourcingError> {
    let work = fulfillments::work(conn, fulfillment.id)?;
    // Released once (only a sourced fulfillment is), so opened once; the unique index on the fulfillment says so too.
    if work.lines.is_empty() {
        return Ok(());
    }
    // At the precision both backends keep, so a queue page's cursor names the deadline exactly.
    let now = chrono::SubsecRound::trunc_subsecs(omni_db::now(), 6);
    let schedule = schedules.at(conn, &fulfillment.location_id)?;
    let ready_by = work.promise_by.map_or(now + schedule.ready_within, |p| {
        chrono::SubsecRound::trunc_subsecs(p, 6)
    });
    let task = Task::new(
        work.method,
        crate::domain::task::merged(&work.lines),
        now.and_utc() + schedule.accept_within,
        ready_by.and_utc(),
    );
    let timers = task.timers(&schedule.windows);
    tasks::insert(
        conn,
        &StoredTask {
            id: omni_contracts::TaskId::generate(),
            fulfillment_id: fulfillment.id,
            order_id: fulfillment.order_id,
            location_id: fulfillment.location_id.clone(),
            task,
            pickup_code_hash: None,
            deadline: now,
            created_at: now,
            updated_at: now,
        },
        &timers,
    )?;
    tracing::info!(order.id = %fulfillment.order_id, location.id = %fulfillment.location_id, method = work.method.as_str(), "Store task opened.");
    Ok(())
}

/// The order was cancelled, or failed, once per event id, in the caller's transaction: its fulfillments that are
/// not done yet are cancelled and their store tasks with them (picked units go back to the shelf; allocation
/// releases the hold from the same event), so nobody can ship or hand over what the customer no longer pays for:
/// an action on the task, or completing the fulfillment, answers 409 from now on.
pub fn close_for_order(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    order_id: omni_contracts::OrderId,
    why: &str,
    schedules: &crate::app::Schedules,
) -> Result<(), SourcingError> {
    if !omni_db::inbox::claim(conn, "fulfillment.orders", event_id)? {
        return Ok(());
    }
    for f in fulfillments::for_order(conn, order_id)? {
        if !matches!(f.status, FulfillmentStatus::Sourced | FulfillmentStatus::Released) {
            continue;
        }
        moved(conn, &f, FulfillmentStatus::Cancelled)?;
        crate::app::tasks::cancel(conn, schedules, f.id, why)?;
        tracing::info!(order.id = %order_id, location.id = %f.location_id, reason = why, "Fulfillment cancelled with its order.");
    }
    Ok(())
}

/// A paid order is to be cancelled (once per event id, in the caller's transaction): fulfillment decides, since
/// only it knows whether the goods left. If its fulfillment was completed (shipped or handed over) before this
/// arrived, the cancel is too late and nothing changes (orders follows the completion). Otherwise the
/// fulfillment and its store task are cancelled (picked units back to the shelf) and
/// `omni.fulfillment.cancelled` tells orders to cancel the order, which releases the hold and voids the
/// authorization. A task changes only over the version it was read at, and an associate's hand-over checks the
/// fulfillment is still released in the same way, so of a hand-over and a cancel exactly one wins.
pub fn stop_for_cancel(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    order_id: omni_contracts::OrderId,
    by: &str,
    schedules: &crate::app::Schedules,
) -> Result<(), SourcingError> {
    if !omni_db::inbox::claim(conn, "fulfillment.orders", event_id)? {
        return Ok(());
    }
    let current = fulfillments::for_order(conn, order_id)?;
    if current.iter().any(|f| f.status == FulfillmentStatus::Completed) {
        tracing::info!(order.id = %order_id, "Cancel asked after the goods left; the order stays fulfilled.");
        return Ok(());
    }
    let mut last = None;
    for f in current {
        if matches!(f.status, FulfillmentStatus::Sourced | FulfillmentStatus::Released) {
            moved(conn, &f, FulfillmentStatus::Cancelled)?;
            crate::app::tasks::cancel(conn, schedules, f.id, by)?;
            tracing::info!(order.id = %order_id, location.id = %f.location_id, reason = by, "Fulfillment stopped: its order is cancelled.");
        }
        last = Some(f);
    }
    let Some(last) = last else {
        return Err(SourcingError::NothingToCancel(order_id));
    };
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new(
            "fulfillment",
            FulfillmentEvent::Cancelled(omni_contracts::events::FulfillmentCancelled {
                order_id,
                fulfillment_id: last.id,
                location_id: last.location_id,
                reason: by.to_owned(),
            }),
        ),
    )?;
    Ok(())
}

/// Moves a fulfillment on from the status it was read in; if another change moved it first (an associate's
/// hand-over committed meanwhile), the event is handled again against the fulfillment as it is now.
fn moved(
    conn: &mut omni_db::DbConnection,
    read: &FulfillmentRow,
    to: FulfillmentStatus,
) -> Result<(), SourcingError> {
    if fulfillments::transition(conn, read.id, read.status, to)? {
        Ok(())
    } else {
        Err(SourcingError::Task(format!(
            "fulfillment {} changed while it was moving from {} to {to}",
            read.id, read.status
        )))
    }
}

#[cfg(test)]
mod tests;

//! Sourcing and releasing orders: the routing decision (pure, `domain::routing`) applied to the network view and
//! the order's fulfillments, with the event it announces, in the caller's transaction.

use omni_contracts::events::*;
use omni_contracts::{Envelope, FulfillmentId, LocationId, ReservationId};

use crate::db::fulfillments::{self, FulfillmentRow};
use crate::db::tasks::{self, StoredTask};
use crate::db::{network, routed_orders};
use crate::domain::routing::what_if::RoutedRequest;
use crate::domain::task::{Method, Task};
use crate::domain::{FulfillmentStatus, routing};
use crate::error::SourcingError;
use omni_contracts::api::OrderLine;

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
    model: &routing::cost::CostModel,
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

/// Units a store will not fulfil while the rest of its task goes on (rejected when it accepted, short when it
/// picked, sold at its till), routed to other nodes as new parts of the order in the caller's transaction: never
/// to a node that served or refused any part of the order. Orders learns the parts from their `sourced` (on the
/// same partition as the store's later completion, so before it) and releases them once held. When no node can
/// take them, the order goes on without them (logged).
pub fn reroute_units(
    conn: &mut omni_db::DbConnection,
    from: &FulfillmentRow,
    units: &[(omni_contracts::Sku, u32)],
    why: &str,
    rules: &[omni_contracts::routing::RoutingRule],
    model: &routing::cost::CostModel,
) -> Result<(), SourcingError> {
    let routed = routed_orders::load(conn, &routed_orders::Which::Orders(vec![from.order_id]))?;
    let Some(order) = routed.into_iter().next() else {
        tracing::warn!(order.id = %from.order_id, location.id = %from.location_id, "Units to route elsewhere, but the order's routing request is not kept (routed before it was); the order goes on without them.");
        return Ok(());
    };
    let wanted: Vec<HoldLine> = units
        .iter()
        .filter_map(|(sku, n)| {
            Some(HoldLine {
                sku: sku.clone(),
                quantity: omni_contracts::Quantity::new(i64::from(*n)).ok()?,
            })
        })
        .collect();
    let lines = with_units(&order.request.lines, &wanted);
    let exclude: Vec<LocationId> = fulfillments::for_order(conn, from.order_id)?
        .into_iter()
        .map(|f| f.location_id)
        .collect();
    let what = Sourcing::of(from.order_id, &order.request);
    let now = omni_db::now();
    let decision = decide(conn, &what, &lines, &exclude, rules, model, now)?;
    if decision.chosen.is_none() {
        tracing::warn!(order.id = %from.order_id, location.id = %from.location_id, reason = why, units = ?units, "No other node can take the units; the order goes on without them.");
        return Ok(());
    }
    tracing::info!(order.id = %from.order_id, location.id = %from.location_id, reason = why, "Units routed away from the store as a new part of the order.");
    write_plan(conn, &what, &decision, None, now)
}

/// The order's lines for these units: each SKU with the units given, at its order line's price.
fn with_units(order_lines: &[OrderLine], units: &[HoldLine]) -> Vec<OrderLine> {
    units
        .iter()
        .filter_map(|u| {
            let line = order_lines.iter().find(|l| l.sku == u.sku)?;
            Some(OrderLine {
                quantity: u.quantity,
                ..line.clone()
            })
        })
        .collect()
}

/// What sourcing needs of an order besides the lines it routes.
struct Sourcing<'a> {
    order_id: omni_contracts::OrderId,
    request: &'a RoutedRequest,
    segment: Option<omni_contracts::policies::Segment>,
}

impl<'a> Sourcing<'a> {
    fn of(order_id: omni_contracts::OrderId, request: &'a RoutedRequest) -> Self {
        Self {
            order_id,
            request,
            segment: routing::segment_of_request(request),
        }
    }
}

/// Routes `lines` for the order among the nodes not `exclude`d, on the stock its channel, tier and segment may
/// buy.
fn decide(
    conn: &mut omni_db::DbConnection,
    what: &Sourcing<'_>,
    lines: &[OrderLine],
    exclude: &[LocationId],
    rules: &[omni_contracts::routing::RoutingRule],
    model: &routing::cost::CostModel,
    now: chrono::NaiveDateTime,
) -> Result<routing::Decision, SourcingError> {
    let request = what.request;
    let nodes: Vec<_> = network::nodes(conn, fulfillments::start_of_day(now))?
        .into_iter()
        .filter(|n| !exclude.contains(&n.id))
        .collect();
    let skus: Vec<String> = lines.iter().map(|l| l.sku.to_string()).collect();
    let favoured = Some((request.tier, what.segment));
    let stock = network::stock_for(conn, &skus, Some(request.channel), favoured)?;
    let applicable = routing::applicable(rules, request.channel, &request.delivery, lines);
    let routed = routing::Request {
        delivery: &request.delivery,
        lines,
        timing: routing::cost::Timing {
            now: now.and_utc(),
            promise_by: request.promise_by,
        },
    };
    Ok(routing::route(&routed, &nodes, &stock, &applicable, model))
}

/// Writes the chosen plan: one fulfillment per part, and its `omni.fulfillment.sourced` naming the whole plan
/// (and the part it `replaces`).
fn write_plan(
    conn: &mut omni_db::DbConnection,
    what: &Sourcing<'_>,
    decision: &routing::Decision,
    replaces: Option<FulfillmentId>,
    now: chrono::NaiveDateTime,
) -> Result<(), SourcingError> {
    let Some(plan) = &decision.chosen else {
        return Ok(());
    };
    let request = what.request;
    let explanation = serde_json::json!({
        "rule": decision.rule,
        "plans": decision.plans,
        "candidates": decision.candidates,
    })
    .to_string();
    let parts: Vec<PlannedPart> = plan
        .parts
        .iter()
        .map(|part| PlannedPart {
            fulfillment_id: FulfillmentId::generate(),
            reservation_id: ReservationId::generate(),
            location_id: part.location_id.clone(),
        })
        .collect();
    for (planned, part) in parts.iter().zip(&plan.parts) {
        let work = fulfillments::Work {
            lines: part.lines.clone(),
            method: Method::of(&request.delivery),
            promise_by: request.promise_by.map(|p| p.naive_utc()),
        };
        fulfillments::insert(
            conn,
            &FulfillmentRow {
                id: planned.fulfillment_id,
                order_id: what.order_id,
                location_id: planned.location_id.clone(),
                reservation_id: planned.reservation_id,
                status: FulfillmentStatus::Sourced,
                explanation: explanation.clone(),
                created_at: now,
                updated_at: now,
            },
            &work,
        )?;
        tracing::info!(order.id = %what.order_id, location.id = %planned.location_id, parts = parts.len(), rule = %decision.rule, "Order sourced.");
        let sourced = FulfillmentSourced {
            order_id: what.order_id,
            fulfillment_id: planned.fulfillment_id,
            reservation_id: planned.reservation_id,
            location_id: planned.location_id.clone(),
            lines: part.lines.clone(),
            channel: Some(request.channel),
            tier: request.tier,
            segment: what.segment,
            candidates: decision.candidates.clone(),
            plans: decision.plans.clone(),
            plan: parts.clone(),
            replaces,
            rule: decision.rule.clone(),
        };
        omni_kafka::outbox::enqueue(
            conn,
            &Envelope::new("fulfillment", FulfillmentEvent::Sourced(sourced)),
        )?;
    }
    Ok(())
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

//! Routing applied: the cheapest plan for an order's lines among the nodes left (`domain::routing`, pure) on
//! today's network view, written as one fulfillment and one `omni.fulfillment.sourced` per part; and units a store
//! will not fulfil routed again as new parts. In the caller's transaction.

use omni_contracts::api::OrderLine;
use omni_contracts::events::*;
use omni_contracts::{Envelope, FulfillmentId, LocationId, ReservationId};

use crate::db::fulfillments::{self, FulfillmentRow};
use crate::db::{network, routed_orders};
use crate::domain::routing::what_if::RoutedRequest;
use crate::domain::task::Method;
use crate::domain::{FulfillmentStatus, routing};
use crate::error::SourcingError;

/// Units a store will not fulfil while the rest of its task goes on (rejected when it accepted, short when it
/// picked, sold at its till), routed to other nodes as new parts of the order in the caller's transaction: never
/// to a node that served or refused any part of the order. Orders learns the parts from their `sourced` (on the
/// same partition as the store's later completion, so before it) and releases them once held. When no node can
/// take them, the order goes on without them (logged).
pub fn reroute_units(
    conn: &mut omni_db::DbConnection,
    from: &FulfillmentRow,
    units: &[HoldLine],
    why: &str,
    rules: &[omni_contracts::routing::RoutingRule],
    model: &routing::cost::CostModel,
) -> Result<(), SourcingError> {
    let routed = routed_orders::load(conn, &routed_orders::Which::Orders(vec![from.order_id]))?;
    let Some(order) = routed.into_iter().next() else {
        tracing::warn!(order.id = %from.order_id, location.id = %from.location_id, "Units to route elsewhere, but the order's routing request is not kept (routed before it was); the order goes on without them.");
        return Ok(());
    };
    let lines = with_units(&order.request.lines, units);
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
pub(crate) fn with_units(order_lines: &[OrderLine], units: &[HoldLine]) -> Vec<OrderLine> {
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
pub(crate) struct Sourcing<'a> {
    order_id: omni_contracts::OrderId,
    request: &'a RoutedRequest,
    segment: Option<omni_contracts::policies::Segment>,
}

impl<'a> Sourcing<'a> {
    pub(crate) fn of(order_id: omni_contracts::OrderId, request: &'a RoutedRequest) -> Self {
        Self {
            order_id,
            request,
            segment: routing::segment_of_request(request),
        }
    }
}

/// Routes `lines` for the order among the nodes not `exclude`d, on the stock its channel, tier and segment may
/// buy.
pub(crate) fn decide(
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
pub(crate) fn write_plan(
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

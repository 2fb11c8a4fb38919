use omni_contracts::events::*;
use omni_contracts::{Envelope, FulfillmentId, LocationId, ReservationId};
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::fulfillments::{self, FulfillmentRow};
use crate::db::network;
use crate::domain::routing;

/// Routes accepted orders and releases authorized ones to their node.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    handle_batch(state, vec![incoming]).await
}

/// Routes and releases for the order events already waiting, in order, in one transaction (one commit for the
/// batch). An event that fails fails the batch; the consumer then hands each message to [`handle`] alone.
pub async fn handle_batch(state: State, batch: Vec<Incoming>) -> Result<(), HandlerError> {
    let events = batch
        .iter()
        .map(|incoming| {
            let event = incoming.decode::<OrderEvent>()?;
            Ok((event.id.to_string(), event.data))
        })
        .collect::<Result<Vec<_>, HandlerError>>()?;
    let rules = state.rules.current();
    let wrote = state
        .db
        .transaction(move |conn| -> Result<bool, HandlerError> {
            let mut wrote = false;
            for (event_id, data) in events {
                match data {
                    OrderEvent::Accepted(accepted) => source(conn, &event_id, accepted.order, &[], &rules)?,
                    OrderEvent::RerouteRequested(again) => {
                        source(conn, &event_id, again.order, &again.exclude, &rules)?
                    }
                    OrderEvent::PaymentAuthorized(authorized) => release(conn, &event_id, authorized)?,
                    _ => continue,
                }
                wrote = true;
            }
            Ok(wrote)
        })
        .await?;
    if wrote {
        state.relay.notify_one();
    }
    Ok(())
}

fn source(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    order: omni_contracts::api::Order,
    exclude: &[LocationId],
    rules: &[omni_contracts::routing::RoutingRule],
) -> Result<(), HandlerError> {
    if !omni_db::inbox::claim(conn, "fulfillment.orders", event_id)? {
        return Ok(());
    }
    // Routing again: the refused attempt is over, so a later release must not pick it.
    for f in fulfillments::for_order(conn, order.id)? {
        if f.status == "sourced" {
            fulfillments::set_status(conn, &f.id, "refused")?;
        }
    }
    let nodes: Vec<_> = network::nodes(conn)?
        .into_iter()
        .filter(|n| !exclude.contains(&n.id))
        .collect();
    let skus: Vec<String> = order.request.lines.iter().map(|l| l.sku.to_string()).collect();
    let atp = network::stock_for(conn, &skus, Some(order.request.channel))?;
    let applicable = routing::applicable(
        rules,
        order.request.channel,
        &order.request.delivery,
        &order.request.lines,
    );
    let decision = routing::route(
        &order.request.delivery,
        &order.request.lines,
        &nodes,
        &atp,
        &applicable,
    );
    let Some(location_id) = decision.chosen.clone() else {
        tracing::info!(order.id = %order.id, "No node can serve the order.");
        let event = FulfillmentEvent::Unsourceable(OrderUnsourceable {
            order_id: order.id,
            candidates: decision.candidates,
        });
        omni_kafka::outbox::enqueue(conn, &Envelope::new("fulfillment", event))?;
        return Ok(());
    };
    let fulfillment_id = FulfillmentId::generate();
    let reservation_id = ReservationId::generate();
    let explanation =
        serde_json::json!({ "rule": decision.rule, "candidates": decision.candidates }).to_string();
    let now = omni_db::now();
    fulfillments::insert(
        conn,
        &FulfillmentRow {
            id: fulfillment_id.to_string(),
            order_id: order.id.to_string(),
            location_id: location_id.to_string(),
            reservation_id: reservation_id.to_string(),
            status: "sourced".into(),
            explanation,
            created_at: now,
            updated_at: now,
        },
    )?;
    let lines = order
        .request
        .lines
        .iter()
        .map(|l| HoldLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect();
    tracing::info!(order.id = %order.id, location.id = %location_id, rule = %decision.rule, "Order sourced.");
    let sourced = FulfillmentSourced {
        order_id: order.id,
        fulfillment_id,
        reservation_id,
        location_id,
        lines,
        channel: Some(order.request.channel),
        tier: order.request.customer.tier,
        candidates: decision.candidates,
        rule: decision.rule,
    };
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new("fulfillment", FulfillmentEvent::Sourced(sourced)),
    )?;
    Ok(())
}

fn release(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    authorized: OrderPaymentAuthorized,
) -> Result<(), HandlerError> {
    if !omni_db::inbox::claim(conn, "fulfillment.orders", event_id)? {
        return Ok(());
    }
    let current = fulfillments::for_order(conn, authorized.order_id)?;
    let Some(row) = current.iter().rev().find(|f| f.status == "sourced") else {
        return Err(HandlerError::Permanent(format!(
            "order {} has no sourced fulfillment to release",
            authorized.order_id
        )));
    };
    fulfillments::set_status(conn, &row.id, "released")?;
    let released = FulfillmentReleased {
        order_id: authorized.order_id,
        fulfillment_id: FulfillmentId::parse(&row.id)?,
        location_id: LocationId::parse(&row.location_id)?,
    };
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new("fulfillment", FulfillmentEvent::Released(released)),
    )?;
    Ok(())
}

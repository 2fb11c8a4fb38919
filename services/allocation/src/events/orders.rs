use omni_contracts::LocationId;
use omni_contracts::events::{OrderCancelled, OrderEvent, OrderFailed, OrderRerouteRequested};
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::reservation;
use crate::db::reservations::{self, StoredHold};

/// Follows orders: a paid order's holds are pinned until fulfilled (they no longer expire); a failed or cancelled
/// order's holds are released, and so are those of an order routed again at the nodes it was routed away from.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<OrderEvent>()?;
    let (order_id, ending) = match event.data {
        OrderEvent::PaymentAuthorized(paid) => {
            let order_id = paid.order_id;
            let pinned = state
                .db
                .transaction(move |conn| reservations::pin_for_order(conn, order_id))
                .await?;
            tracing::debug!(order.id = %order_id, pinned, "Holds of a paid order pinned until fulfilled.");
            return Ok(());
        }
        OrderEvent::Failed(OrderFailed { order_id, .. })
        | OrderEvent::Cancelled(OrderCancelled { order_id, .. }) => (order_id, Ending::Every),
        OrderEvent::RerouteRequested(OrderRerouteRequested {
            order: omni_contracts::api::Order { id: order_id, .. },
            exclude,
            ..
        }) => (order_id, Ending::At(exclude)),
        _ => return Ok(()),
    };
    let holds = state
        .db
        .run(move |conn| reservations::held_for_order(conn, order_id))
        .await?;
    for hold in to_release(holds, &ending) {
        reservation::end(&state, hold.reservation_id, reservation::Ending::Released).await?;
        tracing::info!(order.id = %order_id, reservation.id = %hold.reservation_id, location.id = %hold.location_id, "Released an order's hold it no longer needs.");
    }
    Ok(())
}

/// Which of an order's holds an event ends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    /// The order failed or was cancelled: every hold.
    Every,
    /// The order is routed again without these nodes: the holds there. A hold elsewhere is the new attempt's,
    /// placed when routing's choice (on the fulfillment topic) overtook this event (on the orders topic); it
    /// must stay, or the order would be released with nothing held for it.
    At(Vec<LocationId>),
}

fn to_release(holds: Vec<StoredHold>, ending: &Ending) -> Vec<StoredHold> {
    holds
        .into_iter()
        .filter(|h| match ending {
            Ending::Every => true,
            Ending::At(nodes) => nodes.contains(&h.location_id),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use omni_contracts::api::ReservationStatus;
    use omni_contracts::{OrderId, ReservationId};

    fn hold(order: OrderId, at: &str) -> StoredHold {
        StoredHold {
            reservation_id: ReservationId::generate(),
            order_id: Some(order),
            location_id: LocationId::parse(at).unwrap(),
            status: ReservationStatus::Held,
            lines: vec![],
            expires_at: chrono::NaiveDateTime::MAX,
        }
    }

    #[test]
    fn a_reroute_releases_only_the_holds_at_the_nodes_it_routes_away_from() {
        let order = OrderId::generate();
        let (old, new) = (hold(order, "S1"), hold(order, "S2"));
        let rerouted = Ending::At(vec![LocationId::parse("S1").unwrap()]);
        // The new attempt's hold at S2 was placed before this event was handled: it stays.
        assert_eq!(
            to_release(vec![old.clone(), new.clone()], &rerouted),
            vec![old.clone()]
        );
        assert_eq!(
            to_release(vec![old.clone(), new.clone()], &Ending::Every),
            [old, new]
        );
    }
}

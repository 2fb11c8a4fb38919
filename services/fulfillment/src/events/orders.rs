//! `omni.orders.v1`: accepted and re-routed orders are sourced, paid ones released, cancelled and failed ones'
//! fulfillments and store tasks cancelled, a cancel asked of a paid order decided (`app::sourcing`).

use omni_contracts::events::OrderEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::sourcing::{Routing, close_for_order, release, source, stop_for_cancel};

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
    let (rules, schedules, model) = (state.rules.current(), state.schedules, state.cost_model);
    let wrote = state
        .db
        .transaction(move |conn| -> Result<bool, crate::error::SourcingError> {
            let mut wrote = false;
            for (event_id, data) in events {
                match data {
                    OrderEvent::Accepted(accepted) => {
                        let routing = Routing {
                            order: &accepted.order,
                            exclude: &[],
                            part: None,
                        };
                        source(conn, &event_id, &routing, &rules, &model)?
                    }
                    OrderEvent::RerouteRequested(again) => {
                        let routing = Routing {
                            order: &again.order,
                            exclude: &again.exclude,
                            part: again.part,
                        };
                        source(conn, &event_id, &routing, &rules, &model)?
                    }
                    OrderEvent::PaymentAuthorized(authorized) => {
                        release(conn, &event_id, authorized, &schedules)?
                    }
                    OrderEvent::Cancelled(c) => {
                        close_for_order(conn, &event_id, c.order_id, &c.by, &schedules)?
                    }
                    OrderEvent::Failed(f) => {
                        close_for_order(conn, &event_id, f.order_id, &f.reason, &schedules)?
                    }
                    OrderEvent::CancelRequested(c) => {
                        stop_for_cancel(conn, &event_id, c.order_id, &c.by, &schedules)?
                    }
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

//! `omni.reservations.v1`: a shortage after release (a till sold units held for a released order) reaches the
//! order's store task (`app::tasks::sold_at_till`).

use omni_contracts::events::ReservationEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;

/// Marks the short units in the store tasks of the orders a shortage names, newest hold first, until the units
/// short are accounted for; once per event.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<ReservationEvent>()?;
    let ReservationEvent::Shortage(shortage) = event.data else {
        return Ok(());
    };
    let event_id = event.id.to_string();
    let (schedules, rules, model) = (state.schedules, state.rules.current(), state.cost_model);
    let marked = state
        .db
        .transaction(move |conn| -> Result<u32, crate::error::TaskError> {
            if !omni_db::inbox::claim(conn, "fulfillment.reservations", &event_id)? {
                return Ok(0);
            }
            let mut left = u32::try_from(shortage.short_units.max(0)).unwrap_or(u32::MAX);
            let mut marked = 0;
            for order in &shortage.orders {
                if left == 0 {
                    break;
                }
                let routing = crate::app::tasks::Routing {
                    rules: &rules,
                    model: &model,
                };
                let units = crate::app::tasks::sold_at_till(
                    conn,
                    &schedules,
                    &routing,
                    *order,
                    &shortage.location_id,
                    &shortage.sku,
                    left,
                )?;
                left -= units;
                marked += units;
            }
            Ok(marked)
        })
        .await
        .map_err(|e| match e {
            crate::error::TaskError::Db(db) => HandlerError::from(db),
            other => HandlerError::Transient(other.to_string()),
        })?;
    if marked > 0 {
        state.relay.notify_one();
    }
    Ok(())
}

use omni_contracts::events::SignalEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::catalog;

/// Keeps the latest weather per location (an older signal than the one kept is ignored) and re-publishes
/// availability at once where a weather rule turned on or off.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<SignalEvent>()?;
    let SignalEvent::Weather(signal) = event.data;
    let location = signal.location_id.clone();
    let kept = state
        .db
        .transaction(move |conn| -> Result<bool, HandlerError> {
            if !catalog::location_known(conn, &signal.location_id)? {
                return Err(HandlerError::Permanent(format!(
                    "location_id: unknown location `{}`",
                    signal.location_id
                )));
            }
            Ok(catalog::remember_weather(conn, &signal)?)
        })
        .await?;
    if kept {
        tracing::info!(location.id = %location, "Weather signal kept.");
        crate::app::policies::check_schedule(&state).await?;
    }
    Ok(())
}

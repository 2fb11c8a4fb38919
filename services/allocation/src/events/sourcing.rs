use omni_contracts::Envelope;
use omni_contracts::events::{
    FulfillmentEvent, FulfillmentSourced, ReservationEvent, ReservationHeld, ReservationRejected,
};
use omni_kafka::{HandlerError, Incoming};

use crate::State;
use crate::db::reservations;
use crate::domain::policy::Caller;
use crate::holds::{KeepBack, ReserveOutcome};

/// Places the hold routing asked for: Redis (or memory) first, then PostgreSQL with the outbox, then the
/// acknowledgement (the stored offset). If the database write fails the hold is undone.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<FulfillmentEvent>()?;
    let sourced = match event.data {
        FulfillmentEvent::Sourced(sourced) => sourced,
        FulfillmentEvent::Completed(completed) => return commit_order(&state, completed.order_id).await,
        _ => return Ok(()),
    };
    let id = sourced.reservation_id;
    if state.db.run(move |conn| reservations::exists(conn, id)).await? {
        return Ok(());
    }
    if !state.holds_ready().await {
        return Err(HandlerError::Transient(
            "hold store is being rebuilt; failing closed".into(),
        ));
    }
    let lines = crate::domain::merge_lines(&sourced.lines).map_err(HandlerError::Permanent)?;
    let policies = state.policies.current();
    let keep_back = match sourced.channel {
        Some(channel) => {
            let caller = Caller {
                channel,
                tier: sourced.tier,
                segment: None,
            };
            crate::reservation::keep_back(&state, &policies, &sourced.location_id, &lines, caller)
                .await
                .map_err(|e| HandlerError::Transient(e.to_string()))?
        }
        None => KeepBack::new(),
    };
    let _change = state.change_guard().await;
    let started = std::time::Instant::now();
    let outcome = state
        .holds
        .reserve(id, &sourced.location_id, &lines, &keep_back)
        .await
        .map_err(|e| HandlerError::Transient(e.to_string()))?;
    let event_id = event.id.to_string();
    let ttl = state.ttl;
    let written = match outcome.clone() {
        ReserveOutcome::Held => {
            let sourced = sourced.clone();
            state
                .db
                .transaction(move |conn| held(conn, &event_id, sourced, lines, ttl))
                .await
        }
        ReserveOutcome::Short(shortages) => {
            let sourced = sourced.clone();
            state
                .db
                .transaction(move |conn| -> Result<(), HandlerError> {
                    if !omni_db::inbox::claim(conn, "allocation.sourcing", &event_id)? {
                        return Ok(());
                    }
                    let rejected = ReservationRejected {
                        reservation_id: sourced.reservation_id,
                        order_id: sourced.order_id,
                        location_id: sourced.location_id,
                        shortages,
                    };
                    omni_kafka::outbox::enqueue(
                        conn,
                        &Envelope::new("allocation", ReservationEvent::Rejected(rejected)),
                    )?;
                    Ok(())
                })
                .await
        }
    };
    let took = started.elapsed();
    state.metrics.observe_hold(
        match (&written, &outcome) {
            (Err(_), _) => crate::metrics::HoldOutcome::Failed,
            (Ok(()), ReserveOutcome::Held) => crate::metrics::HoldOutcome::Held,
            (Ok(()), ReserveOutcome::Short(_)) => crate::metrics::HoldOutcome::Rejected,
        },
        took,
    );
    if let Err(e) = written {
        if outcome == ReserveOutcome::Held
            && let Err(undo) = state.holds.release(id, &sourced.location_id).await
        {
            tracing::error!(error = %undo, reservation.id = %id, "Could not undo a hold after a failed write; the reconciler repairs it.");
            state.mark_stale();
        }
        return Err(e);
    }
    state.changed();
    Ok(())
}

fn held(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    sourced: FulfillmentSourced,
    lines: Vec<omni_contracts::events::HoldLine>,
    ttl: std::time::Duration,
) -> Result<(), HandlerError> {
    if !omni_db::inbox::claim(conn, "allocation.sourcing", event_id)? {
        return Ok(());
    }
    let expires_at =
        chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15));
    let hold = reservations::NewHold {
        id: sourced.reservation_id,
        order_id: Some(sourced.order_id),
        parent: None,
        channel: "order",
        location: &sourced.location_id,
        lines: &lines,
        expires_at: expires_at.naive_utc(),
    };
    reservations::insert_held(conn, &hold)?;
    for line in &lines {
        crate::events::availability_changed(conn, &line.sku)?;
    }
    let held = ReservationHeld {
        reservation_id: sourced.reservation_id,
        order_id: sourced.order_id,
        location_id: sourced.location_id,
        lines,
        expires_at,
    };
    omni_kafka::outbox::enqueue(conn, &Envelope::new("allocation", ReservationEvent::Held(held)))?;
    Ok(())
}

/// The node shipped the order or handed it over: its holds are committed (the units leave on-hand, a `commit`
/// row per line in the ledger). A redelivery finds nothing held and changes nothing.
async fn commit_order(state: &State, order_id: omni_contracts::OrderId) -> Result<(), HandlerError> {
    let holds = state
        .db
        .run(move |conn| reservations::held_for_order(conn, order_id))
        .await?;
    for hold in holds {
        match crate::reservation::commit(state, &hold.reservation_id).await {
            Ok(_) | Err(crate::reservation::HoldFailure::NotHeld { .. }) => {
                tracing::info!(order.id = %order_id, reservation.id = %hold.reservation_id, "Order fulfilled; its hold is committed.");
            }
            Err(e) => return Err(HandlerError::Transient(e.to_string())),
        }
    }
    Ok(())
}

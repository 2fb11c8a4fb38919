//! Holds for routing's sourcing decisions: each placed in the hold store as it comes, their records (hold rows,
//! availability marks, `held` / `rejected` events) written together; a completed fulfillment commits its order's
//! hold.

use omni_contracts::Envelope;
use omni_contracts::events::{
    FulfillmentEvent, FulfillmentSourced, ReservationEvent, ReservationHeld, ReservationRejected,
};

use crate::app::State;
use crate::db::reservations;
use crate::domain::policy::Caller;
use crate::error::HoldFailure;
use crate::holds::{KeepBack, ReserveOutcome};

/// A hold placed (or refused) in the store whose record is not written yet.
struct Placed {
    event_id: String,
    sourced: FulfillmentSourced,
    lines: Vec<omni_contracts::events::HoldLine>,
    outcome: ReserveOutcome,
    started: std::time::Instant,
}

/// Places the holds of the fulfillment events already waiting, in order: each in the hold store as it comes,
/// and their records (hold rows, availability marks, `held` / `rejected` events) in one transaction, one commit
/// for the batch. A completion in the batch first writes what was placed before it. If the write fails, every
/// hold of the batch is undone and the batch fails (the consumer then takes its messages one by one).
pub async fn apply(state: &State, events: Vec<Envelope<FulfillmentEvent>>) -> Result<(), HoldFailure> {
    let state = state.clone();
    let mut placed: Vec<Placed> = Vec::new();
    // Held from the first hold until its record is written (so the reconciler never sees one without the
    // other), and never while the store is checked or a completion commits (both may need it exclusively).
    let mut guard = None;
    for event in events {
        match event.data {
            FulfillmentEvent::Sourced(sourced) => {
                if guard.is_none() {
                    if !state.holds_ready().await {
                        return Err(HoldFailure::Unavailable(
                            "hold store is being rebuilt; failing closed".into(),
                        ));
                    }
                    guard = Some(state.change_guard().await);
                }
                match place(&state, event.id.to_string(), sourced).await {
                    Ok(Some(p)) => placed.push(p),
                    Ok(None) => {}
                    Err(e) => {
                        undo(&state, &placed).await;
                        return Err(e);
                    }
                }
            }
            FulfillmentEvent::Completed(completed) => {
                write(&state, std::mem::take(&mut placed)).await?;
                guard = None;
                commit_order(&state, &completed).await?;
            }
            FulfillmentEvent::HoldReduced(reduced) => {
                write(&state, std::mem::take(&mut placed)).await?;
                guard = None;
                let units = reduced
                    .units
                    .iter()
                    .map(|l| (l.sku.clone(), i64::from(l.quantity.get())))
                    .collect();
                crate::app::reservation::reduce(&state, event.id.to_string(), reduced.reservation_id, units)
                    .await?;
            }
            _ => {}
        }
    }
    let written = write(&state, placed).await;
    drop(guard);
    written
}

/// Reserves in the hold store (the caller holds the change guard); `None` when the hold was placed before (a
/// redelivery).
async fn place(
    state: &State,
    event_id: String,
    sourced: FulfillmentSourced,
) -> Result<Option<Placed>, HoldFailure> {
    let id = sourced.reservation_id;
    if state.db.run(move |conn| reservations::exists(conn, id)).await? {
        return Ok(None);
    }
    let lines =
        crate::domain::merge_lines(&sourced.lines).map_err(|e| HoldFailure::Invalid(e.to_string()))?;
    let policies = state.policies.current();
    let keep_back = match sourced.channel {
        Some(channel) => {
            let caller = Caller {
                channel,
                tier: sourced.tier,
                segment: sourced.segment,
            };
            crate::app::reservation::keep_back(state, &policies, &sourced.location_id, &lines, caller).await?
        }
        None => KeepBack::new(),
    };
    let started = std::time::Instant::now();
    let outcome = state
        .holds
        .reserve(id, &sourced.location_id, &lines, &keep_back)
        .await
        .map_err(|e| {
            if matches!(e, crate::holds::HoldError::Unloaded(_)) {
                state.mark_stale();
            }
            HoldFailure::Unavailable(format!("hold store: {e}"))
        })?;
    Ok(Some(Placed {
        event_id,
        sourced,
        lines,
        outcome,
        started,
    }))
}

/// Writes the records of placed holds in one transaction; undoes them all if it fails.
async fn write(state: &State, placed: Vec<Placed>) -> Result<(), HoldFailure> {
    if placed.is_empty() {
        return Ok(());
    }
    let ttl = state.ttl;
    let records: Vec<(
        String,
        FulfillmentSourced,
        Vec<omni_contracts::events::HoldLine>,
        ReserveOutcome,
    )> = placed
        .iter()
        .map(|p| {
            (
                p.event_id.clone(),
                p.sourced.clone(),
                p.lines.clone(),
                p.outcome.clone(),
            )
        })
        .collect();
    let written = state
        .db
        .transaction(move |conn| -> Result<(), HoldFailure> {
            // A hold placed in a store reloaded since is not recorded: the batch fails and is placed again.
            let current = crate::db::generation::current_shared(conn)?;
            if records.iter().any(
                |(_, _, _, o)| matches!(o, ReserveOutcome::Held { generation } if *generation != current),
            ) {
                return Err(HoldFailure::Unavailable(crate::app::hold_writer::RELOADED.into()));
            }
            for (event_id, sourced, lines, outcome) in records {
                match outcome {
                    ReserveOutcome::Held { .. } => held(conn, &event_id, sourced, lines, ttl)?,
                    ReserveOutcome::Short(shortages) => rejected(conn, &event_id, sourced, shortages)?,
                }
            }
            Ok(())
        })
        .await;
    for p in &placed {
        state.metrics.observe_hold(
            match (&written, &p.outcome) {
                (Err(_), _) => crate::metrics::HoldOutcome::Failed,
                (Ok(()), ReserveOutcome::Held { .. }) => crate::metrics::HoldOutcome::Held,
                (Ok(()), ReserveOutcome::Short(_)) => crate::metrics::HoldOutcome::Rejected,
            },
            p.started.elapsed(),
        );
    }
    if let Err(e) = written {
        undo(state, &placed).await;
        return Err(e);
    }
    state.changed();
    Ok(())
}

/// Releases the holds placed in the store whose records were not written.
async fn undo(state: &State, placed: &[Placed]) {
    for p in placed
        .iter()
        .filter(|p| matches!(p.outcome, ReserveOutcome::Held { .. }))
    {
        let id = p.sourced.reservation_id;
        if let Err(undo) = state.holds.release(id, &p.sourced.location_id).await {
            tracing::error!(error = %undo, reservation.id = %id, "Could not undo a hold after a failed write; the reconciler repairs it.");
            state.mark_stale();
        }
    }
}

fn rejected(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    sourced: FulfillmentSourced,
    shortages: Vec<omni_contracts::events::Shortage>,
) -> Result<(), HoldFailure> {
    if !omni_db::inbox::claim(conn, "allocation.sourcing", event_id)? {
        return Ok(());
    }
    let rejected = ReservationRejected {
        reservation_id: sourced.reservation_id,
        order_id: sourced.order_id,
        location_id: sourced.location_id,
        shortages,
        plan: sourced.plan,
        replaces: sourced.replaces,
    };
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new("allocation", ReservationEvent::Rejected(rejected)),
    )?;
    Ok(())
}

fn held(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    sourced: FulfillmentSourced,
    lines: Vec<omni_contracts::events::HoldLine>,
    ttl: std::time::Duration,
) -> Result<(), HoldFailure> {
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
        crate::app::availability::availability_changed(conn, &line.sku)?;
    }
    let held = ReservationHeld {
        reservation_id: sourced.reservation_id,
        order_id: sourced.order_id,
        location_id: sourced.location_id,
        lines,
        expires_at,
        plan: sourced.plan,
        replaces: sourced.replaces,
    };
    omni_kafka::outbox::enqueue(conn, &Envelope::new("allocation", ReservationEvent::Held(held)))?;
    Ok(())
}

/// The node shipped the order, or its part, or handed it over: that part's hold is committed (the units leave
/// on-hand, a `commit` row per line in the ledger; only the units that left when some went to another node, the
/// rest released), or every hold of the order when the event names none (older events). A redelivery finds
/// nothing held and changes nothing.
async fn commit_order(
    state: &State,
    completed: &omni_contracts::events::FulfillmentCompleted,
) -> Result<(), HoldFailure> {
    let (order_id, only) = (completed.order_id, completed.reservation_id);
    let holds = state
        .db
        .run(move |conn| reservations::held_for_order(conn, order_id))
        .await?;
    for hold in holds
        .into_iter()
        .filter(|h| only.is_none_or(|id| h.reservation_id == id))
    {
        let outcome = if only.is_some() && !completed.left.is_empty() {
            let left = completed
                .left
                .iter()
                .map(|l| (l.sku.clone(), i64::from(l.quantity.get())))
                .collect();
            crate::app::reservation::commit_left(state, hold.reservation_id, left).await
        } else {
            crate::app::reservation::commit(state, hold.reservation_id).await
        };
        match outcome {
            Ok(_) | Err(HoldFailure::NotHeld { .. }) => {
                tracing::info!(order.id = %order_id, reservation.id = %hold.reservation_id, "Order fulfilled; its hold is committed.");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

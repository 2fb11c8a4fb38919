//! Stock movements (receipts, sales, counts, ...): appended to the ledger with what they announce, then followed
//! by the hold store. Over HTTP (`POST /v1/inventory/movements`) and from `omni.inventory.v1`.

use omni_contracts::LocationId;
use omni_contracts::api::StockMovement;
use omni_contracts::events::{
    InventoryEvent, ReplenishmentDraft, ReplenishmentRequest, ReservationEvent, StockShortage,
};
use omni_contracts::{Envelope, OrderId, ReservationId};

use crate::app::State;
use crate::db::{catalog, ledger};
use crate::error::MovementError;
use crate::failpoints::{self, failpoint};
use crate::holds::Generation;

/// Whether a movement was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Appended to the ledger.
    New,
    /// Its event id was already in the ledger; nothing changed.
    Duplicate,
}

/// Records a movement (HTTP or Kafka): ledger append and availability mark in one transaction, then the hold
/// store. `principal` is audited for HTTP callers.
pub async fn record(
    state: &State,
    movement: StockMovement,
    principal: Option<String>,
) -> Result<Recorded, MovementError> {
    let recorded = record_many(state, vec![movement], principal).await?;
    Ok(recorded.first().copied().unwrap_or(Recorded::Duplicate))
}

/// Records movements in order, all in one transaction (all or none), then follows with the hold store.
pub async fn record_many(
    state: &State,
    movements: Vec<StockMovement>,
    principal: Option<String>,
) -> Result<Vec<Recorded>, MovementError> {
    let _change = state.change_guard().await;
    // Whatever takes units leaves the hold store first, then the ledger (DESIGN §4): a crash in between leaves the
    // store offering less than the ledger has (the reconciler repairs it), never more.
    let mut taken: Vec<Option<(Generation, i64)>> = Vec::with_capacity(movements.len());
    for movement in &movements {
        let take = crate::domain::take_ahead(movement.kind, movement.quantity);
        taken.push(if take == crate::domain::TakeAhead::Nothing {
            None
        } else {
            match state
                .holds
                .take_ahead(&movement.location_id, movement.sku.as_str(), take)
                .await
            {
                Ok(taken) => taken,
                Err(e) => {
                    // Recorded anyway (a till's sale is a fact); the store is loaded again before the next hold.
                    tracing::error!(error = %e, sku = %movement.sku, "Hold store missed a movement; rebuilding it from the ledger.");
                    state.mark_stale();
                    None
                }
            }
        });
    }
    failpoint!(
        failpoints::MOVEMENT_BETWEEN_STORE_AND_LEDGER,
        Err(MovementError::Db(omni_db::Error::Task(
            failpoints::MOVEMENT_BETWEEN_STORE_AND_LEDGER.into()
        )))
    );
    let stored = movements.clone();
    let outcomes = state
        .db
        .transaction(
            move |conn| -> Result<(Vec<(Recorded, i64)>, crate::holds::Generation), MovementError> {
                // Under the generation's shared lock: a load of the hold store either saw these movements in the
                // ledger (and the store ignores the adjustments below, made for an older generation) or did not (and
                // they apply to it).
                let generation = crate::db::generation::current_shared(conn)?;
                let outcomes = stored
                    .iter()
                    .map(|movement| apply(conn, movement, principal.as_deref()))
                    .collect::<Result<_, _>>()?;
                Ok((outcomes, generation))
            },
        )
        .await;
    let (outcomes, generation) = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => {
            // Nothing recorded: what was taken ahead goes back (unless the store was loaded again since).
            for (movement, taken) in movements.iter().zip(&taken) {
                if let Some((under, units)) = taken {
                    follow(state, movement, *units, *under).await;
                }
            }
            return Err(e);
        }
    };
    failpoint!(
        failpoints::MOVEMENT_BETWEEN_LEDGER_AND_STORE,
        Err(MovementError::Db(omni_db::Error::Task(
            failpoints::MOVEMENT_BETWEEN_LEDGER_AND_STORE.into()
        )))
    );
    if outcomes.iter().any(|(r, _)| *r == Recorded::New) {
        state.changed();
    }
    for ((movement, (recorded, delta)), taken) in movements.iter().zip(&outcomes).zip(&taken) {
        match (recorded, taken) {
            // Recorded before: what this call took ahead goes back.
            (Recorded::Duplicate, Some((under, units))) => follow(state, movement, *units, *under).await,
            (Recorded::Duplicate, None) => {}
            // Taken ahead under the generation it was recorded under: the rest of its change (a count's).
            (Recorded::New, Some((under, units))) if *under == generation => {
                follow(
                    state,
                    movement,
                    crate::domain::still_owed(*delta, *units),
                    generation,
                )
                .await;
            }
            // Taken ahead under a store loaded again since (the load overwrote it), or not at all: the whole change.
            (Recorded::New, _) => follow(state, movement, *delta, generation).await,
        }
    }
    Ok(outcomes.into_iter().map(|(r, _)| r).collect())
}

/// Moves the store's on-hand of a movement's SKU by `delta` if it is still loaded under `generation`; if the
/// store cannot be reached, it is loaded again from the ledger before the next hold.
async fn follow(state: &State, movement: &StockMovement, delta: i64, generation: Generation) {
    if delta == 0 {
        return;
    }
    if let Err(e) = state
        .holds
        .adjust_on_hand(&movement.location_id, movement.sku.as_str(), delta, generation)
        .await
    {
        tracing::error!(error = %e, sku = %movement.sku, "Hold store missed a movement; rebuilding it from the ledger.");
        state.mark_stale();
    }
}

/// Appends one movement to the ledger in the caller's transaction, with what it announces (shortage,
/// replenishment, availability mark); returns whether it was new and its change to on-hand.
fn apply(
    conn: &mut omni_db::DbConnection,
    stored: &StockMovement,
    principal: Option<&str>,
) -> Result<(Recorded, i64), MovementError> {
    if ledger::contains(conn, &stored.event_id.to_string())? {
        return Ok((Recorded::Duplicate, 0));
    }
    if !catalog::location_known(conn, &stored.location_id)? {
        return Err(MovementError::UnknownReference(format!(
            "location_id: unknown location `{}`",
            stored.location_id
        )));
    }
    if !catalog::sku_known(conn, &stored.sku)? {
        return Err(MovementError::UnknownReference(format!(
            "sku: unknown SKU `{}`",
            stored.sku
        )));
    }
    if stored.kind == omni_contracts::api::MovementKind::Count
        && !ledger::locations_of(conn, &stored.sku)?.contains(&stored.location_id)
    {
        return Err(MovementError::UnknownReference(format!(
            "sku: `{}` was never received at `{}`; a count corrects stock that exists",
            stored.sku, stored.location_id
        )));
    }
    let current = ledger::on_hand(conn, &stored.location_id, &stored.sku)?;
    let delta = crate::domain::movement_delta(stored.kind, stored.quantity, current);
    ledger::append(conn, stored, delta)?;
    if let Some(principal) = principal {
        let detail = serde_json::json!({ "event_id": stored.event_id, "kind": stored.kind, "quantity": stored.quantity, "delta": delta });
        omni_db::audit::record(
            conn,
            principal,
            "inventory.movement.recorded",
            &format!("{}/{}", stored.location_id, stored.sku),
            &detail,
        )?;
    }
    if delta < 0 {
        announce_shortage(conn, stored, current + delta)?;
        request_replenishment(conn, stored, current, current + delta)?;
    }
    crate::app::availability::availability_changed(conn, &stored.sku)?;
    Ok((Recorded::New, delta))
}

/// When stock leaving a location leaves less than is held there, names the holds that are short (newest first)
/// in an `omni.reservation.shortage` event, in the movement's transaction.
fn announce_shortage(
    conn: &mut omni_db::DbConnection,
    movement: &StockMovement,
    on_hand: i64,
) -> omni_db::Result<()> {
    let holds = crate::db::reservations::held_at(conn, &movement.location_id, &movement.sku)?;
    let by_id: Vec<((ReservationId, Option<OrderId>), i64)> =
        holds.into_iter().map(|(id, order, q)| ((id, order), q)).collect();
    let (short_units, affected) = crate::domain::short_holds(on_hand, &by_id);
    if short_units == 0 {
        return Ok(());
    }
    let reserved = by_id.iter().map(|(_, q)| q).sum();
    let shortage = StockShortage {
        location_id: movement.location_id.clone(),
        sku: movement.sku.clone(),
        on_hand,
        reserved,
        short_units,
        reservations: affected.iter().map(|(id, _)| *id).collect(),
        orders: affected.iter().filter_map(|(_, order)| *order).collect(),
    };
    // A business event (the shortage event re-routes the orders), not a fault of the service: info, not warn.
    tracing::info!(
        sku = %movement.sku, location.id = %movement.location_id, short_units,
        "Stock left a location below what is held there; the newest holds are short."
    );
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new("allocation", ReservationEvent::Shortage(shortage)),
    )
}

/// When on-hand crosses the SKU's reorder point downwards, drafts a transfer from the location with the most
/// to spare, or a purchase order when none has spare (one request per crossing: only the movement that
/// crosses the point asks).
fn request_replenishment(
    conn: &mut omni_db::DbConnection,
    movement: &StockMovement,
    before: i64,
    after: i64,
) -> omni_db::Result<()> {
    let Some(reorder_point) = crate::db::catalog::reorder_point(conn, &movement.sku)? else {
        return Ok(());
    };
    let Some(suggested_quantity) = crate::domain::replenishment_needed(reorder_point, before, after) else {
        return Ok(());
    };
    let donors: Vec<(LocationId, i64)> = ledger::availability(conn, &movement.sku)?
        .into_iter()
        .filter(|l| l.location_id != movement.location_id)
        .map(|l| (l.location_id, l.atp))
        .collect();
    let draft = match crate::domain::best_donor(&donors, reorder_point, suggested_quantity) {
        Some(from_location_id) => ReplenishmentDraft::Transfer { from_location_id },
        None => ReplenishmentDraft::PurchaseOrder {},
    };
    let request = ReplenishmentRequest {
        request_id: omni_contracts::MovementId::generate(),
        location_id: movement.location_id.clone(),
        sku: movement.sku.clone(),
        on_hand: after,
        reorder_point,
        suggested_quantity,
        draft,
    };
    tracing::info!(sku = %movement.sku, location.id = %movement.location_id, after, reorder_point, "Replenishment requested.");
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new("allocation", InventoryEvent::ReplenishmentRequested(request)),
    )
}

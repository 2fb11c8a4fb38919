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
        .await?;
    let (outcomes, generation) = outcomes;
    if outcomes.iter().any(|(r, _)| *r == Recorded::New) {
        state.changed();
    }
    for (movement, (recorded, delta)) in movements.iter().zip(&outcomes) {
        if *recorded != Recorded::New {
            continue;
        }
        if let Err(e) = state
            .holds
            .adjust_on_hand(&movement.location_id, movement.sku.as_str(), *delta, generation)
            .await
        {
            // The ledger has it; the hot store will be rebuilt from the ledger.
            tracing::error!(error = %e, sku = %movement.sku, "Hold store missed a movement; rebuilding it from the ledger.");
            state.mark_stale();
        }
    }
    Ok(outcomes.into_iter().map(|(r, _)| r).collect())
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

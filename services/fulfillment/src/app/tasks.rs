//! Acting on a store task: the action checked and applied by the task itself (`domain::task`), written over the
//! version it was decided on, with its audit entry, its `omni.fulfillment.task_changed` event and what it means
//! outside the task, all in one transaction: a shipment or a hand-over completes the fulfillment
//! (`omni.fulfillment.completed`: the order is fulfilled, its hold committed); staging a pickup issues the
//! customer's pickup code (`omni.fulfillment.ready_for_pickup`).

use omni_contracts::events::{
    FulfillmentCompleted, FulfillmentEvent, FulfillmentRefused, HandedOver, ReadyForPickup, StoreTaskChanged,
};
use omni_contracts::{Envelope, TaskId};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::db::fulfillments;
use crate::db::tasks::{self, StoredTask};
use crate::domain::FulfillmentStatus;
use crate::domain::task::{Action, Effect, TaskState};
use crate::error::TaskError;

/// Who acts, as far as a task cares.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Their name, for the audit entry.
    pub name: String,
    /// The stores they work at (empty: every store).
    pub stores: Vec<String>,
}

impl Actor {
    fn works_at(&self, store: &str) -> bool {
        self.stores.is_empty() || self.stores.iter().any(|s| s == store)
    }
}

/// An action as a caller asks for it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The task.
    pub id: TaskId,
    /// The version the caller decided on, if they name one.
    pub expected_version: Option<u32>,
    /// What to do.
    pub action: Action,
    /// The customer's pickup code, for a hand-over.
    pub pickup_code: Option<String>,
}

/// Applies a caller's action to a task in the caller's transaction; returns the task after it.
pub fn act(
    conn: &mut omni_db::DbConnection,
    actor: &Actor,
    request: &Request,
) -> Result<StoredTask, TaskError> {
    let id = request.id;
    let stored = tasks::find(conn, id)?
        .filter(|t| actor.works_at(t.location_id.as_str()))
        .ok_or_else(|| TaskError::NotFound(id.to_string()))?;
    let was = stored.task.version;
    if let Some(expected) = request.expected_version
        && expected != was
    {
        return Err(TaskError::Stale {
            id,
            expected,
            current: was,
        });
    }
    let fulfillment = fulfillments::find(conn, stored.fulfillment_id)?;
    if fulfillment.as_ref().map(|f| f.status) != Some(FulfillmentStatus::Released) {
        return Err(TaskError::FulfillmentClosed(id));
    }
    let applied = stored.task.apply(&request.action, chrono::Utc::now())?;
    if request.action == Action::HandOver {
        // The proof the customer is the one the order is for: the code they were sent, used once.
        let matches = match (&stored.pickup_code_hash, &request.pickup_code) {
            (Some(hash), Some(code)) => *hash == digest(code),
            _ => false,
        };
        if !matches {
            return Err(TaskError::WrongPickupCode);
        }
    }
    // The whole task refused: the order is routed again without this store. Part of it: not yet.
    let refused_whole = (applied.task.state == TaskState::Rerouted).then(|| {
        applied.effects.iter().find_map(|e| match e {
            Effect::Reroute { reason, .. } => Some(reason.clone()),
            _ => None,
        })
    });
    if let Some(effect) = applied.effects.iter().find(|e| match e {
        Effect::Reroute { .. } => refused_whole.is_none(),
        Effect::ReleaseHeld | Effect::CancelOrder { .. } => true,
        _ => false,
    }) {
        return Err(TaskError::NotYetSupported(format!(
            "`{}` would {}; stores cannot re-route or give back units yet, so the task stays as it is",
            request.action.name(),
            match effect {
                Effect::Reroute { .. } => "send units to another node",
                _ => "give the held units back",
            }
        )));
    }
    let mut after = StoredTask {
        task: applied.task,
        ..stored.clone()
    };
    let mut code = None;
    if applied.effects.contains(&Effect::ReadyForPickup) {
        let issued = pickup_code();
        after.pickup_code_hash = Some(digest(&issued));
        code = Some(issued);
    }
    if !tasks::save(conn, &after, was)? {
        let current = tasks::find(conn, id)?.map_or(was, |t| t.task.version);
        return Err(TaskError::Stale {
            id,
            expected: was,
            current,
        });
    }
    let detail = serde_json::json!({
        "order_id": stored.order_id, "location_id": stored.location_id,
        "before": { "state": stored.task.state, "version": was },
        "after": { "state": after.task.state, "version": after.task.version },
    });
    omni_db::audit::record(
        conn,
        &actor.name,
        &format!("task.{}", request.action.name()),
        &id.to_string(),
        &detail,
    )?;
    let publish = |conn: &mut omni_db::DbConnection, event: FulfillmentEvent| {
        omni_kafka::outbox::enqueue(conn, &Envelope::new("fulfillment", event))
    };
    publish(
        conn,
        FulfillmentEvent::TaskChanged(StoreTaskChanged {
            order_id: stored.order_id,
            fulfillment_id: stored.fulfillment_id,
            task_id: id,
            location_id: stored.location_id.clone(),
            action: request.action.name().to_owned(),
            state: after.task.state.as_str().to_owned(),
            version: after.task.version,
        }),
    )?;
    if let Some(pickup_code) = code {
        publish(
            conn,
            FulfillmentEvent::ReadyForPickup(ReadyForPickup {
                order_id: stored.order_id,
                task_id: id,
                location_id: stored.location_id.clone(),
                pickup_code,
            }),
        )?;
    }
    if let Some(reason) = refused_whole.flatten() {
        fulfillments::set_status(conn, stored.fulfillment_id, FulfillmentStatus::Refused)?;
        publish(
            conn,
            FulfillmentEvent::Refused(FulfillmentRefused {
                order_id: stored.order_id,
                fulfillment_id: stored.fulfillment_id,
                location_id: stored.location_id.clone(),
                reason,
            }),
        )?;
    }
    let how = match after.task.state {
        TaskState::Shipped => Some(HandedOver::Shipped),
        TaskState::HandedOver => Some(HandedOver::PickedUp),
        _ => None,
    };
    if let Some(how) = how {
        fulfillments::set_status(conn, stored.fulfillment_id, FulfillmentStatus::Completed)?;
        publish(
            conn,
            FulfillmentEvent::Completed(FulfillmentCompleted {
                order_id: stored.order_id,
                fulfillment_id: stored.fulfillment_id,
                location_id: stored.location_id.clone(),
                how,
            }),
        )?;
    }
    tracing::info!(task.id = %id, order.id = %stored.order_id, location.id = %stored.location_id, action = request.action.name(), state = after.task.state.as_str(), "Store task changed.");
    Ok(after)
}

/// Closes a fulfillment's open task when a manager records its outcome by hand (`how`: shipped or picked up), in
/// the caller's transaction, so the store's queue no longer shows work that is done. A fulfillment without a task
/// (released before tasks existed) or whose task is already done has nothing to close.
pub fn complete_by_hand(
    conn: &mut omni_db::DbConnection,
    fulfillment: omni_contracts::FulfillmentId,
    how: HandedOver,
) -> Result<(), TaskError> {
    let Some(stored) = tasks::find_for(conn, fulfillment)? else {
        return Ok(());
    };
    if stored.task.state.is_final() {
        return Ok(());
    }
    let was = stored.task.version;
    let action = Action::CompletedByHand(how);
    let applied = stored.task.apply(&action, chrono::Utc::now())?;
    let after = StoredTask {
        task: applied.task,
        ..stored.clone()
    };
    if !tasks::save(conn, &after, was)? {
        let current = tasks::find(conn, stored.id)?.map_or(was, |t| t.task.version);
        return Err(TaskError::Stale {
            id: stored.id,
            expected: was,
            current,
        });
    }
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new(
            "fulfillment",
            FulfillmentEvent::TaskChanged(StoreTaskChanged {
                order_id: stored.order_id,
                fulfillment_id: stored.fulfillment_id,
                task_id: stored.id,
                location_id: stored.location_id.clone(),
                action: action.name().to_owned(),
                state: after.task.state.as_str().to_owned(),
                version: after.task.version,
            }),
        ),
    )?;
    Ok(())
}

/// Cancels a fulfillment's store task, if it has one that is not done, in the caller's transaction; recorded
/// (`task.cancel` by `omni:fulfillment`, with `why`) and announced like an associate's action.
pub fn cancel(
    conn: &mut omni_db::DbConnection,
    fulfillment: omni_contracts::FulfillmentId,
    why: &str,
) -> Result<(), TaskError> {
    let Some(stored) = tasks::find_for(conn, fulfillment)? else {
        return Ok(());
    };
    if stored.task.state.is_final() {
        return Ok(());
    }
    let was = stored.task.version;
    let applied = stored.task.apply(&Action::Cancel, chrono::Utc::now())?;
    let after = StoredTask {
        task: applied.task,
        ..stored.clone()
    };
    if !tasks::save(conn, &after, was)? {
        // An associate's change committed first: the event is handled again, against the task as it is now.
        let current = tasks::find(conn, stored.id)?.map_or(was, |t| t.task.version);
        return Err(TaskError::Stale {
            id: stored.id,
            expected: was,
            current,
        });
    }
    let detail = serde_json::json!({
        "order_id": stored.order_id, "location_id": stored.location_id, "why": why,
        "before": { "state": stored.task.state, "version": was },
        "after": { "state": after.task.state, "version": after.task.version },
    });
    omni_db::audit::record(
        conn,
        "omni:fulfillment",
        "task.cancel",
        &stored.id.to_string(),
        &detail,
    )?;
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new(
            "fulfillment",
            FulfillmentEvent::TaskChanged(StoreTaskChanged {
                order_id: stored.order_id,
                fulfillment_id: stored.fulfillment_id,
                task_id: stored.id,
                location_id: stored.location_id.clone(),
                action: Action::Cancel.name().to_owned(),
                state: after.task.state.as_str().to_owned(),
                version: after.task.version,
            }),
        ),
    )?;
    Ok(())
}

/// The letters of a pickup code: no 0/O, 1/I/L, so it reads back unambiguously.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A new pickup code: 8 letters from [`CODE_ALPHABET`] (about 40 bits), from the thread's CSPRNG.
fn pickup_code() -> String {
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// What is stored of a pickup code: its SHA-256, hex. Compared after upper-casing and trimming what was typed.
fn digest(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_ascii_uppercase().as_bytes()))
}

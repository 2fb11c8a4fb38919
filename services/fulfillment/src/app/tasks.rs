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
use crate::domain::task::{Action, Applied, Effect, TaskState};
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
    let refused = refusal(&applied);
    if let Some(effect) = applied.effects.iter().find(|e| match e {
        Effect::Reroute { .. } => refused.is_none(),
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
    save_over(conn, &stored, &after)?;
    announce(
        conn,
        Change {
            who: &actor.name,
            why: None,
            before: &stored,
            after: &after,
            action: &request.action,
            refused,
        },
        code,
    )?;
    Ok(after)
}

/// Why the whole task was refused, when the change refused it (its store rejected it, or its accept-by lapsed):
/// the order is then routed again without the store.
fn refusal(applied: &Applied) -> Option<String> {
    if applied.task.state != TaskState::Rerouted {
        return None;
    }
    applied.effects.iter().find_map(|e| match e {
        Effect::Reroute { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

/// Writes `after` over the version `before` was read at; [`TaskError::Stale`] when another change came first.
fn save_over(
    conn: &mut omni_db::DbConnection,
    before: &StoredTask,
    after: &StoredTask,
) -> Result<(), TaskError> {
    let was = before.task.version;
    if tasks::save(conn, after, was)? {
        return Ok(());
    }
    let current = tasks::find(conn, before.id)?.map_or(was, |t| t.task.version);
    Err(TaskError::Stale {
        id: before.id,
        expected: was,
        current,
    })
}

/// A change saved over a task: who made it (and why, when it was not a person's choice), the task before and
/// after, the action, and why the whole task was refused if it was.
struct Change<'a> {
    who: &'a str,
    why: Option<&'a str>,
    before: &'a StoredTask,
    after: &'a StoredTask,
    action: &'a Action,
    refused: Option<String>,
}

/// `omni.fulfillment.task_changed` for a change.
fn task_changed(before: &StoredTask, after: &StoredTask, action: &Action) -> FulfillmentEvent {
    FulfillmentEvent::TaskChanged(StoreTaskChanged {
        order_id: before.order_id,
        fulfillment_id: before.fulfillment_id,
        task_id: before.id,
        location_id: before.location_id.clone(),
        action: action.name().to_owned(),
        state: after.task.state.as_str().to_owned(),
        version: after.task.version,
    })
}

/// What follows a change saved over a task: its audit entry, `omni.fulfillment.task_changed`, the customer's
/// pickup `code` if one was issued, the fulfillment refused or completed when the task ended so, in the caller's
/// transaction.
fn announce(
    conn: &mut omni_db::DbConnection,
    change: Change<'_>,
    code: Option<String>,
) -> Result<(), TaskError> {
    let Change {
        who,
        why,
        before: stored,
        after,
        action,
        refused,
    } = change;
    let id = stored.id;
    let mut detail = serde_json::json!({
        "order_id": stored.order_id, "location_id": stored.location_id,
        "before": { "state": stored.task.state, "version": stored.task.version },
        "after": { "state": after.task.state, "version": after.task.version },
    });
    if let Some(why) = why {
        detail["why"] = why.into();
    }
    omni_db::audit::record(
        conn,
        who,
        &format!("task.{}", action.name()),
        &id.to_string(),
        &detail,
    )?;
    let publish = |conn: &mut omni_db::DbConnection, event: FulfillmentEvent| {
        omni_kafka::outbox::enqueue(conn, &Envelope::new("fulfillment", event))
    };
    publish(conn, task_changed(stored, after, action))?;
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
    if let Some(reason) = refused {
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
    tracing::info!(task.id = %id, order.id = %stored.order_id, location.id = %stored.location_id, action = action.name(), state = after.task.state.as_str(), "Store task changed.");
    Ok(())
}

/// Most overdue tasks handled in one transaction.
const TIMER_ROUND: i64 = 100;

/// Fires the accept-by timers that are due, in one transaction: each task still waiting to be accepted past its
/// deadline is refused as if its store had rejected it (the order is routed elsewhere). The deadline is the task's
/// own, so it survives restarts, and each firing is written over the version it read: if the store accepted it
/// meanwhile, the firing changes nothing. Returns how many fired.
pub fn fire_due_timers(
    conn: &mut omni_db::DbConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, TaskError> {
    let mut fired = 0;
    for id in tasks::overdue_to_accept(conn, now.naive_utc(), TIMER_ROUND)? {
        let Some(stored) = tasks::find(conn, id)? else {
            continue;
        };
        let Ok(applied) = stored.task.apply(&Action::AcceptByLapsed, now) else {
            continue;
        };
        let refused = refusal(&applied);
        let after = StoredTask {
            task: applied.task,
            ..stored.clone()
        };
        // Accepted meanwhile: the firing is stale and changes nothing.
        if !tasks::save(conn, &after, stored.task.version)? {
            continue;
        }
        let change = Change {
            who: SERVICE,
            why: None,
            before: &stored,
            after: &after,
            action: &Action::AcceptByLapsed,
            refused,
        };
        announce(conn, change, None)?;
        fired += 1;
    }
    Ok(fired)
}

/// Checks the task timers every second until shutdown.
pub fn run_timers(
    state: crate::app::State,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            let fired = state
                .db
                .transaction(|conn| fire_due_timers(conn, chrono::Utc::now()))
                .await;
            match fired {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(
                        tasks = n,
                        "Store tasks not accepted in time; their orders are routed again."
                    );
                    state.relay.notify_one();
                }
                Err(e) => tracing::warn!(error = %e, "Store task timers not checked; retrying."),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    })
}

/// Closes a fulfillment's open task when a manager records its outcome by hand (`how`: shipped or picked up), in
/// the caller's transaction, so the store's queue no longer shows work that is done. A fulfillment without a task
/// (released before tasks existed) or whose task is already done has nothing to close. The route audits the
/// completion; the task's change is announced.
pub fn complete_by_hand(
    conn: &mut omni_db::DbConnection,
    fulfillment: omni_contracts::FulfillmentId,
    how: HandedOver,
) -> Result<(), TaskError> {
    let action = Action::CompletedByHand(how);
    if let Some((before, after)) = close(conn, fulfillment, &action)? {
        omni_kafka::outbox::enqueue(
            conn,
            &Envelope::new("fulfillment", task_changed(&before, &after, &action)),
        )?;
    }
    Ok(())
}

/// Cancels a fulfillment's store task, if it has one that is not done, in the caller's transaction; recorded
/// (`task.cancel` by `omni:fulfillment`, with `why`) and announced like an associate's action. If an associate's
/// change committed first, the error makes the event be handled again, against the task as it is now.
pub fn cancel(
    conn: &mut omni_db::DbConnection,
    fulfillment: omni_contracts::FulfillmentId,
    why: &str,
) -> Result<(), TaskError> {
    if let Some((before, after)) = close(conn, fulfillment, &Action::Cancel)? {
        let change = Change {
            who: SERVICE,
            why: Some(why),
            before: &before,
            after: &after,
            action: &Action::Cancel,
            refused: None,
        };
        announce(conn, change, None)?;
    }
    Ok(())
}

/// Applies `action` to a fulfillment's task if it has one that is not done, and saves it; the task before and after.
fn close(
    conn: &mut omni_db::DbConnection,
    fulfillment: omni_contracts::FulfillmentId,
    action: &Action,
) -> Result<Option<(StoredTask, StoredTask)>, TaskError> {
    let Some(before) = tasks::find_for(conn, fulfillment)? else {
        return Ok(None);
    };
    if before.task.state.is_final() {
        return Ok(None);
    }
    let applied = before.task.apply(action, chrono::Utc::now())?;
    let after = StoredTask {
        task: applied.task,
        ..before.clone()
    };
    save_over(conn, &before, &after)?;
    Ok(Some((before, after)))
}

/// Who changes a task when no person does (a timer, a cancelled order), in audit entries.
const SERVICE: &str = "omni:fulfillment";

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

//! Acting on a store task: the action checked and applied by the task itself (`domain::task`), written over the
//! version it was decided on, with its audit entry, its `omni.fulfillment.task_changed` event and what it means
//! outside the task, all in one transaction: a shipment or a hand-over completes the fulfillment
//! (`omni.fulfillment.completed`: the order is fulfilled, its hold committed); staging a pickup issues the
//! customer's pickup code (`omni.fulfillment.ready_for_pickup`).

use omni_contracts::events::{
    FulfillmentCancelled, FulfillmentCompleted, FulfillmentEvent, FulfillmentRefused, HandedOver, HoldLine,
    HoldReduced, PickupReminder, ReadyForPickup, SlaBreached, StoreTaskChanged,
};
use omni_contracts::{Envelope, TaskId};
use omni_http::codes::digest;

use crate::app::{CodeLimits, Schedules};
use crate::db::fulfillments;
use crate::db::pickup_codes;
use crate::db::tasks::{self, StoredTask};
use crate::domain::FulfillmentStatus;
use crate::domain::task::{Action, Applied, Breach, Effect, TaskRefusal, TaskState, Windows};
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
    /// The caller's address (wrong pickup codes are limited per address).
    pub client: String,
}

/// Applies a caller's action to a task in the caller's transaction; returns the task after it.
pub fn act(
    conn: &mut omni_db::DbConnection,
    schedules: &Schedules,
    limits: &CodeLimits,
    routing: &Routing<'_>,
    actor: &Actor,
    request: &Request,
) -> Result<(StoredTask, Observation), TaskError> {
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
        // The proof the customer is the one the order is for: the code they were sent.
        prove(
            conn,
            limits,
            &stored,
            request.pickup_code.as_deref(),
            &request.client,
        )?;
    }
    // The whole task refused: the order is routed again without this store (orders asks for it). Part of it: the
    // units go to other nodes as new parts of the order, and the rest of the task goes on.
    let elsewhere = rerouted_part(&applied);
    let done = commit(
        conn,
        schedules,
        &stored,
        applied,
        &request.action,
        &actor.name,
        None,
    )?;
    if let (Some((units, why)), Some(fulfillment)) = (elsewhere, fulfillment) {
        send_elsewhere(conn, &fulfillment, &units, &why, routing)?;
    }
    Ok(done)
}

/// Units of a part its store will not fulfil while the rest goes on: given back from its hold
/// (`omni.fulfillment.hold_reduced`, so they are not held beyond what the store has) and routed to other nodes
/// as new parts of the order, in the caller's transaction.
fn send_elsewhere(
    conn: &mut omni_db::DbConnection,
    from: &crate::db::fulfillments::FulfillmentRow,
    units: &[(omni_contracts::Sku, u32)],
    why: &str,
    routing: &Routing<'_>,
) -> Result<(), TaskError> {
    let units: Vec<HoldLine> = units
        .iter()
        .filter_map(|(sku, n)| {
            Some(HoldLine {
                sku: sku.clone(),
                quantity: omni_contracts::Quantity::new(i64::from(*n)).ok()?,
            })
        })
        .collect();
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new(
            "fulfillment",
            FulfillmentEvent::HoldReduced(HoldReduced {
                order_id: from.order_id,
                fulfillment_id: from.id,
                reservation_id: from.reservation_id,
                location_id: from.location_id.clone(),
                units: units.clone(),
                reason: why.to_owned(),
            }),
        ),
    )?;
    crate::app::routing::reroute_units(conn, from, &units, why, routing.rules, routing.model)?;
    Ok(())
}

/// The units that left with a task shipped or handed over, when some of its units did not (they went to other
/// nodes: the store's hold commits only these); empty when every unit left.
fn units_that_left(task: &crate::domain::task::Task) -> Vec<HoldLine> {
    if task.lines.iter().all(|l| l.buckets.fulfilled() == l.ordered) {
        return Vec::new();
    }
    units_delivered(task)
}

/// Every unit that left with a task shipped or handed over, per SKU (what the customer is charged for).
pub fn units_delivered(task: &crate::domain::task::Task) -> Vec<HoldLine> {
    task.lines
        .iter()
        .filter_map(|l| {
            Some(HoldLine {
                sku: l.sku.clone(),
                quantity: omni_contracts::Quantity::new(i64::from(l.buckets.fulfilled())).ok()?,
            })
        })
        .collect()
}

/// What routing needs to send units elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct Routing<'a> {
    /// The routing rules in force.
    pub rules: &'a [omni_contracts::routing::RoutingRule],
    /// The cost model.
    pub model: &'a crate::domain::routing::cost::CostModel,
}

/// The units a change sends to other nodes while the rest of the task goes on, and why; `None` when it sends
/// none, or refuses the whole task (the order is then routed again, see [`refusal`]).
fn rerouted_part(applied: &Applied) -> Option<(Vec<(omni_contracts::Sku, u32)>, String)> {
    if refusal(applied).is_some() {
        return None;
    }
    let mut units = Vec::new();
    let mut why = Vec::new();
    for effect in &applied.effects {
        if let Effect::Reroute { units: more, reason } = effect {
            units.extend(more.iter().cloned());
            why.push(reason.clone());
        }
    }
    (!units.is_empty()).then(|| (units, why.join("; ")))
}

/// A curbside customer's "I'm here", as they send it.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The task (from their ready-for-pickup notification).
    pub id: TaskId,
    /// The code they were sent.
    pub pickup_code: String,
    /// The bay they parked at (`1` to the store's number of bays).
    pub bay: String,
    /// How to find the car.
    pub vehicle: String,
    /// Their address (wrong codes are limited per address).
    pub client: String,
}

/// A curbside customer arrives: with the right pickup code, at one of the store's bays, for an order ready for
/// them, the task moves to `arrived` (a runner is then assigned and hands it over at the car; the hand-over SLA
/// starts now). Recorded as `customer@<address>`; the code is never written anywhere. A wrong code changes
/// nothing ([`record_wrong_code`] counts it).
pub fn arrive(
    conn: &mut omni_db::DbConnection,
    schedules: &Schedules,
    limits: &CodeLimits,
    arrival: &Arrival,
) -> Result<(StoredTask, Observation), TaskError> {
    let id = arrival.id;
    let stored = tasks::find(conn, id)?.ok_or_else(|| TaskError::NotFound(id.to_string()))?;
    prove(conn, limits, &stored, Some(&arrival.pickup_code), &arrival.client)?;
    let bays = crate::db::network::profile(conn, &stored.location_id)?.map_or(0, |p| p.curbside_bays);
    if !arrival
        .bay
        .trim()
        .parse::<u32>()
        .is_ok_and(|bay| (1..=bays).contains(&bay))
    {
        return Err(TaskError::UnknownBay {
            bay: arrival.bay.clone(),
            location: stored.location_id.clone(),
            bays: if bays == 0 {
                "it has none".to_owned()
            } else {
                format!("1 to {bays}")
            },
        });
    }
    let fulfillment = fulfillments::find(conn, stored.fulfillment_id)?;
    if fulfillment.as_ref().map(|f| f.status) != Some(FulfillmentStatus::Released) {
        return Err(TaskError::FulfillmentClosed(id));
    }
    let action = Action::Arrive {
        bay: arrival.bay.trim().to_owned(),
        vehicle: arrival.vehicle.trim().to_owned(),
    };
    let applied = stored.task.apply(&action, chrono::Utc::now())?;
    let who = format!("customer@{}", arrival.client);
    commit(conn, schedules, &stored, applied, &action, &who, None)
}

/// Checks a pickup code presented for a task from `client`: refused outright while too many wrong ones were
/// tried lately for the task or from the address ([`TaskError::TooManyAttempts`], whatever the code), then
/// compared with the task's ([`TaskError::WrongPickupCode`]).
fn prove(
    conn: &mut omni_db::DbConnection,
    limits: &CodeLimits,
    stored: &StoredTask,
    code: Option<&str>,
    client: &str,
) -> Result<(), TaskError> {
    let since = omni_db::now() - limits.window;
    let failures = pickup_codes::failures(conn, stored.id, client, since)?;
    for ((count, oldest), limit) in [
        (failures.for_task, limits.per_task),
        (failures.from_client, limits.per_client),
    ] {
        if count >= i64::from(limit) {
            let again = oldest.unwrap_or(since) + limits.window;
            return Err(TaskError::TooManyAttempts(again.and_utc()));
        }
    }
    match (&stored.pickup_code_hash, code) {
        (Some(hash), Some(code)) if *hash == digest(code) => Ok(()),
        _ => Err(TaskError::WrongPickupCode),
    }
}

/// Counts a wrong pickup code tried for `task` from `client`, in its own transaction (the refused action changed
/// nothing else).
pub fn record_wrong_code(
    conn: &mut omni_db::DbConnection,
    task: TaskId,
    client: &str,
) -> Result<(), TaskError> {
    tracing::info!(task.id = %task, client, "A wrong pickup code was tried.");
    Ok(pickup_codes::record_failure(conn, task, client)?)
}

/// Writes a change decided on `stored`, in the caller's transaction, the same way whoever made it (an associate,
/// a customer, a timer, a till's shortage): the fulfillment first if the change ends the task
/// ([`settle_first`]); the pickup code issued when the task becomes ready (only its digest kept) and cleared once
/// it is handed over; the task over the version it was read at, its timers re-armed; then its audit entry by
/// `who` (and `why`, when it was not a person's choice) and its events ([`announce`]). Returns the task after it
/// and what it tells the metrics.
fn commit(
    conn: &mut omni_db::DbConnection,
    schedules: &Schedules,
    stored: &StoredTask,
    applied: Applied,
    action: &Action,
    who: &str,
    why: Option<&str>,
) -> Result<(StoredTask, Observation), TaskError> {
    let windows = schedules.at(conn, &stored.location_id)?.windows;
    settle_first(conn, stored, &applied)?;
    let refused = refusal(&applied);
    let mut after = StoredTask {
        task: applied.task,
        ..stored.clone()
    };
    let mut code = None;
    if applied.effects.contains(&Effect::ReadyForPickup) {
        let issued = omni_http::codes::new_code(PICKUP_CODE_LETTERS);
        after.pickup_code_hash = Some(digest(&issued));
        code = Some(issued);
    }
    // Used: it opens nothing any more.
    if after.task.state == TaskState::HandedOver {
        after.pickup_code_hash = None;
    }
    save_over(conn, stored, &after, &windows)?;
    let change = Change {
        who,
        why,
        before: stored,
        after: &after,
        action,
        effects: &applied.effects,
        windows: &windows,
        refused,
    };
    let seen = announce(conn, change, code)?;
    Ok((after, seen))
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

/// Writes `after` over the version `before` was read at, its timers re-armed for its state; [`TaskError::Stale`]
/// when another change came first.
fn save_over(
    conn: &mut omni_db::DbConnection,
    before: &StoredTask,
    after: &StoredTask,
    windows: &Windows,
) -> Result<(), TaskError> {
    let was = before.task.version;
    if tasks::save(conn, after, was, &after.task.timers(windows))? {
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
/// after, the action and what it means outside the task (with the windows it was decided under), and why the
/// whole task was refused if it was.
struct Change<'a> {
    who: &'a str,
    why: Option<&'a str>,
    before: &'a StoredTask,
    after: &'a StoredTask,
    action: &'a Action,
    effects: &'a [Effect],
    windows: &'a Windows,
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
/// pickup `code` if one was issued, a reminder or a breach its timer reported, the fulfillment refused, cancelled
/// (uncollected) or completed when the task ended so, in the caller's transaction.
fn announce(
    conn: &mut omni_db::DbConnection,
    change: Change<'_>,
    code: Option<String>,
) -> Result<Observation, TaskError> {
    let Change {
        who,
        why,
        before: stored,
        after,
        action,
        effects,
        windows,
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
    for effect in effects {
        let event = match effect {
            Effect::Breach(breach) => {
                let due = match breach {
                    Breach::ReadyBy => Some(after.task.ready_by),
                    Breach::CurbsideHandover => {
                        after.task.arrived_at.map(|at| at + windows.curbside_handover)
                    }
                };
                tracing::warn!(task.id = %id, order.id = %stored.order_id, location.id = %stored.location_id, breach = breach.as_str(), "A store task missed a promise to the customer.");
                due.map(|due| {
                    FulfillmentEvent::SlaBreached(SlaBreached {
                        order_id: stored.order_id,
                        task_id: id,
                        location_id: stored.location_id.clone(),
                        breach: breach.as_str().to_owned(),
                        due,
                    })
                })
            }
            Effect::Remind => after.task.ready_at.map(|ready_at| {
                FulfillmentEvent::PickupReminder(PickupReminder {
                    order_id: stored.order_id,
                    task_id: id,
                    location_id: stored.location_id.clone(),
                    closes: ready_at + windows.pickup,
                })
            }),
            Effect::CancelOrder { reason } => Some(FulfillmentEvent::Cancelled(FulfillmentCancelled {
                order_id: stored.order_id,
                fulfillment_id: stored.fulfillment_id,
                location_id: stored.location_id.clone(),
                reason: reason.clone(),
            })),
            // Announced above (the code), or with the refusal below, or by the completion below; units held
            // here go back on sale when allocation releases the hold of the cancelled order.
            Effect::ReadyForPickup
            | Effect::Reroute { .. }
            | Effect::Fulfilled { .. }
            | Effect::ReleaseHeld => None,
        };
        if let Some(event) = event {
            publish(conn, event)?;
        }
    }
    if let Some(reason) = refused {
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
        let reservation_id =
            crate::db::fulfillments::find(conn, stored.fulfillment_id)?.map(|f| f.reservation_id);
        publish(
            conn,
            FulfillmentEvent::Completed(FulfillmentCompleted {
                order_id: stored.order_id,
                fulfillment_id: stored.fulfillment_id,
                location_id: stored.location_id.clone(),
                how,
                reservation_id,
                left: units_that_left(&after.task),
                delivered: units_delivered(&after.task),
            }),
        )?;
    }
    tracing::info!(task.id = %id, order.id = %stored.order_id, location.id = %stored.location_id, action = action.name(), state = after.task.state.as_str(), "Store task changed.");
    Ok(Observation::of(stored, after, action, effects))
}

/// What a change tells the metrics, once committed (`crate::metrics::TaskMetrics::record`).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The task's store.
    pub location: omni_contracts::LocationId,
    /// Its method.
    pub method: crate::domain::task::Method,
    /// What changed it.
    pub action: &'static str,
    /// Its state after.
    pub state: TaskState,
    /// Seconds from release to ready for pickup (or shipped), when the change made it so.
    pub time_to_ready: Option<f64>,
    /// Seconds a curbside customer waited at the car, when the change handed the goods over.
    pub curbside_wait: Option<f64>,
    /// Promises the change reported missed.
    pub breaches: Vec<Breach>,
}

impl Observation {
    fn of(before: &StoredTask, after: &StoredTask, action: &Action, effects: &[Effect]) -> Self {
        let now = chrono::Utc::now();
        let seconds = |since: chrono::DateTime<chrono::Utc>| (now - since).as_seconds_f64().max(0.0);
        let (was, is) = (before.task.state, after.task.state);
        Observation {
            location: after.location_id.clone(),
            method: after.task.method,
            action: action.name(),
            state: is,
            time_to_ready: (was != is && matches!(is, TaskState::ReadyForPickup | TaskState::Shipped))
                .then(|| seconds(before.created_at.and_utc())),
            curbside_wait: (was != is && is == TaskState::HandedOver)
                .then_some(after.task.arrived_at)
                .flatten()
                .map(seconds),
            breaches: effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Breach(b) => Some(*b),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// Moves a task's released fulfillment to how a change ends the task, if it does: completed (shipped, handed
/// over), refused (the whole task refused) or cancelled (uncollected); [`TaskError::FulfillmentClosed`] if it is no
/// longer released (its order's cancel, or a manager's completion, came first: the whole change is undone). Called
/// before the task is written: every path writes a fulfillment before its task, so two concurrent changes never
/// wait on each other's rows (no deadlock), and the later one finds the fulfillment or the task moved.
fn settle_first(
    conn: &mut omni_db::DbConnection,
    before: &StoredTask,
    applied: &Applied,
) -> Result<(), TaskError> {
    let to = if refusal(applied).is_some() {
        FulfillmentStatus::Refused
    } else if applied
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CancelOrder { .. }))
    {
        FulfillmentStatus::Cancelled
    } else if matches!(applied.task.state, TaskState::Shipped | TaskState::HandedOver) {
        FulfillmentStatus::Completed
    } else {
        return Ok(());
    };
    if fulfillments::transition(conn, before.fulfillment_id, FulfillmentStatus::Released, to)? {
        Ok(())
    } else {
        Err(TaskError::FulfillmentClosed(before.id))
    }
}

/// Open tasks are counted for `omni_store_tasks_open` every this many timer rounds (seconds).
const OPEN_COUNT_EVERY: u64 = 10;

/// Most due timers fired in one transaction.
const TIMER_ROUND: i64 = 100;

/// Fires the task timers that are due at `now`, in one transaction; returns how many changed a task. Each timer
/// row names the task's version it was armed at: if the task changed since (an associate accepted it, the
/// customer collected it), the firing is stale and only removes the row. A firing is itself a change of the task,
/// saved over the version it read and announced like an associate's: a task not accepted in time is refused (the
/// order is routed elsewhere); a pickup not collected within its window is uncollected (its order cancelled:
/// allocation puts the units back on sale here, payments voids the authorization); a reminder or an SLA breach is
/// reported once. The rows are in the database, so timers survive restarts and any replica may fire them.
pub fn fire_due_timers(
    conn: &mut omni_db::DbConnection,
    now: chrono::DateTime<chrono::Utc>,
    schedules: &Schedules,
) -> Result<Vec<Observation>, TaskError> {
    let mut fired = Vec::new();
    for timer in tasks::due_timers(conn, now.naive_utc(), TIMER_ROUND)? {
        // Each firing in its own savepoint: one that turns out stale leaves nothing behind.
        let outcome = diesel::Connection::transaction(conn, |conn| fire(conn, &timer, now, schedules));
        match outcome {
            Ok(Some(seen)) => fired.push(seen),
            Ok(None) => {}
            // Changed meanwhile (the task, or its fulfillment by a cancel): the firing is stale.
            Err(TaskError::Stale { .. } | TaskError::FulfillmentClosed(_)) => tasks::disarm(conn, &timer)?,
            Err(e) => return Err(e),
        }
    }
    Ok(fired)
}

/// Fires one due timer; what it changed, if it changed the task.
fn fire(
    conn: &mut omni_db::DbConnection,
    timer: &tasks::DueTimer,
    now: chrono::DateTime<chrono::Utc>,
    schedules: &Schedules,
) -> Result<Option<Observation>, TaskError> {
    let Some(stored) = tasks::find(conn, timer.task_id)?.filter(|t| t.task.version == timer.version) else {
        tasks::disarm(conn, timer)?;
        return Ok(None);
    };
    let windows = schedules.at(conn, &stored.location_id)?.windows;
    let applied = match stored.task.fire(timer.kind, now, &windows) {
        Ok(applied) => applied,
        // The windows were changed in the settings since it was armed: armed again as they are now.
        Err(TaskRefusal::NotDue { .. }) => {
            tasks::rearm(conn, &stored, &stored.task.timers(&windows))?;
            return Ok(None);
        }
        Err(_) => {
            tasks::disarm(conn, timer)?;
            return Ok(None);
        }
    };
    let action = timer.kind.action();
    commit(conn, schedules, &stored, applied, &action, SERVICE, None).map(|(_, seen)| Some(seen))
}

/// Fires the task timers every second until shutdown, and forgets wrong pickup codes too old to count.
pub fn run_timers(
    state: crate::app::State,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut round: u64 = 0;
        loop {
            let (schedules, window) = (state.schedules, state.code_limits.window);
            let count_open = round.is_multiple_of(OPEN_COUNT_EVERY);
            round += 1;
            let fired = state
                .db
                .transaction(move |conn| {
                    pickup_codes::prune(conn, omni_db::now() - window, TIMER_ROUND * 10)?;
                    let fired = fire_due_timers(conn, chrono::Utc::now(), &schedules)?;
                    let open = if count_open {
                        Some(tasks::open_counts(conn)?)
                    } else {
                        None
                    };
                    Ok::<_, TaskError>((fired, open))
                })
                .await;
            match fired {
                Ok((fired, open)) => {
                    if !fired.is_empty() {
                        tracing::info!(changes = fired.len(), "Store task timers fired.");
                        state.relay.notify_one();
                    }
                    for seen in &fired {
                        state.task_metrics.record(seen);
                    }
                    if let Some(open) = open {
                        state.task_metrics.set_open(&open);
                    }
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
    schedules: &Schedules,
    fulfillment: omni_contracts::FulfillmentId,
    how: HandedOver,
) -> Result<Option<Vec<HoldLine>>, TaskError> {
    let action = Action::CompletedByHand(how);
    let Some((before, after, _)) = close(conn, schedules, fulfillment, &action)? else {
        return Ok(None);
    };
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new("fulfillment", task_changed(&before, &after, &action)),
    )?;
    Ok(Some(units_delivered(&after.task)))
}

/// Cancels a fulfillment's store task, if it has one that is not done, in the caller's transaction; recorded
/// (`task.cancel` by `omni:fulfillment`, with `why`) and announced like an associate's action. If an associate's
/// change committed first, the error makes the event be handled again, against the task as it is now.
pub fn cancel(
    conn: &mut omni_db::DbConnection,
    schedules: &Schedules,
    fulfillment: omni_contracts::FulfillmentId,
    why: &str,
) -> Result<(), TaskError> {
    if let Some((before, after, windows)) = close(conn, schedules, fulfillment, &Action::Cancel)? {
        let change = Change {
            who: SERVICE,
            why: Some(why),
            before: &before,
            after: &after,
            action: &Action::Cancel,
            // Nothing beyond the task: the order is cancelled already.
            effects: &[],
            windows: &windows,
            refused: None,
        };
        announce(conn, change, None)?;
    }
    Ok(())
}

/// Applies `action` to a fulfillment's task if it has one that is not done, and saves it; the task before and
/// after, and the windows of its node.
fn close(
    conn: &mut omni_db::DbConnection,
    schedules: &Schedules,
    fulfillment: omni_contracts::FulfillmentId,
    action: &Action,
) -> Result<Option<(StoredTask, StoredTask, Windows)>, TaskError> {
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
    let windows = schedules.at(conn, &before.location_id)?.windows;
    save_over(conn, &before, &after, &windows)?;
    Ok(Some((before, after, windows)))
}

/// A till sold `units` of `sku` held for an order's released task at `location` (allocation's shortage after
/// release), in the caller's transaction. When that leaves the task nothing to fulfil, it is refused like a
/// rejection: the order is routed again without the store (and allocation releases its hold there, so the units
/// held beyond on-hand are gone). When some of the task remains, the short units go to other nodes as a new part
/// of the order ([`crate::app::routing::reroute_units`]) and the rest of the task goes on; the store's hold
/// commits only what leaves. Returns the units marked short.
pub fn sold_at_till(
    conn: &mut omni_db::DbConnection,
    schedules: &Schedules,
    routing: &Routing<'_>,
    order_id: omni_contracts::OrderId,
    location: &omni_contracts::LocationId,
    sku: &omni_contracts::Sku,
    units: u32,
) -> Result<u32, TaskError> {
    let Some(released) = fulfillments::for_order(conn, order_id)?
        .into_iter()
        .find(|f| f.status == FulfillmentStatus::Released && f.location_id == *location)
    else {
        return Ok(0);
    };
    let Some(stored) = tasks::find_for(conn, released.id)? else {
        return Ok(0);
    };
    let held = stored
        .task
        .lines
        .iter()
        .find(|l| l.sku == *sku)
        .map_or(0, |l| l.buckets.held());
    let units = units.min(held);
    if units == 0 || stored.task.state.is_final() {
        return Ok(0);
    }
    let action = Action::SoldAtTill {
        sku: sku.clone(),
        units,
    };
    let applied = stored.task.apply(&action, chrono::Utc::now())?;
    let elsewhere = rerouted_part(&applied);
    commit(
        conn,
        schedules,
        &stored,
        applied,
        &action,
        SERVICE,
        Some("omni.reservation.shortage"),
    )?;
    if let Some((units, why)) = elsewhere {
        send_elsewhere(conn, &released, &units, &why, routing)?;
    }
    Ok(units)
}

/// Letters of a pickup code (about 40 bits).
const PICKUP_CODE_LETTERS: usize = 8;

/// Who changes a task when no person does (a timer, a cancelled order), in audit entries.
const SERVICE: &str = "omni:fulfillment";

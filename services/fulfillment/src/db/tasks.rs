//! Store tasks and their lines. A change is written only over the version it was decided on
//! ([`save`] answers `false` otherwise), so of two concurrent changes exactly one wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use omni_contracts::{FulfillmentId, LocationId, OrderId, Sku, TaskId};
use omni_db::DbConnection;

use super::schema::{store_task_lines, store_task_timers, store_tasks};
use crate::domain::task::{Buckets, Method, Parcel, Task, TaskLine, TaskState, TimerKind};

/// A task with what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTask {
    /// Its id.
    pub id: TaskId,
    /// The fulfillment it does.
    pub fulfillment_id: FulfillmentId,
    /// The order.
    pub order_id: OrderId,
    /// The store (or warehouse) doing it.
    pub location_id: LocationId,
    /// The work.
    pub task: Task,
    /// Pickup, curbside: the SHA-256 (hex) of the customer's pickup code, once ready.
    pub pickup_code_hash: Option<String>,
    /// The earliest deadline of its timers when it was last saved (the queue's order).
    pub deadline: NaiveDateTime,
    /// Made at (UTC).
    pub created_at: NaiveDateTime,
    /// Last change (UTC).
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = store_tasks)]
struct TaskRow {
    #[diesel(deserialize_as = String)]
    id: TaskId,
    #[diesel(deserialize_as = String)]
    fulfillment_id: FulfillmentId,
    #[diesel(deserialize_as = String)]
    order_id: OrderId,
    #[diesel(deserialize_as = String)]
    location_id: LocationId,
    #[diesel(deserialize_as = String)]
    method: Method,
    #[diesel(deserialize_as = String)]
    state: TaskState,
    version: i32,
    accept_by: NaiveDateTime,
    parcels: String,
    carrier: Option<String>,
    tracking: Option<String>,
    bay: Option<String>,
    vehicle: Option<String>,
    runner: Option<String>,
    pickup_code_hash: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    ready_by: NaiveDateTime,
    ready_at: Option<NaiveDateTime>,
    arrived_at: Option<NaiveDateTime>,
    reminded: bool,
    ready_late: bool,
    handover_late: bool,
    deadline: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = store_task_lines)]
struct LineRow {
    #[diesel(deserialize_as = String)]
    task_id: TaskId,
    #[diesel(deserialize_as = String)]
    sku: Sku,
    ordered: i32,
    open: i32,
    picked: i32,
    short: i32,
    packed: i32,
    staged: i32,
    handed_over: i32,
    shipped: i32,
    released: i32,
}

fn corrupt(id: TaskId, what: impl std::fmt::Display) -> omni_db::Error {
    omni_db::Error::Inconsistent(format!("store task {id} has a corrupt {what}"))
}

fn units(id: TaskId, n: i32) -> omni_db::Result<u32> {
    u32::try_from(n).map_err(|_| corrupt(id, format!("quantity {n}")))
}

fn stored(row: TaskRow, lines: Vec<LineRow>) -> omni_db::Result<StoredTask> {
    let id = row.id;
    let lines = lines
        .into_iter()
        .map(|l| {
            Ok(TaskLine {
                sku: l.sku,
                ordered: units(id, l.ordered)?,
                buckets: Buckets {
                    open: units(id, l.open)?,
                    picked: units(id, l.picked)?,
                    short: units(id, l.short)?,
                    packed: units(id, l.packed)?,
                    staged: units(id, l.staged)?,
                    handed_over: units(id, l.handed_over)?,
                    shipped: units(id, l.shipped)?,
                    released: units(id, l.released)?,
                },
            })
        })
        .collect::<omni_db::Result<Vec<_>>>()?;
    let parcels: Vec<Parcel> = serde_json::from_str(&row.parcels).map_err(|e| corrupt(id, e))?;
    Ok(StoredTask {
        id,
        fulfillment_id: row.fulfillment_id,
        order_id: row.order_id,
        location_id: row.location_id,
        task: Task {
            method: row.method,
            state: row.state,
            version: units(id, row.version)?,
            lines,
            accept_by: row.accept_by.and_utc(),
            ready_by: row.ready_by.and_utc(),
            ready_at: row.ready_at.map(|t| t.and_utc()),
            arrived_at: row.arrived_at.map(|t| t.and_utc()),
            reminded: row.reminded,
            ready_late: row.ready_late,
            handover_late: row.handover_late,
            parcels,
            shipment: row.carrier.zip(row.tracking),
            arrival: row.bay.zip(row.vehicle),
            runner: row.runner,
        },
        pickup_code_hash: row.pickup_code_hash,
        deadline: row.deadline,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A task's timers as armed: `(kind, due)`.
pub type Timers = [(TimerKind, chrono::DateTime<chrono::Utc>)];

/// Records a new task with its lines and its `timers` (its deadline is the earliest of them but a reminder).
pub fn insert(conn: &mut DbConnection, new: &StoredTask, timers: &Timers) -> omni_db::Result<()> {
    let task = &new.task;
    let parcels = serde_json::to_string(&task.parcels).map_err(|e| corrupt(new.id, e))?;
    diesel::insert_into(store_tasks::table)
        .values((
            store_tasks::id.eq(new.id.to_string()),
            store_tasks::fulfillment_id.eq(new.fulfillment_id.to_string()),
            store_tasks::order_id.eq(new.order_id.to_string()),
            store_tasks::location_id.eq(new.location_id.as_str()),
            store_tasks::method.eq(task.method.as_str()),
            store_tasks::state.eq(task.state.as_str()),
            store_tasks::version.eq(signed(task.version)),
            store_tasks::accept_by.eq(task.accept_by.naive_utc()),
            store_tasks::ready_by.eq(task.ready_by.naive_utc()),
            store_tasks::ready_at.eq(task.ready_at.map(|t| t.naive_utc())),
            store_tasks::arrived_at.eq(task.arrived_at.map(|t| t.naive_utc())),
            store_tasks::reminded.eq(task.reminded),
            store_tasks::ready_late.eq(task.ready_late),
            store_tasks::handover_late.eq(task.handover_late),
            store_tasks::deadline.eq(deadline(timers).unwrap_or(new.deadline)),
            store_tasks::parcels.eq(parcels),
            store_tasks::pickup_code_hash.eq(new.pickup_code_hash.as_deref()),
            store_tasks::created_at.eq(new.created_at),
            store_tasks::updated_at.eq(new.updated_at),
        ))
        .execute(conn)?;
    arm(conn, new.id, task.version, timers)?;
    for (line_no, line) in (0..).zip(&task.lines) {
        diesel::insert_into(store_task_lines::table)
            .values((
                store_task_lines::task_id.eq(new.id.to_string()),
                store_task_lines::sku.eq(line.sku.as_str()),
                store_task_lines::line_no.eq(line_no),
                store_task_lines::ordered.eq(signed(line.ordered)),
                bucket_columns(&line.buckets),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The queue's deadline of a task with `timers`: the earliest, a reminder aside.
fn deadline(timers: &Timers) -> Option<NaiveDateTime> {
    timers
        .iter()
        .filter(|(kind, _)| *kind != TimerKind::PickupReminder)
        .map(|(_, due)| due.naive_utc())
        .min()
}

/// Replaces a task's timers by `timers`, armed for `version`.
fn arm(conn: &mut DbConnection, id: TaskId, version: u32, timers: &Timers) -> omni_db::Result<()> {
    diesel::delete(store_task_timers::table.filter(store_task_timers::task_id.eq(id.to_string())))
        .execute(conn)?;
    for (kind, due) in timers {
        diesel::insert_into(store_task_timers::table)
            .values((
                store_task_timers::task_id.eq(id.to_string()),
                store_task_timers::kind.eq(kind.as_str()),
                store_task_timers::due_at.eq(due.naive_utc()),
                store_task_timers::version.eq(signed(version)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A timer that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// The task.
    pub task_id: TaskId,
    /// What fires.
    pub kind: TimerKind,
    /// The task's version it was armed at.
    pub version: u32,
}

/// Timers due at `now` (at most `limit`), earliest first.
pub fn due_timers(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> omni_db::Result<Vec<DueTimer>> {
    let rows: Vec<(String, String, i32)> = store_task_timers::table
        .filter(store_task_timers::due_at.le(now))
        .order((store_task_timers::due_at.asc(), store_task_timers::task_id.asc()))
        .limit(limit)
        .select((
            store_task_timers::task_id,
            store_task_timers::kind,
            store_task_timers::version,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(task_id, kind, version)| {
            let task_id = TaskId::try_from(task_id)
                .map_err(|e| omni_db::Error::Inconsistent(format!("a task timer's task id: {e}")))?;
            Ok(DueTimer {
                task_id,
                kind: TimerKind::try_from(kind).map_err(|e| corrupt(task_id, e))?,
                version: units(task_id, version)?,
            })
        })
        .collect()
}

/// Arms a task's `timers` again for its current version (the windows they follow changed).
pub fn rearm(conn: &mut DbConnection, stored: &StoredTask, timers: &Timers) -> omni_db::Result<()> {
    arm(conn, stored.id, stored.task.version, timers)
}

/// Removes one timer of a task (a stale firing: the task changed since it was armed, and re-armed its own).
pub fn disarm(conn: &mut DbConnection, timer: &DueTimer) -> omni_db::Result<()> {
    diesel::delete(
        store_task_timers::table
            .find((timer.task_id.to_string(), timer.kind.as_str()))
            .filter(store_task_timers::version.eq(signed(timer.version))),
    )
    .execute(conn)?;
    Ok(())
}

/// Writes `changed` over the stored task if it is still at version `was`, with its `timers` re-armed for its new
/// version; `false` (nothing written) when another change came first.
pub fn save(
    conn: &mut DbConnection,
    changed: &StoredTask,
    was: u32,
    timers: &Timers,
) -> omni_db::Result<bool> {
    let task = &changed.task;
    let parcels = serde_json::to_string(&task.parcels).map_err(|e| corrupt(changed.id, e))?;
    let (carrier, tracking) = task.shipment.clone().unzip();
    let (bay, vehicle) = task.arrival.clone().unzip();
    let written = diesel::update(
        store_tasks::table
            .find(changed.id.to_string())
            .filter(store_tasks::version.eq(signed(was))),
    )
    .set((
        store_tasks::state.eq(task.state.as_str()),
        store_tasks::version.eq(signed(task.version)),
        store_tasks::parcels.eq(parcels),
        store_tasks::carrier.eq(carrier),
        store_tasks::tracking.eq(tracking),
        store_tasks::bay.eq(bay),
        store_tasks::vehicle.eq(vehicle),
        store_tasks::runner.eq(task.runner.clone()),
        store_tasks::pickup_code_hash.eq(changed.pickup_code_hash.as_deref()),
        store_tasks::ready_at.eq(task.ready_at.map(|t| t.naive_utc())),
        store_tasks::arrived_at.eq(task.arrived_at.map(|t| t.naive_utc())),
        store_tasks::reminded.eq(task.reminded),
        store_tasks::ready_late.eq(task.ready_late),
        store_tasks::handover_late.eq(task.handover_late),
        store_tasks::deadline.eq(deadline(timers).unwrap_or(changed.deadline)),
        store_tasks::updated_at.eq(omni_db::now()),
    ))
    .execute(conn)?;
    if written == 0 {
        return Ok(false);
    }
    arm(conn, changed.id, task.version, timers)?;
    for line in &task.lines {
        diesel::update(store_task_lines::table.find((changed.id.to_string(), line.sku.as_str())))
            .set(bucket_columns(&line.buckets))
            .execute(conn)?;
    }
    Ok(true)
}

/// A line's buckets as the values of their columns, for an insert or an update.
fn bucket_columns(b: &Buckets) -> BucketColumns {
    use store_task_lines as l;
    (
        l::open.eq(signed(b.open)),
        l::picked.eq(signed(b.picked)),
        l::short.eq(signed(b.short)),
        l::packed.eq(signed(b.packed)),
        l::staged.eq(signed(b.staged)),
        l::handed_over.eq(signed(b.handed_over)),
        l::shipped.eq(signed(b.shipped)),
        l::released.eq(signed(b.released)),
    )
}

type BucketColumns = (
    diesel::dsl::Eq<store_task_lines::open, i32>,
    diesel::dsl::Eq<store_task_lines::picked, i32>,
    diesel::dsl::Eq<store_task_lines::short, i32>,
    diesel::dsl::Eq<store_task_lines::packed, i32>,
    diesel::dsl::Eq<store_task_lines::staged, i32>,
    diesel::dsl::Eq<store_task_lines::handed_over, i32>,
    diesel::dsl::Eq<store_task_lines::shipped, i32>,
    diesel::dsl::Eq<store_task_lines::released, i32>,
);

fn signed(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// One task.
pub fn find(conn: &mut DbConnection, id: TaskId) -> omni_db::Result<Option<StoredTask>> {
    let Some(row) = store_tasks::table
        .find(id.to_string())
        .select(TaskRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let lines = store_task_lines::table
        .filter(store_task_lines::task_id.eq(id.to_string()))
        .order(store_task_lines::line_no.asc())
        .select(LineRow::as_select())
        .load(conn)?;
    stored(row, lines).map(Some)
}

/// The task of a fulfillment, if it has one.
pub fn find_for(conn: &mut DbConnection, fulfillment: FulfillmentId) -> omni_db::Result<Option<StoredTask>> {
    let id: Option<String> = store_tasks::table
        .filter(store_tasks::fulfillment_id.eq(fulfillment.to_string()))
        .select(store_tasks::id)
        .first(conn)
        .optional()?;
    match id.map(TaskId::try_from).transpose() {
        Ok(Some(id)) => find(conn, id),
        Ok(None) => Ok(None),
        Err(e) => Err(omni_db::Error::Inconsistent(format!(
            "fulfillment {fulfillment}'s task has a corrupt id: {e}"
        ))),
    }
}

/// Tasks with work left, by store and state: `(location, state, tasks)`, with 0 for every state with work left
/// at every node the catalog announced that has none in it (an empty queue reads 0, not "no data").
pub fn open_counts(conn: &mut DbConnection) -> omni_db::Result<Vec<(String, TaskState, i64)>> {
    let mut counts = counted(conn)?;
    let known: std::collections::HashSet<(String, TaskState)> =
        counts.iter().map(|(l, s, _)| (l.clone(), *s)).collect();
    let nodes: Vec<String> = super::schema::nodes::table
        .select(super::schema::nodes::location_id)
        .load(conn)?;
    for node in nodes {
        for state in TaskState::ALL.into_iter().filter(|s| !s.is_final()) {
            if !known.contains(&(node.clone(), state)) {
                counts.push((node.clone(), state, 0));
            }
        }
    }
    Ok(counts)
}

fn counted(conn: &mut DbConnection) -> omni_db::Result<Vec<(String, TaskState, i64)>> {
    use diesel::dsl::count_star;
    let open: Vec<&str> = TaskState::ALL
        .into_iter()
        .filter(|s| !s.is_final())
        .map(TaskState::as_str)
        .collect();
    let rows: Vec<(String, String, i64)> = store_tasks::table
        .filter(store_tasks::state.eq_any(open))
        .group_by((store_tasks::location_id, store_tasks::state))
        .select((store_tasks::location_id, store_tasks::state, count_star()))
        .load(conn)?;
    rows.into_iter()
        .map(|(location, state, n)| {
            let state = TaskState::try_from(state)
                .map_err(|e| omni_db::Error::Inconsistent(format!("a store task at {location}: {e}")))?;
            Ok((location, state, n))
        })
        .collect()
}

/// Where a page of a store's queue starts: after this task's deadline and id.
pub type QueueCursor = (NaiveDateTime, TaskId);

/// A page of a store's tasks in `states`, earliest deadline first (then by id), after `after`.
pub fn queue(
    conn: &mut DbConnection,
    location: &LocationId,
    states: &[TaskState],
    after: Option<QueueCursor>,
    limit: i64,
) -> omni_db::Result<Vec<StoredTask>> {
    let mut query = store_tasks::table
        .filter(store_tasks::location_id.eq(location.as_str()))
        .filter(store_tasks::state.eq_any(states.iter().map(|s| s.as_str())))
        .into_boxed();
    if let Some((deadline, id)) = after {
        query = query.filter(
            store_tasks::deadline.gt(deadline).or(store_tasks::deadline
                .eq(deadline)
                .and(store_tasks::id.gt(id.to_string()))),
        );
    }
    let rows: Vec<TaskRow> = query
        .order((store_tasks::deadline.asc(), store_tasks::id.asc()))
        .limit(limit)
        .select(TaskRow::as_select())
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let lines: Vec<LineRow> = store_task_lines::table
        .filter(store_task_lines::task_id.eq_any(&ids))
        .order((store_task_lines::task_id.asc(), store_task_lines::line_no.asc()))
        .select(LineRow::as_select())
        .load(conn)?;
    let mut by_task: std::collections::HashMap<TaskId, Vec<LineRow>> = std::collections::HashMap::new();
    for line in lines {
        by_task.entry(line.task_id).or_default().push(line);
    }
    rows.into_iter()
        .map(|row| {
            let mine = by_task.remove(&row.id).unwrap_or_default();
            stored(row, mine)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{Action, PickedLine, Windows};
    use chrono::{Duration, Utc};

    fn windows() -> Windows {
        Windows {
            pickup: Duration::days(3),
            reminder_before: Duration::days(1),
            curbside_handover: Duration::minutes(10),
        }
    }

    /// Saves `changed` over version `was` with the timers of its state.
    fn save_armed(conn: &mut DbConnection, changed: &StoredTask, was: u32) -> omni_db::Result<bool> {
        save(conn, changed, was, &changed.task.timers(&windows()))
    }

    /// A pickup of two tees and a cap, to be accepted within `accept_in_minutes` and ready a minute later.
    fn new_task(location: &LocationId, accept_in_minutes: i64) -> anyhow::Result<StoredTask> {
        use chrono::SubsecRound;
        // At the precision both backends keep.
        let now = omni_db::now().trunc_subsecs(6);
        let accept_by = now + Duration::minutes(accept_in_minutes);
        Ok(StoredTask {
            id: TaskId::generate(),
            fulfillment_id: FulfillmentId::generate(),
            order_id: OrderId::generate(),
            location_id: location.clone(),
            task: Task::new(
                Method::Pickup,
                vec![(Sku::parse("TEE")?, 2), (Sku::parse("CAP")?, 1)],
                accept_by.and_utc(),
                (accept_by + Duration::minutes(1)).and_utc(),
            ),
            pickup_code_hash: None,
            deadline: accept_by,
            created_at: now,
            updated_at: now,
        })
    }

    /// On both backends: a task reads back as written; a change is written only over the version it was decided
    /// on; a store's queue holds its open tasks, earliest deadline first, and paging on misses none.
    #[tokio::test]
    async fn a_task_round_trips_changes_once_per_version_and_queues_by_deadline() -> anyhow::Result<()> {
        use omni_db::testing::{Backend, TestDatabase};
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let database = TestDatabase::create(backend)?;
            let db = database.migrated(crate::MIGRATIONS).await?;
            let (here, there) = (LocationId::parse("S1")?, LocationId::parse("S2")?);
            let late = new_task(&here, 50)?;
            let soon = new_task(&here, 10)?;
            let middle = new_task(&here, 30)?;
            let elsewhere = new_task(&there, 1)?;
            let all = [late.clone(), soon.clone(), middle.clone(), elsewhere];
            let written = soon.clone();
            let (read, first_wins, second_wins, pages) = db
                .transaction(move |conn| -> anyhow::Result<_> {
                    for t in &all {
                        insert(conn, t, &t.task.timers(&windows()))?;
                    }
                    let read = find(conn, written.id)?;
                    let accepted = written.task.apply(
                        &Action::Accept {
                            rejected: vec![],
                            reason: None,
                        },
                        Utc::now(),
                    )?;
                    let picked = accepted.task.apply(
                        &Action::Pick(vec![PickedLine {
                            sku: Sku::parse("TEE")?,
                            picked: 1,
                            short: 1,
                        }]),
                        Utc::now(),
                    )?;
                    let first = StoredTask {
                        task: accepted.task.clone(),
                        ..written.clone()
                    };
                    let first_wins = save_armed(conn, &first, written.task.version)?;
                    // Decided on the same version as the first: it must lose.
                    let second_wins = save_armed(conn, &first, written.task.version)?;
                    let after_pick = StoredTask {
                        task: picked.task,
                        ..written.clone()
                    };
                    anyhow::ensure!(save_armed(conn, &after_pick, accepted.task.version)?);
                    let open: Vec<TaskState> = TaskState::ALL.into_iter().filter(|s| !s.is_final()).collect();
                    let mut pages = Vec::new();
                    let mut after = None;
                    loop {
                        let page = queue(conn, &LocationId::parse("S1")?, &open, after, 2)?;
                        let Some(last) = page.last() else { break };
                        after = Some((last.deadline, last.id));
                        pages.push(page);
                    }
                    Ok((read, first_wins, second_wins, pages))
                })
                .await?;
            let read = read.ok_or_else(|| anyhow::anyhow!("{backend:?}: the task is not found"))?;
            assert_eq!(read, soon, "{backend:?}: reads back as written");
            assert!(first_wins && !second_wins, "{backend:?}: one change per version");
            let queued: Vec<Vec<TaskId>> = pages
                .iter()
                .map(|page| page.iter().map(|t| t.id).collect())
                .collect();
            assert_eq!(
                queued,
                vec![vec![soon.id, middle.id], vec![late.id]],
                "{backend:?}"
            );
            let picked = &pages[0][0].task;
            assert_eq!(picked.state, TaskState::Picking, "{backend:?}");
            let tee = picked
                .lines
                .iter()
                .find(|l| l.sku.as_str() == "TEE")
                .map(|l| l.buckets);
            assert_eq!(
                tee.map(|b| (b.open, b.picked, b.short, b.total())),
                Some((0, 1, 1, 2)),
                "{backend:?}"
            );
        }
        Ok(())
    }

    /// On both backends: a task's timers are armed with it and re-armed at each change for its new version; only
    /// those due come back, earliest first; disarming a stale one leaves the re-armed ones.
    #[tokio::test]
    async fn timers_are_rearmed_at_each_change_and_come_due_in_order() -> anyhow::Result<()> {
        use omni_db::testing::{Backend, TestDatabase};
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let database = TestDatabase::create(backend)?;
            let db = database.migrated(crate::MIGRATIONS).await?;
            let here = LocationId::parse("S1")?;
            let overdue = new_task(&here, -5)?;
            let later = new_task(&here, 30)?;
            let (at_first, after_accept, stale_left) = db
                .transaction(move |conn| -> anyhow::Result<_> {
                    for t in [&overdue, &later] {
                        insert(conn, t, &t.task.timers(&windows()))?;
                    }
                    let now = omni_db::now();
                    let at_first = due_timers(conn, now, 10)?;
                    let accepted = overdue.task.apply(
                        &Action::Accept {
                            rejected: vec![],
                            reason: None,
                        },
                        overdue.task.accept_by - Duration::minutes(1),
                    )?;
                    let after = StoredTask {
                        task: accepted.task,
                        ..overdue.clone()
                    };
                    anyhow::ensure!(save_armed(conn, &after, 1)?);
                    let after_accept = due_timers(conn, now, 10)?;
                    // The accept-by firing read before the accept is stale: disarming it leaves ready-by.
                    disarm(
                        conn,
                        &DueTimer {
                            task_id: overdue.id,
                            kind: TimerKind::AcceptBy,
                            version: 1,
                        },
                    )?;
                    disarm(
                        conn,
                        &DueTimer {
                            task_id: overdue.id,
                            kind: TimerKind::ReadyBy,
                            version: 1,
                        },
                    )?;
                    Ok((at_first, after_accept, due_timers(conn, now, 10)?))
                })
                .await?;
            let timer = |kind, version| DueTimer {
                task_id: at_first[0].task_id,
                kind,
                version,
            };
            assert_eq!(
                at_first,
                [timer(TimerKind::AcceptBy, 1), timer(TimerKind::ReadyBy, 1)],
                "{backend:?}"
            );
            assert_eq!(after_accept, [timer(TimerKind::ReadyBy, 2)], "{backend:?}");
            assert_eq!(stale_left, [timer(TimerKind::ReadyBy, 2)], "{backend:?}");
        }
        Ok(())
    }
}

//! Wrong pickup codes, by task and by client address: what guessing is limited by. Rows are written in their own
//! transaction (the refused attempt changes nothing else) and pruned once older than the window they count in.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use omni_contracts::TaskId;
use omni_db::DbConnection;

use super::schema::pickup_code_failures;

/// Records a wrong code tried for `task` from `client`.
pub fn record_failure(conn: &mut DbConnection, task: TaskId, client: &str) -> omni_db::Result<()> {
    diesel::insert_into(pickup_code_failures::table)
        .values((
            pickup_code_failures::id.eq(uuid::Uuid::now_v7().to_string()),
            pickup_code_failures::task_id.eq(task.to_string()),
            pickup_code_failures::client.eq(client),
            pickup_code_failures::at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Wrong codes tried since `since`: for `task` (any client), and from `client` (any task); with the oldest of
/// each, so a refusal can say when trying is allowed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// For the task.
    pub for_task: (i64, Option<NaiveDateTime>),
    /// From the client.
    pub from_client: (i64, Option<NaiveDateTime>),
}

/// Counts wrong codes since `since`.
pub fn failures(
    conn: &mut DbConnection,
    task: TaskId,
    client: &str,
    since: NaiveDateTime,
) -> omni_db::Result<Failures> {
    use diesel::dsl::{count_star, min};
    let for_task = pickup_code_failures::table
        .filter(pickup_code_failures::task_id.eq(task.to_string()))
        .filter(pickup_code_failures::at.gt(since))
        .select((count_star(), min(pickup_code_failures::at)))
        .first(conn)?;
    let from_client = pickup_code_failures::table
        .filter(pickup_code_failures::client.eq(client))
        .filter(pickup_code_failures::at.gt(since))
        .select((count_star(), min(pickup_code_failures::at)))
        .first(conn)?;
    Ok(Failures {
        for_task,
        from_client,
    })
}

/// Forgets wrong codes from before `before` (at most `limit`); returns how many.
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime, limit: i64) -> omni_db::Result<usize> {
    let old: Vec<String> = pickup_code_failures::table
        .filter(pickup_code_failures::at.le(before))
        .select(pickup_code_failures::id)
        .limit(limit)
        .load(conn)?;
    Ok(
        diesel::delete(pickup_code_failures::table.filter(pickup_code_failures::id.eq_any(old)))
            .execute(conn)?,
    )
}

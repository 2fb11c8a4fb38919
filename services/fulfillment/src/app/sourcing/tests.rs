//! A paid order's cancel racing an associate's hand-over (issue 21): the cancel reaches fulfillment while the
//! customer is at the counter. Exactly one wins, whichever comes first and when both run at once, on both
//! backends: either the goods left (the fulfillment completed, the task handed over, no cancellation sent) or the
//! order is cancelled (the fulfillment and task cancelled, one `omni.fulfillment.cancelled`, the hand-over
//! refused). Never both: goods gone with the payment voided.

use chrono::{Duration, SubsecRound, Utc};
use diesel::prelude::*;
use omni_contracts::{FulfillmentId, LocationId, OrderId, ReservationId, Sku, TaskId};
use omni_db::Db;
use omni_db::testing::{Backend, TestDatabase};

use super::stop_for_cancel;
use crate::app::tasks::{Actor, Request, act};
use crate::app::{CodeLimits, Schedules};
use crate::db::fulfillments::{self, FulfillmentRow, Work};
use crate::db::tasks::{self, StoredTask};
use crate::domain::FulfillmentStatus;
use crate::domain::task::{Action, Method, Parcel, PickedLine, Schedule, Task, TaskState, Windows};
use crate::error::{SourcingError, TaskError};
use omni_http::codes::digest;

const CODE: &str = "K7M2Q9XR";

fn schedules() -> Schedules {
    let schedule = Schedule {
        accept_within: Duration::minutes(30),
        ready_within: Duration::hours(2),
        windows: Windows {
            pickup: Duration::days(3),
            reminder_before: Duration::days(1),
            curbside_handover: Duration::minutes(10),
        },
    };
    Schedules {
        store: schedule,
        warehouse: schedule,
    }
}

fn limits() -> CodeLimits {
    CodeLimits {
        per_task: 5,
        per_client: 20,
        window: Duration::minutes(15),
    }
}

/// A released pickup of one tee at S1, ready at the counter with [`CODE`]: its order and task.
async fn at_the_counter(db: &Db) -> anyhow::Result<(OrderId, TaskId)> {
    let now = omni_db::now().trunc_subsecs(6);
    let order_id = OrderId::generate();
    let row = FulfillmentRow {
        id: FulfillmentId::generate(),
        order_id,
        location_id: LocationId::parse("S1")?,
        reservation_id: ReservationId::generate(),
        status: FulfillmentStatus::Released,
        explanation: "{}".into(),
        created_at: now,
        updated_at: now,
    };
    let mut task = Task::new(
        Method::Pickup,
        vec![(Sku::parse("TEE")?, 1)],
        (now + Duration::minutes(30)).and_utc(),
        (now + Duration::hours(2)).and_utc(),
    );
    for action in [
        Action::Accept {
            rejected: vec![],
            reason: None,
        },
        Action::Pick(vec![PickedLine {
            sku: Sku::parse("TEE")?,
            picked: 1,
            short: 0,
        }]),
        Action::Pack(vec![Parcel { weight_grams: 300 }]),
        Action::Stage,
    ] {
        task = task.apply(&action, Utc::now())?.task;
    }
    let stored = StoredTask {
        id: TaskId::generate(),
        fulfillment_id: row.id,
        order_id,
        location_id: row.location_id.clone(),
        task,
        pickup_code_hash: Some(digest(CODE)),
        deadline: now,
        created_at: now,
        updated_at: now,
    };
    let task_id = stored.id;
    db.transaction(move |conn| -> anyhow::Result<()> {
        let work = Work {
            lines: vec![],
            method: Method::Pickup,
            promise_by: None,
        };
        fulfillments::insert(conn, &row, &work)?;
        tasks::insert(conn, &stored, &[])?;
        Ok(())
    })
    .await?;
    Ok((order_id, task_id))
}

async fn hand_over(db: &Db, id: TaskId) -> Result<StoredTask, TaskError> {
    db.transaction(move |conn| {
        let actor = Actor {
            name: "kim".into(),
            stores: vec![],
        };
        let request = Request {
            id,
            expected_version: None,
            action: Action::HandOver,
            pickup_code: Some(CODE.into()),
            client: "127.0.0.1".into(),
        };
        let model = crate::domain::routing::cost::CostModel::default();
        let routing = crate::app::tasks::Routing {
            rules: &[],
            model: &model,
        };
        act(conn, &schedules(), &limits(), &routing, &actor, &request).map(|(task, _)| task)
    })
    .await
}

/// The cancel as the orders consumer delivers it: handled again (same event id) while it fails transiently.
async fn cancel(db: &Db, order_id: OrderId) -> anyhow::Result<()> {
    let event_id = uuid::Uuid::now_v7().to_string();
    for _ in 0..20 {
        let event_id = event_id.clone();
        match db
            .transaction(move |conn| {
                stop_for_cancel(
                    conn,
                    &event_id,
                    order_id,
                    "cancelled by the customer",
                    &schedules(),
                )
            })
            .await
        {
            Ok(()) => return Ok(()),
            Err(SourcingError::Task(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("the cancel of {order_id} never settled")
}

/// How the race ended: the fulfillment's status, the task's state, and how many `omni.fulfillment.cancelled`
/// were sent for the order.
async fn outcome(
    db: &Db,
    order_id: OrderId,
    task: TaskId,
) -> anyhow::Result<(FulfillmentStatus, TaskState, usize)> {
    db.transaction(move |conn| -> anyhow::Result<_> {
        use omni_db::schema::omni_outbox;
        let status = fulfillments::for_order(conn, order_id)?[0].status;
        let state = tasks::find(conn, task)?.map(|t| t.task.state);
        let bodies: Vec<(String, String)> = omni_outbox::table
            .select((omni_outbox::headers, omni_outbox::body))
            .load(conn)?;
        let cancelled = bodies
            .iter()
            .filter(|(headers, body)| {
                headers.contains("omni.fulfillment.cancelled") && body.contains(&order_id.to_string())
            })
            .count();
        Ok((
            status,
            state.ok_or_else(|| anyhow::anyhow!("task {task} is gone"))?,
            cancelled,
        ))
    })
    .await
}

fn one_winner(
    handed: &Result<StoredTask, TaskError>,
    (status, state, cancelled): (FulfillmentStatus, TaskState, usize),
    what: &str,
) -> anyhow::Result<()> {
    match status {
        FulfillmentStatus::Completed => anyhow::ensure!(
            handed.is_ok() && state == TaskState::HandedOver && cancelled == 0,
            "{what}: completed, yet {handed:?}, {state:?}, {cancelled} cancellation(s)"
        ),
        FulfillmentStatus::Cancelled => anyhow::ensure!(
            handed.is_err() && state == TaskState::Cancelled && cancelled == 1,
            "{what}: cancelled, yet {handed:?}, {state:?}, {cancelled} cancellation(s)"
        ),
        other => anyhow::bail!("{what}: the fulfillment ended {other}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_cancel_and_a_hand_over_never_both_win() -> anyhow::Result<()> {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(crate::MIGRATIONS).await?;

        // The hand-over first: the cancel comes too late and sends nothing.
        let (order, task) = at_the_counter(&db).await?;
        let handed = hand_over(&db, task).await;
        cancel(&db, order).await?;
        let ended = outcome(&db, order, task).await?;
        anyhow::ensure!(ended.0 == FulfillmentStatus::Completed, "{backend:?}: {ended:?}");
        one_winner(&handed, ended, &format!("{backend:?}, hand-over first"))?;

        // The cancel first: the hand-over is refused.
        let (order, task) = at_the_counter(&db).await?;
        cancel(&db, order).await?;
        let handed = hand_over(&db, task).await;
        let ended = outcome(&db, order, task).await?;
        anyhow::ensure!(ended.0 == FulfillmentStatus::Cancelled, "{backend:?}: {ended:?}");
        one_winner(&handed, ended, &format!("{backend:?}, cancel first"))?;

        // Both at once, many times.
        for round in 0..12 {
            let (order, task) = at_the_counter(&db).await?;
            let (handed, cancelled) = tokio::join!(hand_over(&db, task), cancel(&db, order));
            cancelled?;
            let ended = outcome(&db, order, task).await?;
            one_winner(&handed, ended, &format!("{backend:?}, round {round}"))?;
        }
    }
    Ok(())
}

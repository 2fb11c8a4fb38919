//! The inbox and outbox tables on both backends.

use anyhow::ensure;
use omni_db::outbox::OutboxMessage;
use omni_db::testing::{Backend, TestDatabase};

const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

#[tokio::test]
async fn the_inbox_drops_a_replayed_event() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(omni_db::COMMON_MIGRATIONS).await?;
        let first = db
            .transaction(|conn| omni_db::inbox::claim(conn, "orders.saga", "event-1"))
            .await?;
        let replay = db
            .transaction(|conn| omni_db::inbox::claim(conn, "orders.saga", "event-1"))
            .await?;
        let other_consumer = db
            .transaction(|conn| omni_db::inbox::claim(conn, "returns.orders", "event-1"))
            .await?;
        ensure!(
            first && !replay && other_consumer,
            "{backend:?}: first {first}, replay {replay}, other {other_consumer}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_claim_rolled_back_with_its_transaction_is_claimed_again() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(omni_db::COMMON_MIGRATIONS).await?;
        let failed: Result<(), omni_db::Error> = db
            .transaction(|conn| {
                omni_db::inbox::claim(conn, "c", "event-2")?;
                Err(omni_db::Error::Migration("the handler failed".into()))
            })
            .await;
        ensure!(failed.is_err());
        let retried = db
            .transaction(|conn| omni_db::inbox::claim(conn, "c", "event-2"))
            .await?;
        ensure!(
            retried,
            "{backend:?}: a failed handler's event is handled on redelivery"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_outbox_hands_out_events_in_the_order_they_were_written() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(omni_db::COMMON_MIGRATIONS).await?;
        let ids: Vec<String> = (0..5).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let written = ids.clone();
        db.transaction(move |conn| {
            // Written newest first: the outbox must still hand them out by creation order (their ids).
            for id in written.iter().rev() {
                let message = OutboxMessage {
                    id: id.clone(),
                    topic: "orders".into(),
                    message_key: "k".into(),
                    headers: "[]".into(),
                    body: "{}".into(),
                    created_at: omni_db::now(),
                };
                omni_db::outbox::enqueue(conn, &message)?;
            }
            Ok::<_, omni_db::Error>(())
        })
        .await?;
        let pending = db.run(|conn| omni_db::outbox::pending(conn, 10)).await?;
        ensure!(
            pending.iter().map(|m| m.id.clone()).collect::<Vec<_>>() == ids,
            "{backend:?}: oldest first"
        );
        let sent = ids[..2].to_vec();
        db.run(move |conn| omni_db::outbox::delete_sent(conn, &sent))
            .await?;
        ensure!(
            db.run(omni_db::outbox::depth).await? == 3,
            "{backend:?}: sent events are forgotten"
        );
    }
    Ok(())
}

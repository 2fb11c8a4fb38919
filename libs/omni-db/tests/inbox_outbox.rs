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
async fn a_batch_claim_names_each_new_event_once() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(omni_db::COMMON_MIGRATIONS).await?;
        let first = db
            .transaction(|conn| omni_db::inbox::claim_many(conn, "orders.intake", &["a", "b", "a"]))
            .await?;
        let second = db
            .transaction(|conn| omni_db::inbox::claim_many(conn, "orders.intake", &["b", "c", "c"]))
            .await?;
        let none = db
            .transaction(|conn| omni_db::inbox::claim_many(conn, "orders.intake", &[]))
            .await?;
        let mut first: Vec<String> = first.into_iter().collect();
        first.sort();
        ensure!(first == ["a", "b"], "{backend:?}: first batch {first:?}");
        ensure!(
            second.into_iter().collect::<Vec<_>>() == ["c"],
            "{backend:?}: only the new event of the second batch"
        );
        ensure!(none.is_empty(), "{backend:?}: an empty batch claims nothing");
    }
    Ok(())
}

/// Two replicas handling one event at once: the second claim waits for the first transaction and, once that
/// committed, finds the event taken.
#[tokio::test]
async fn a_concurrent_claim_waits_for_the_first_and_skips_the_event() -> anyhow::Result<()> {
    let database = TestDatabase::create(Backend::Postgres)?;
    let db = database.migrated(omni_db::COMMON_MIGRATIONS).await?;
    let (claimed_tx, claimed_rx) = std::sync::mpsc::channel::<()>();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let first_db = db.clone();
    let first = tokio::spawn(async move {
        first_db
            .transaction(move |conn| {
                let claimed = omni_db::inbox::claim(conn, "c", "event-3")?;
                let _ = claimed_tx.send(());
                // Holds the claim uncommitted until the second claim is under way.
                let _ = commit_rx.recv_timeout(std::time::Duration::from_secs(10));
                Ok::<_, omni_db::Error>(claimed)
            })
            .await
    });
    tokio::task::spawn_blocking(move || claimed_rx.recv_timeout(std::time::Duration::from_secs(10)))
        .await??;
    let second_db = db.clone();
    let second = tokio::spawn(async move {
        second_db
            .transaction(|conn| omni_db::inbox::claim(conn, "c", "event-3"))
            .await
    });
    // The second claim is blocked on the first transaction's row lock until it commits.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    ensure!(
        !second.is_finished(),
        "the second claim waits for the first transaction"
    );
    commit_tx.send(())?;
    ensure!(first.await??, "the first claim takes the event");
    ensure!(
        !second.await??,
        "the second claim, after the first committed, skips it"
    );
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

/// A table that grew from empty is analyzed once it holds enough rows (PostgreSQL's statistics reach it within
/// seconds), and not again until it has doubled; SQLite gathers none.
#[tokio::test]
async fn a_table_that_grew_from_empty_gets_statistics() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(omni_db::COMMON_MIGRATIONS).await?;
        let ids: Vec<String> = (0..2_000).map(|i| format!("event-{i}")).collect();
        db.transaction(move |conn| {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            omni_db::inbox::claim_many(conn, "orders.intake", &ids)
        })
        .await?;
        let refresh =
            || db.run(|conn| omni_db::statistics::refresh_if_grown(conn, "omni_inbox", &["consumer"], 1_000));
        let bad_table = db
            .run(|conn| omni_db::statistics::refresh_if_grown(conn, "omni_inbox; DROP", &[], 1))
            .await;
        let bad_column = db
            .run(|conn| omni_db::statistics::refresh_if_grown(conn, "omni_inbox", &["a b"], 1))
            .await;
        ensure!(
            bad_table.is_err() && bad_column.is_err(),
            "{backend:?}: names that are not plain identifiers are refused"
        );
        if backend == Backend::Sqlite {
            ensure!(!refresh().await?, "SQLite: nothing to analyze");
            continue;
        }
        // The server's activity statistics lag commits (up to ~10 s for an idle session).
        let mut analyzed = false;
        for _ in 0..120 {
            if refresh().await? {
                analyzed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        ensure!(analyzed, "{backend:?}: 2,000 rows never analyzed");
        ensure!(!refresh().await?, "{backend:?}: analyzed again without growing");
    }
    Ok(())
}

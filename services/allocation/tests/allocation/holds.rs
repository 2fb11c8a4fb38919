//! The hold store conformance suite: every scenario runs on the Redis store (real Redis) and on the in-memory
//! store `omni dev` uses, and both must behave the same.

use anyhow::ensure;
use omni_allocation::HoldStore;
use omni_allocation::holds::{KeepBack, MemoryHolds, RedisHolds, ReserveOutcome, Snapshot, SnapshotHold};
use omni_contracts::events::HoldLine;
use omni_contracts::{LocationId, Quantity, ReservationId, Sku};
use omni_testkit::testing::RedisNamespace;

/// The stores under test, and the Redis namespace that is cleaned up when the test ends.
async fn stores() -> anyhow::Result<(Vec<(&'static str, HoldStore)>, RedisNamespace)> {
    let namespace = RedisNamespace::new();
    let redis = RedisHolds::connect(&namespace.url, &namespace.prefix).await?;
    let stores = vec![
        ("memory", HoldStore::Memory(MemoryHolds::default())),
        ("redis", HoldStore::Redis(redis)),
    ];
    Ok((stores, namespace))
}

/// The generation the tests load their stores under.
const GENERATION: i64 = 1;

/// `units` of `sku` on hand at S1, in a store loaded (empty) under [`GENERATION`] first if it was not.
async fn stock(store: &HoldStore, sku: &str, units: i64) -> anyhow::Result<()> {
    if !store.is_loaded().await? {
        store
            .load(&Snapshot {
                generation: GENERATION,
                locations: vec!["S1".into()],
                ..Snapshot::default()
            })
            .await?;
    }
    store.adjust_on_hand(&loc(), sku, units, GENERATION).await?;
    Ok(())
}

fn loc() -> LocationId {
    LocationId::parse("S1").unwrap_or_else(|e| panic!("{e}"))
}

fn line(sku: &str, q: i64) -> HoldLine {
    HoldLine {
        sku: Sku::parse(sku).unwrap_or_else(|e| panic!("{e}")),
        quantity: Quantity::new(q).unwrap_or_else(|e| panic!("{e}")),
    }
}

#[tokio::test]
async fn a_hold_takes_every_line_or_none() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 2).await?;
        stock(&store, "B", 1).await?;
        let outcome = store
            .reserve(
                ReservationId::generate(),
                &loc(),
                &[line("A", 1), line("B", 2)],
                &KeepBack::new(),
            )
            .await?;
        let ReserveOutcome::Short(short) = outcome else {
            anyhow::bail!("{name}: must be short")
        };
        ensure!(
            short.len() == 1
                && short[0].sku.as_str() == "B"
                && short[0].requested == 2
                && short[0].available == 1,
            "{name}: {short:?}"
        );
        ensure!(
            store.levels(&loc(), "A").await? == (2, 0),
            "{name}: nothing of A is held after a short B"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_hold_is_idempotent_by_reservation_id() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 3).await?;
        let id = ReservationId::generate();
        ensure!(
            store
                .reserve(id, &loc(), &[line("A", 2)], &KeepBack::new())
                .await?
                == ReserveOutcome::Held {
                    generation: GENERATION
                },
            "{name}"
        );
        ensure!(
            store
                .reserve(id, &loc(), &[line("A", 2)], &KeepBack::new())
                .await?
                == ReserveOutcome::Held {
                    generation: GENERATION
                },
            "{name}: a retry answers held"
        );
        ensure!(
            store.levels(&loc(), "A").await? == (3, 2),
            "{name}: and holds nothing more"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_last_unit_goes_to_one_of_two_buyers() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 1).await?;
        let first = store
            .reserve(
                ReservationId::generate(),
                &loc(),
                &[line("A", 1)],
                &KeepBack::new(),
            )
            .await?;
        let second = store
            .reserve(
                ReservationId::generate(),
                &loc(),
                &[line("A", 1)],
                &KeepBack::new(),
            )
            .await?;
        ensure!(
            first
                == (ReserveOutcome::Held {
                    generation: GENERATION
                })
                && matches!(second, ReserveOutcome::Short(_)),
            "{name}: {first:?} {second:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn concurrent_buyers_never_hold_more_than_is_on_hand() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 10).await?;
        let attempts = (0..32).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve(
                        ReservationId::generate(),
                        &loc(),
                        &[line("A", 1)],
                        &KeepBack::new(),
                    )
                    .await
            })
        });
        let mut held = 0;
        for attempt in futures::future::join_all(attempts).await {
            if matches!(attempt??, ReserveOutcome::Held { .. }) {
                held += 1;
            }
        }
        ensure!(held == 10, "{name}: {held} held of 10 on hand");
        ensure!(store.levels(&loc(), "A").await? == (10, 10), "{name}");
    }
    Ok(())
}

#[tokio::test]
async fn a_released_hold_is_available_again_and_a_second_release_changes_nothing() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 2).await?;
        let id = ReservationId::generate();
        store
            .reserve(id, &loc(), &[line("A", 2)], &KeepBack::new())
            .await?;
        store.release(id, &loc()).await?;
        store.release(id, &loc()).await?;
        ensure!(store.levels(&loc(), "A").await? == (2, 0), "{name}");
    }
    Ok(())
}

#[tokio::test]
async fn loading_a_snapshot_replaces_the_store_and_marks_it_loaded() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        ensure!(!store.is_loaded().await?, "{name}: a new store is not loaded");
        let id = ReservationId::generate();
        let snapshot = Snapshot {
            generation: GENERATION,
            locations: vec!["S1".into()],
            on_hand: vec![("S1".into(), "A".into(), 5)],
            holds: vec![SnapshotHold {
                id: id.to_string(),
                location: "S1".into(),
                lines: vec![("A".into(), 2)],
            }],
        };
        store.load(&snapshot).await?;
        ensure!(store.is_loaded().await?, "{name}");
        ensure!(store.levels(&loc(), "A").await? == (5, 2), "{name}");
        store.release(id, &loc()).await?;
        ensure!(
            store.levels(&loc(), "A").await? == (5, 0),
            "{name}: a loaded hold can be released"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_committed_hold_leaves_on_hand_and_reserved_together_once() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 5).await?;
        let id = ReservationId::generate();
        store
            .reserve(id, &loc(), &[line("A", 2)], &KeepBack::new())
            .await?;
        store.commit(id, &loc(), None).await?;
        store.commit(id, &loc(), None).await?;
        ensure!(
            store.levels(&loc(), "A").await? == (3, 0),
            "{name}: committed once"
        );
        store.release(id, &loc()).await?;
        ensure!(
            store.levels(&loc(), "A").await? == (3, 0),
            "{name}: a committed hold cannot be released"
        );
    }
    Ok(())
}

/// A store will not fulfil some units of a hold: they are given back at once (at most what is held), a line
/// given back whole leaves the hold, and what is left commits as usual.
#[tokio::test]
async fn units_given_back_from_a_hold_leave_it_at_once() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 5).await?;
        stock(&store, "B", 5).await?;
        let id = ReservationId::generate();
        store
            .reserve(id, &loc(), &[line("A", 3), line("B", 2)], &KeepBack::new())
            .await?;
        store
            .reduce(id, &loc(), &[("A".to_owned(), 1), ("B".to_owned(), 7)])
            .await?;
        ensure!(
            store.levels(&loc(), "A").await? == (5, 2),
            "{name}: one A given back"
        );
        ensure!(
            store.levels(&loc(), "B").await? == (5, 0),
            "{name}: B given back whole"
        );
        store.commit(id, &loc(), None).await?;
        ensure!(
            store.levels(&loc(), "A").await? == (3, 0),
            "{name}: the rest commits"
        );
        ensure!(
            store.levels(&loc(), "B").await? == (5, 0),
            "{name}: B no longer in the hold"
        );
        // Not held any more: nothing to give back.
        store.reduce(id, &loc(), &[("A".to_owned(), 1)]).await?;
        ensure!(store.levels(&loc(), "A").await? == (3, 0), "{name}");
    }
    Ok(())
}

/// A store shipped part of what it held (the rest went elsewhere): only what left leaves on-hand, the rest is
/// released, in one step; never more than was held.
#[tokio::test]
async fn a_hold_committed_in_part_releases_the_rest_in_the_same_step() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 5).await?;
        stock(&store, "B", 5).await?;
        let id = ReservationId::generate();
        store
            .reserve(id, &loc(), &[line("A", 3), line("B", 2)], &KeepBack::new())
            .await?;
        let left = [("A".to_owned(), 1), ("B".to_owned(), 9)];
        store.commit(id, &loc(), Some(&left)).await?;
        ensure!(
            store.levels(&loc(), "A").await? == (4, 0),
            "{name}: one A left, two released"
        );
        ensure!(
            store.levels(&loc(), "B").await? == (3, 0),
            "{name}: at most what was held leaves"
        );
        // Nothing left at all: everything released.
        let none = ReservationId::generate();
        store
            .reserve(none, &loc(), &[line("A", 2)], &KeepBack::new())
            .await?;
        store.commit(none, &loc(), Some(&[])).await?;
        ensure!(store.levels(&loc(), "A").await? == (4, 0), "{name}");
    }
    Ok(())
}

#[tokio::test]
async fn a_hold_never_takes_the_units_its_rules_keep_back() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 5).await?;
        stock(&store, "B", 5).await?;
        let keep = KeepBack::from([(Sku::parse("A")?, 2)]);
        let outcome = store
            .reserve(
                ReservationId::generate(),
                &loc(),
                &[line("A", 4), line("B", 1)],
                &keep,
            )
            .await?;
        let ReserveOutcome::Short(short) = outcome else {
            anyhow::bail!("{name}: 4 of A digs into the 2 kept back")
        };
        ensure!(
            short.len() == 1 && short[0].sku.as_str() == "A" && short[0].available == 3,
            "{name}: {short:?}"
        );
        ensure!(
            store.levels(&loc(), "B").await? == (5, 0),
            "{name}: all or nothing"
        );
        ensure!(
            store
                .reserve(ReservationId::generate(), &loc(), &[line("A", 3)], &keep)
                .await?
                == ReserveOutcome::Held {
                    generation: GENERATION
                },
            "{name}: up to the kept-back units is fine"
        );
        ensure!(
            store
                .reserve(
                    ReservationId::generate(),
                    &loc(),
                    &[line("A", 2)],
                    &KeepBack::new()
                )
                .await?
                == ReserveOutcome::Held {
                    generation: GENERATION
                },
            "{name}: a caller no rule restricts may take them"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_store_not_loaded_holds_nothing() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        let outcome = store
            .reserve(
                ReservationId::generate(),
                &loc(),
                &[line("A", 1)],
                &KeepBack::new(),
            )
            .await;
        ensure!(
            matches!(outcome, Err(omni_allocation::holds::HoldError::Unloaded(_))),
            "{name}: {outcome:?}"
        );
    }
    Ok(())
}

/// A hold placed before a load that did not have it (it was not in the ledger yet) is not counted after the load:
/// releasing it changes nothing, and placing it again counts it once, under the new generation. A movement of the
/// older generation is not applied again.
#[tokio::test]
async fn a_hold_of_an_earlier_generation_is_not_counted_after_a_load() -> anyhow::Result<()> {
    let (stores, _namespace) = stores().await?;
    for (name, store) in stores {
        stock(&store, "A", 3).await?;
        let id = ReservationId::generate();
        let first = store
            .reserve(id, &loc(), &[line("A", 2)], &KeepBack::new())
            .await?;
        ensure!(
            first
                == (ReserveOutcome::Held {
                    generation: GENERATION
                }),
            "{name}: {first:?}"
        );
        store
            .load(&Snapshot {
                generation: GENERATION + 1,
                locations: vec!["S1".into()],
                on_hand: vec![("S1".into(), "A".into(), 3)],
                holds: Vec::new(),
            })
            .await?;
        ensure!(
            store.levels(&loc(), "A").await? == (3, 0),
            "{name}: the load counts only its own holds"
        );
        store.release(id, &loc()).await?;
        ensure!(
            store.levels(&loc(), "A").await? == (3, 0),
            "{name}: releasing the old hold gives back nothing"
        );
        store.adjust_on_hand(&loc(), "A", 4, GENERATION).await?;
        ensure!(
            store.levels(&loc(), "A").await? == (3, 0),
            "{name}: an old movement is not applied again"
        );
        let again = store
            .reserve(id, &loc(), &[line("A", 2)], &KeepBack::new())
            .await?;
        ensure!(
            again
                == (ReserveOutcome::Held {
                    generation: GENERATION + 1
                }),
            "{name}: {again:?}"
        );
        ensure!(
            store.levels(&loc(), "A").await? == (3, 2),
            "{name}: held once, under the new generation"
        );
    }
    Ok(())
}

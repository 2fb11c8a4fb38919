//! The PostgreSQL baseline: allocation by row locks, the shape Saleor uses (`warehouse.management.allocate_stocks`):
//! one transaction per order that locks the order's stock rows with `SELECT … FOR UPDATE` ordered by key, checks
//! what is left, bumps `quantity_allocated` with one `UPDATE` and writes one allocation row per line with one
//! `INSERT`. It runs through omni-db's pool (diesel on `PgConnection`, tokio's blocking pool), in a schema of
//! the run's database, with that database's durability (`synchronous_commit`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use omni_db::{Db, DbConnection, Target};

use super::{LOCATION, Load, Shape};
use crate::stats::{Latencies, progress};

diesel::table! {
    /// Saleor's `warehouse_stock`: one row per (warehouse, variant).
    warehouse_stock (id) {
        id -> BigInt,
        warehouse_id -> Text,
        sku -> Text,
        quantity -> Integer,
        quantity_allocated -> Integer,
    }
}

diesel::table! {
    /// Saleor's `warehouse_allocation`: one row per (order line, stock).
    warehouse_allocation (id) {
        id -> BigInt,
        order_line_id -> Text,
        stock_id -> BigInt,
        quantity_allocated -> Integer,
    }
}

diesel::allow_tables_to_appear_in_same_query!(warehouse_stock, warehouse_allocation);

const SCHEMA: &str = "saleor_rowlock";

/// What one run of row-lock allocations did.
#[derive(Debug, Default)]
pub(crate) struct RowLockRun {
    /// Committed allocations (orders).
    pub allocated: u64,
    /// Orders refused for want of stock.
    pub short: u64,
    /// Transactions that failed.
    pub failed: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Latency of each transaction, from asking for a connection to the commit.
    pub latency: Latencies,
    /// The first failure, to show.
    pub first_error: Option<String>,
}

/// The baseline's tables, filled with stock.
#[derive(Clone)]
pub(crate) struct RowLock {
    db: Db,
}

impl RowLock {
    /// Creates the tables in their own schema of the database at `url` and stocks `skus` SKUs plus the hot
    /// one at the store, with a pool of `clients` connections.
    pub(crate) async fn prepare(url: &str, skus: u32, clients: u32) -> anyhow::Result<Self> {
        let target = Target::Postgres {
            url: url.to_owned(),
            schema: Some(SCHEMA.to_owned()),
        };
        let db = Db::connect(target, clients)?;
        db.run(move |conn| -> anyhow::Result<()> {
            let DbConnection::Pg(pg) = conn else {
                bail!("the row-lock baseline needs PostgreSQL");
            };
            pg.batch_execute(&format!(
                "CREATE TABLE warehouse_stock (
                     id BIGSERIAL PRIMARY KEY,
                     warehouse_id TEXT NOT NULL,
                     sku TEXT NOT NULL,
                     quantity INTEGER NOT NULL CHECK (quantity >= 0),
                     quantity_allocated INTEGER NOT NULL DEFAULT 0,
                     UNIQUE (warehouse_id, sku)
                 );
                 CREATE TABLE warehouse_allocation (
                     id BIGSERIAL PRIMARY KEY,
                     order_line_id TEXT NOT NULL,
                     stock_id BIGINT NOT NULL REFERENCES warehouse_stock (id),
                     quantity_allocated INTEGER NOT NULL,
                     UNIQUE (order_line_id, stock_id)
                 );
                 CREATE INDEX warehouse_allocation_stock ON warehouse_allocation (stock_id);
                 INSERT INTO warehouse_stock (warehouse_id, sku, quantity)
                     SELECT '{LOCATION}', 'LT-' || lpad(g::text, 12, '0'), 1000000000
                     FROM generate_series(0, {last}) AS g;
                 INSERT INTO warehouse_stock (warehouse_id, sku, quantity)
                     VALUES ('{LOCATION}', '{hot}', 1000000000);
                 ANALYZE warehouse_stock;",
                last = i64::from(skus) - 1,
                hot = super::HOT_SKU,
            ))?;
            Ok(())
        })
        .await?;
        Ok(Self { db })
    }

    /// Allocates one order of three 1-unit lines; `false` when a line was short (nothing changes then).
    fn allocate(pg: &mut PgConnection, skus: [String; 3]) -> QueryResult<bool> {
        use self::warehouse_allocation::dsl as alloc;
        use self::warehouse_stock::dsl as stock;
        pg.transaction(|c| {
            let rows: Vec<(i64, i32, i32)> = stock::warehouse_stock
                .filter(stock::warehouse_id.eq(LOCATION))
                .filter(stock::sku.eq_any(&skus))
                .order(stock::id)
                .select((stock::id, stock::quantity, stock::quantity_allocated))
                .for_update()
                .load(c)?;
            if rows.len() != skus.len() || rows.iter().any(|(_, on_hand, allocated)| on_hand - allocated < 1)
            {
                return Ok(false);
            }
            let ids: Vec<i64> = rows.iter().map(|(id, _, _)| *id).collect();
            diesel::update(stock::warehouse_stock.filter(stock::id.eq_any(&ids)))
                .set(stock::quantity_allocated.eq(stock::quantity_allocated + 1))
                .execute(c)?;
            let line = |i: usize| {
                (
                    alloc::order_line_id.eq(uuid::Uuid::now_v7().to_string()),
                    alloc::stock_id.eq(ids[i]),
                    alloc::quantity_allocated.eq(1),
                )
            };
            diesel::insert_into(alloc::warehouse_allocation)
                .values([line(0), line(1), line(2)])
                .execute(c)?;
            Ok(true)
        })
    }

    /// Runs `load.clients` sessions for `seconds` (at most `load.max_requests` orders).
    pub(crate) async fn run(
        &self,
        shape: Shape,
        load: &Load,
        seconds: u64,
        label: &str,
    ) -> anyhow::Result<RowLockRun> {
        let issued = Arc::new(AtomicU64::new(0));
        let allocated = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let bar = progress(label, seconds);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..load.clients {
            let (db, issued, allocated) = (self.db.clone(), issued.clone(), allocated.clone());
            let (skus, max) = (load.skus, load.max_requests);
            workers.spawn(async move {
                let mut run = RowLockRun::default();
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                    let lines = shape.lines(&mut rand::rng(), skus);
                    let began = Instant::now();
                    let outcome = db
                        .run(move |conn| -> anyhow::Result<bool> {
                            let DbConnection::Pg(pg) = conn else {
                                bail!("the row-lock baseline needs PostgreSQL");
                            };
                            Ok(Self::allocate(pg, lines)?)
                        })
                        .await;
                    run.latency.record(began.elapsed());
                    match outcome {
                        Ok(true) => {
                            run.allocated += 1;
                            allocated.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(false) => run.short += 1,
                        Err(e) => {
                            run.failed += 1;
                            run.first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                run
            });
        }
        let ticker = {
            let (bar, allocated) = (bar.clone(), allocated.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let elapsed = started.elapsed();
                    bar.set_position(elapsed.as_secs().min(bar.length().unwrap_or(0)));
                    let n = allocated.load(Ordering::Relaxed);
                    bar.set_message(format!("{n} orders, {:.0}/s", crate::stats::rate(n, elapsed)));
                }
            })
        };
        let mut total = RowLockRun::default();
        while let Some(run) = workers.join_next().await {
            let run = run.context("a row-lock client task failed")?;
            total.allocated += run.allocated;
            total.short += run.short;
            total.failed += run.failed;
            total.latency.merge(run.latency);
            if total.first_error.is_none() {
                total.first_error = run.first_error;
            }
        }
        total.elapsed = started.elapsed();
        ticker.abort();
        bar.finish_and_clear();
        Ok(total)
    }

    /// Units allocated in the stock table and allocation rows written, to check the run did what it says.
    pub(crate) async fn totals(&self) -> anyhow::Result<(i64, i64)> {
        self.db
            .run(|conn| -> anyhow::Result<(i64, i64)> {
                let DbConnection::Pg(pg) = conn else {
                    bail!("the row-lock baseline needs PostgreSQL");
                };
                let allocated: Option<i64> = warehouse_stock::table
                    .select(diesel::dsl::sum(warehouse_stock::quantity_allocated))
                    .first(pg)?;
                let rows: i64 = warehouse_allocation::table.count().get_result(pg)?;
                Ok((allocated.unwrap_or(0), rows))
            })
            .await
    }
}

/// `SHOW synchronous_commit` in a fresh session of the database at `url` (the durability both sides get).
pub(crate) fn synchronous_commit(url: &str) -> anyhow::Result<String> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        synchronous_commit: String,
    }
    let mut pg = PgConnection::establish(url).context("connecting to read synchronous_commit")?;
    let setting: Setting = diesel::sql_query("SHOW synchronous_commit").get_result(&mut pg)?;
    Ok(setting.synchronous_commit)
}

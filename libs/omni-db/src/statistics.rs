//! Planner statistics for tables that grow faster than autovacuum looks at them.
//!
//! PostgreSQL plans from the statistics autovacuum's analyze gathers, and autovacuum visits a table at most once a
//! minute (`autovacuum_naptime`). A table that grows from empty to hundreds of thousands of rows in a burst (a new
//! install taking a marketplace's backlog) has no statistics in that minute, and the planner, guessing, can pick a
//! full index over a partial one that holds only the rows asked for: orders' count of the orders in flight then
//! read the whole backlog, 25–50 ms a call instead of well under one. [`refresh_if_grown`] analyzes a table that
//! was never analyzed, or whose rows have more than doubled since, so the statistics follow a burst within
//! seconds; after that autovacuum keeps them.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use crate::{DbConnection, Error, Result};

/// Analyzes `columns` of `table` (in the connection's schema) when it holds at least `min_rows` rows and was never
/// analyzed, or has more than doubled since it was; returns whether it did. Only the columns queries filter or
/// sort on are named: sampling a wide JSON column costs more than the rest together. SQLite (the embedded
/// backend) plans without gathered statistics: nothing to do there.
pub fn refresh_if_grown(
    conn: &mut DbConnection,
    table: &'static str,
    columns: &[&'static str],
    min_rows: i64,
) -> Result<bool> {
    for name in std::iter::once(&table).chain(columns) {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(Error::Inconsistent(format!(
                "statistics: `{name}` is not a plain table or column name"
            )));
        }
    }
    let DbConnection::Pg(pg) = conn else {
        return Ok(false);
    };
    let counts: Option<TableCounts> = diesel::sql_query(
        "SELECT c.reltuples::FLOAT8 AS analyzed_rows, s.n_live_tup::BIGINT AS live_rows \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.relid = to_regclass($1)",
    )
    .bind::<Text, _>(table)
    .get_result(pg)
    .optional()?;
    let Some(counts) = counts else {
        return Ok(false);
    };
    if !needs_analysis(counts.analyzed_rows, counts.live_rows, min_rows) {
        return Ok(false);
    }
    let columns = if columns.is_empty() {
        String::new()
    } else {
        format!(" ({})", columns.join(", "))
    };
    // A small sample (3,000 rows instead of 30,000) is plenty to tell the planner how the rows split, and the
    // burst is still going on; autovacuum's own analyze later gathers the full statistics.
    pg.transaction(|pg| {
        diesel::sql_query(format!("SET LOCAL default_statistics_target = {SAMPLE_TARGET}")).execute(pg)?;
        diesel::sql_query(format!("ANALYZE {table}{columns}")).execute(pg)
    })?;
    tracing::info!(
        table,
        rows = counts.live_rows,
        analyzed_rows = counts.analyzed_rows.max(0.0),
        "Table statistics refreshed: it grew faster than autovacuum analyzes."
    );
    Ok(true)
}

/// The statistics target of a refresh (PostgreSQL samples 300 rows per unit; its default is 100).
const SAMPLE_TARGET: u32 = 10;

/// Whether a table of `live_rows` rows, `analyzed_rows` when last analyzed (negative: never), needs analyzing.
fn needs_analysis(analyzed_rows: f64, live_rows: i64, min_rows: i64) -> bool {
    #[allow(clippy::cast_precision_loss)] // row counts far below 2^52
    let live = live_rows as f64;
    live_rows >= min_rows && (analyzed_rows < 0.0 || live > 2.0 * analyzed_rows.max(1.0))
}

#[derive(QueryableByName)]
struct TableCounts {
    #[diesel(sql_type = Double)]
    analyzed_rows: f64,
    #[diesel(sql_type = BigInt)]
    live_rows: i64,
}

#[cfg(test)]
mod tests {
    use super::needs_analysis;

    #[test]
    fn a_small_table_is_left_to_autovacuum() {
        assert!(!needs_analysis(-1.0, 999, 1_000));
        assert!(needs_analysis(-1.0, 1_000, 1_000));
    }

    #[test]
    fn a_table_is_analyzed_again_once_it_has_more_than_doubled() {
        assert!(!needs_analysis(10_000.0, 20_000, 1_000));
        assert!(needs_analysis(10_000.0, 20_001, 1_000));
        // Analyzed while empty (reltuples 0): any growth past the floor counts.
        assert!(needs_analysis(0.0, 5_000, 1_000));
    }
}

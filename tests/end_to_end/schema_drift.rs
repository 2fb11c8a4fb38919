//! Each service's hand-written diesel `schema.rs` (and the shared one in omni-db) must match what its
//! migrations create: the same tables, columns, types and nullability. Checked against a migrated PostgreSQL.

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use diesel::prelude::*;
use omni_db::testing::{Backend, TestDatabase};

/// `table → column → (sql type, nullable)`.
type Shape = BTreeMap<String, BTreeMap<String, (String, bool)>>;

/// Reads `diesel::table!` blocks: `name (keys) { column -> Type, column -> Nullable<Type>, }`.
fn declared(source: &str) -> Shape {
    let mut shape = Shape::new();
    let mut table: Option<String> = None;
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.strip_suffix('{').map(str::trim)
            && let Some((name, _keys)) = rest.split_once(' ')
            && !name.contains("table!")
            && rest.contains('(')
        {
            table = Some(name.to_owned());
            continue;
        }
        if line == "}" {
            table = None;
            continue;
        }
        if let (Some(table), Some((column, ty))) = (&table, line.trim_end_matches(',').split_once("->")) {
            let ty = ty.trim();
            let (ty, nullable) = match ty.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
                Some(inner) => (inner, true),
                None => (ty, false),
            };
            let sql = match ty {
                "Text" => "text",
                "BigInt" => "bigint",
                "Integer" => "integer",
                "Double" => "double precision",
                "Bool" => "boolean",
                "Timestamp" => "timestamp without time zone",
                other => other,
            };
            shape
                .entry(table.clone())
                .or_default()
                .insert(column.trim().to_owned(), (sql.to_owned(), nullable));
        }
    }
    shape
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    is_nullable: String,
}

fn migrated(url: &str) -> anyhow::Result<Shape> {
    let mut conn = diesel::PgConnection::establish(url)?;
    let rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
         is_nullable::text AS is_nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_\\_diesel%'",
    )
    .load(&mut conn)?;
    let mut shape = Shape::new();
    for row in rows {
        shape
            .entry(row.table_name)
            .or_default()
            .insert(row.column_name, (row.data_type, row.is_nullable == "YES"));
    }
    Ok(shape)
}

#[tokio::test]
async fn every_schema_rs_matches_its_migrations() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::fs::read_to_string(root.join("libs/omni-db/src/schema.rs"))?;
    for service in omni_config::Service::ALL {
        let database = TestDatabase::create(Backend::Postgres)?;
        database.migrated(omni_testkit::mesh::migrations(service)).await?;
        let own = std::fs::read_to_string(root.join(format!("services/{service}/src/db/schema.rs")))
            .with_context(|| format!("{service} has no src/db/schema.rs"))?;
        let mut expected = declared(&shared);
        expected.extend(declared(&own));
        let actual = migrated(&database.url)?;
        ensure!(!expected.is_empty(), "{service}: no table! blocks were read");
        ensure!(
            actual == expected,
            "{service}: schema.rs differs from the migrations\n schema.rs:  {expected:?}\n migrations: {actual:?}"
        );
    }
    Ok(())
}

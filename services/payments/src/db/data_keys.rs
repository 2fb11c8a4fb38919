//! The vault's data keys: stored wrapped by the KEK, one active, the others retired (decrypt only).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use omni_db::DbConnection;

use super::schema::data_keys;
use crate::domain::vault::{DataKey, Kek};
use crate::error::{Error, Result};

#[derive(Queryable, Selectable)]
#[diesel(table_name = data_keys)]
struct DataKeyRow {
    version: i32,
    wrapped_key: String,
    retired: bool,
    created_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
}

/// What is known about a data key without unwrapping it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyInfo {
    /// The version.
    pub version: i32,
    /// Retired keys only decrypt.
    pub retired: bool,
    /// When it was created.
    pub created_at: NaiveDateTime,
    /// When it was retired.
    pub retired_at: Option<NaiveDateTime>,
}

/// The outcome of a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new active version.
    pub version: i32,
    /// The versions retired by it.
    pub retired: Vec<i32>,
}

/// Every data key, oldest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<DataKeyInfo>> {
    let rows = data_keys::table
        .order(data_keys::version.asc())
        .select(DataKeyRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| DataKeyInfo {
            version: r.version,
            retired: r.retired,
            created_at: r.created_at,
            retired_at: r.retired_at,
        })
        .collect())
}

/// The active data key, unwrapped: the one that seals new cards.
pub fn active(conn: &mut DbConnection, kek: &Kek) -> Result<DataKey> {
    let row = data_keys::table
        .filter(data_keys::retired.eq(false))
        .order(data_keys::version.desc())
        .select(DataKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NoActiveKey)?;
    Ok(kek.unwrap_key(row.version, &row.wrapped_key)?)
}

/// A data key by version, active or retired, unwrapped: retired keys still open what they sealed.
pub fn by_version(conn: &mut DbConnection, kek: &Kek, version: i32) -> Result<DataKey> {
    let row = data_keys::table
        .find(version)
        .select(DataKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::MissingKey(version))?;
    Ok(kek.unwrap_key(row.version, &row.wrapped_key)?)
}

/// At start: checks that the configured KEK unwraps every stored data key (a wrong KEK fails here, not on the
/// first payment) and creates version 1 if the vault has no active key. Returns the active version.
pub fn ensure_active(conn: &mut DbConnection, kek: &Kek) -> Result<i32> {
    let rows = data_keys::table
        .order(data_keys::version.asc())
        .select(DataKeyRow::as_select())
        .load(conn)?;
    for row in &rows {
        kek.unwrap_key(row.version, &row.wrapped_key)?;
    }
    if let Some(active) = rows.iter().filter(|r| !r.retired).map(|r| r.version).max() {
        return Ok(active);
    }
    let version = rows.iter().map(|r| r.version).max().unwrap_or(0) + 1;
    insert(conn, kek, &DataKey::generate(version))?;
    Ok(version)
}

/// Creates a new active data key and retires every other one, in the caller's transaction.
pub fn rotate(conn: &mut DbConnection, kek: &Kek) -> Result<Rotation> {
    let newest: Option<i32> = data_keys::table
        .select(diesel::dsl::max(data_keys::version))
        .first(conn)?;
    let retired: Vec<i32> = data_keys::table
        .filter(data_keys::retired.eq(false))
        .order(data_keys::version.asc())
        .select(data_keys::version)
        .load(conn)?;
    let version = newest.unwrap_or(0) + 1;
    insert(conn, kek, &DataKey::generate(version))?;
    diesel::update(
        data_keys::table
            .filter(data_keys::version.ne(version))
            .filter(data_keys::retired.eq(false)),
    )
    .set((
        data_keys::retired.eq(true),
        data_keys::retired_at.eq(Some(omni_db::now())),
    ))
    .execute(conn)?;
    Ok(Rotation { version, retired })
}

fn insert(conn: &mut DbConnection, kek: &Kek, key: &DataKey) -> Result<()> {
    let wrapped = kek.wrap(key)?;
    let inserted = diesel::insert_into(data_keys::table)
        .values((
            data_keys::version.eq(key.version()),
            data_keys::wrapped_key.eq(wrapped),
            data_keys::created_at.eq(omni_db::now()),
            data_keys::retired.eq(false),
            data_keys::retired_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if omni_db::is_unique_violation(&e) => Err(Error::RotationConflict),
        Err(e) => Err(e.into()),
    }
}

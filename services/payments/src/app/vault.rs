//! Opening the vault at start.

use std::sync::Arc;

use omni_db::Db;

use crate::db;
use crate::domain::vault::Kek;
use crate::error::{Error, Result};

/// Opens the vault at start: checks the KEK unwraps every stored data key and creates the first one if there
/// is none. Returns the active data key version. Several instances starting at once on an empty vault race for
/// version 1; the losers retry and find it.
pub async fn open_vault(db: &Db, kek: &Arc<Kek>) -> Result<i32> {
    let mut attempt = 0;
    loop {
        let kek = kek.clone();
        match db
            .transaction(move |conn| db::data_keys::ensure_active(conn, &kek))
            .await
        {
            Err(Error::RotationConflict) if attempt < 3 => attempt += 1,
            outcome => return outcome,
        }
    }
}

//! Fresh databases for tests, so tests run in parallel without sharing state.

use crate::{Db, Result, Target};

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Real PostgreSQL at `OMNI_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
    Postgres,
    /// A SQLite file in a temporary directory.
    Sqlite,
}

/// The admin URL tests create their databases through.
pub fn admin_url() -> String {
    std::env::var("OMNI_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test and is dropped after it.
#[derive(Debug)]
pub struct TestDatabase {
    /// Where it is.
    pub target: Target,
    /// The URL a service can be configured with.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    DropDatabase { admin: String, name: String },
    RemoveDir(std::path::PathBuf),
}

impl TestDatabase {
    /// Creates an empty database on the backend.
    pub fn create(backend: Backend) -> Result<Self> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Postgres => {
                use diesel::Connection;
                use diesel::connection::SimpleConnection;
                let admin = admin_url();
                let name = format!("omni_test_{suffix}");
                let mut conn =
                    diesel::PgConnection::establish(&admin).map_err(|source| crate::Error::Connect {
                        target: crate::redact(&admin),
                        reason: source.to_string(),
                    })?;
                conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                Ok(Self {
                    target: Target::Postgres {
                        url: url.clone(),
                        schema: None,
                    },
                    url,
                    cleanup: Cleanup::DropDatabase { admin, name },
                })
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("omni-test-{suffix}"));
                std::fs::create_dir_all(&dir).map_err(|e| crate::Error::Migration(e.to_string()))?;
                let path = dir.join("test.db");
                Ok(Self {
                    url: format!("sqlite://{}", path.display()),
                    target: Target::Sqlite(path),
                    cleanup: Cleanup::RemoveDir(dir),
                })
            }
        }
    }

    /// A pool on it with the common and the given migrations applied.
    pub async fn migrated(&self, migrations: diesel_migrations::EmbeddedMigrations) -> Result<Db> {
        let db = Db::connect(self.target.clone(), 4)?;
        db.migrate(migrations).await?;
        Ok(db)
    }

    /// A pool on it with the common migrations and those of the given ones named before `first_left_out`
    /// applied, for a test of what a later migration does to data stored before it (`Db::migrate` then applies
    /// the rest).
    pub async fn migrated_before(
        &self,
        migrations: diesel_migrations::EmbeddedMigrations,
        first_left_out: &'static str,
    ) -> Result<Db> {
        let db = Db::connect(self.target.clone(), 4)?;
        db.run(move |conn| match conn {
            crate::DbConnection::Pg(c) => apply_before(c, &migrations, first_left_out),
            crate::DbConnection::Sqlite(c) => apply_before(c, &migrations, first_left_out),
        })
        .await?;
        Ok(db)
    }
}

fn apply_before<DB: diesel::backend::Backend>(
    harness: &mut impl diesel_migrations::MigrationHarness<DB>,
    migrations: &diesel_migrations::EmbeddedMigrations,
    first_left_out: &str,
) -> Result<()> {
    use diesel::migration::MigrationSource;
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| crate::Error::Migration(e.to_string());
    harness
        .run_pending_migrations(crate::COMMON_MIGRATIONS)
        .map_err(failed)?;
    let mut earlier = MigrationSource::<DB>::migrations(migrations).map_err(failed)?;
    earlier.retain(|m| m.name().to_string().as_str() < first_left_out);
    earlier.sort_by_key(|m| m.name().to_string());
    for migration in &earlier {
        harness.run_migration(migration.as_ref()).map_err(failed)?;
    }
    Ok(())
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::DropDatabase { admin, name } => {
                use diesel::Connection;
                use diesel::connection::SimpleConnection;
                if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                    let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
            Cleanup::RemoveDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

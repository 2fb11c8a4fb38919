//! `omni migrate`: apply migrations and exit (a Helm hook Job runs it before a rollout).

use anyhow::anyhow;
use omni::Service;
use omni::mesh::{DbBackend, db_target, migrations};
use omni_config::Settings;

/// Arguments of `omni migrate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only this service (default: all six).
    #[arg(long, value_parser = clap::value_parser!(Service))]
    service: Option<Service>,
}

/// Migrates each service's database (PostgreSQL from `database.url`, else the dev SQLite files).
pub(crate) async fn run(settings: Settings, args: Args) -> anyhow::Result<()> {
    let backend = if settings.database.url.is_empty() {
        DbBackend::Sqlite(settings.database.data_dir.clone().into())
    } else {
        DbBackend::Postgres(settings.database.url.expose().to_owned())
    };
    for service in Service::ALL
        .into_iter()
        .filter(|s| args.service.is_none_or(|only| only == *s))
    {
        let target = db_target(&settings, &backend, service)?;
        let db = omni_db::Db::connect(target.clone(), 1).map_err(|e| anyhow!("{e} (database.url)"))?;
        db.migrate(migrations(service)).await?;
        println!("migrated {service:<12} {}", target.describe());
    }
    Ok(())
}

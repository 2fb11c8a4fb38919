//! `omni audit verify`: walks each service's audit log, a hash chain, and names the first broken link.

use anyhow::anyhow;
use omni::Service;
use omni::mesh::{DbBackend, db_target};
use omni_config::Settings;
use omni_db::audit::Verification;

/// Entries read at a time.
const PAGE: i64 = 1_000;

/// Arguments of `omni audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check that no sealed audit entry was deleted or edited: every entry links to the one before it and hashes
    /// as it was sealed. Prints each chain's length and head hash (keep the head somewhere else: a chain is only
    /// as trustworthy as the last head you compare it with). Exits 1 naming the first broken link.
    Verify {
        /// Only this service (default: all six).
        #[arg(long, value_parser = clap::value_parser!(Service))]
        service: Option<Service>,
    },
}

/// Verifies each service's chain (PostgreSQL from `database.url`, else the dev SQLite files).
pub(crate) async fn run(settings: Settings, args: Args) -> anyhow::Result<()> {
    let AuditCommand::Verify { service: only } = args.command;
    let backend = if settings.database.url.is_empty() {
        DbBackend::Sqlite(settings.database.data_dir.clone().into())
    } else {
        DbBackend::Postgres(settings.database.url.expose().to_owned())
    };
    let mut broken = Vec::new();
    for service in Service::ALL
        .into_iter()
        .filter(|s| only.is_none_or(|only| only == *s))
    {
        let target = db_target(&settings, &backend, service)?;
        let db = omni_db::Db::connect(target, 1).map_err(|e| anyhow!("{e} (database.url)"))?;
        let (verdict, head) = db
            .run(|conn| -> omni_db::Result<_> {
                Ok((omni_db::audit::verify(conn, PAGE)?, omni_db::audit::head(conn)?))
            })
            .await?;
        match verdict {
            Verification::Intact { sealed, unsealed } => println!(
                "audit {service:<12} intact: {sealed} entries sealed, {unsealed} waiting, head {}",
                head.as_deref().unwrap_or(omni_db::audit::GENESIS)
            ),
            Verification::Broken { seq, id, reason } => {
                let entry = id.map_or_else(String::new, |id| format!(" ({id})"));
                println!("audit {service:<12} BROKEN at entry {seq}{entry}: {reason}");
                broken.push(service.name());
            }
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("the audit chain of {} is broken", broken.join(", ")))
    }
}

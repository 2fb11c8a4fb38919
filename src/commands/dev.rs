//! `omni dev`: the whole mesh in one process on embedded backends, with demo data and a printed admin key.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use omni::{DbBackend, HoldsBackend, InvalidConfiguration, KafkaBackend, Mesh, MeshOptions, Service};
use omni_config::{ApiKeySettings, Role, Secret, Settings};
use serde::Serialize;

/// Arguments of `omni dev` (also used by `omni demo`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DevArgs {
    /// The admin API key to accept (sent as `Authorization: Bearer <key>`); generated and kept in the data
    /// directory when not given.
    #[arg(long, env = "OMNI_DEV_ADMIN_KEY")]
    pub admin_key: Option<String>,
    /// Also write the endpoints, Kafka address and admin key as JSON to this file (for scripts).
    #[arg(long)]
    pub endpoints_file: Option<PathBuf>,
    /// Where SQLite files and generated keys live (default: `database.data_dir`, `.omni-dev`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Delete the data directory first.
    #[arg(long)]
    pub fresh: bool,
    /// Use this Kafka instead of the embedded broker.
    #[arg(long, value_name = "BOOTSTRAP")]
    pub kafka: Option<String>,
    /// Use this Redis instead of the in-memory hold store.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Use this PostgreSQL (one schema per service) instead of SQLite files.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Bind every service to a free port instead of 8081-8086.
    #[arg(long)]
    pub ephemeral_ports: bool,
    /// Do not load the demo locations, SKUs and stock.
    #[arg(long)]
    pub no_seed: bool,
}

/// A running dev mesh.
pub(crate) struct DevMesh {
    /// The services.
    pub mesh: Mesh,
    /// The admin key.
    pub admin_key: String,
}

#[derive(Serialize)]
struct Endpoints<'a> {
    services: std::collections::BTreeMap<&'a str, String>,
    kafka_bootstrap: &'a str,
    admin_key: &'a str,
}

/// Starts the dev mesh (seeded unless `--no-seed`) and prints where everything is.
pub(crate) async fn start(mut settings: Settings, args: &DevArgs, quiet: bool) -> anyhow::Result<DevMesh> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&settings.database.data_dir));
    if args.fresh && data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("cannot delete {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let admin_key = match &args.admin_key {
        Some(key) => key.clone(),
        None => kept_secret(&data_dir.join("admin-key"), || {
            format!("omni-dev-{}", random_hex(12))
        })?,
    };
    if admin_key.len() < 16 {
        return Err(InvalidConfiguration::new("`--admin-key` must be at least 16 characters").into());
    }
    settings.auth.api_keys.push(ApiKeySettings {
        key: Secret::new(admin_key.clone()),
        name: "dev-admin".into(),
        roles: vec![Role::Admin],
        partner_id: None,
        locations: vec![],
        ..Default::default()
    });
    // A key for each role, so a newcomer can try the scoping by hand (kept with the data, like the admin key).
    let role_keys = role_keys(&data_dir)?;
    for key in &role_keys {
        settings.auth.api_keys.push(ApiKeySettings {
            key: Secret::new(key.key.clone()),
            name: format!("dev-{}", key.role_name),
            roles: vec![key.role],
            partner_id: key.partner.map(str::to_owned),
            locations: key.store.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        });
    }
    // The demo marketplace, so the examples in docs/schemas/examples/ are taken as they are.
    if settings.orders.partner(crate::demo_data::DEMO_PARTNER).is_none() {
        let mut demo =
            omni_config::PartnerSettings::new(crate::demo_data::DEMO_PARTNER, "Northwind Market (demo)");
        demo.allowed_tiers.push("vip".into());
        settings.orders.partners.push(demo);
    }
    if settings.payments.key_encryption_key.is_empty() {
        let kek = kept_secret(&data_dir.join("kek"), || {
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
        })?;
        settings.payments.key_encryption_key = Secret::new(kek);
    }
    let database = args
        .database
        .clone()
        .or_else(|| Some(settings.database.url.expose().to_owned()).filter(|u| !u.is_empty()));
    let redis = args
        .redis
        .clone()
        .or_else(|| Some(settings.redis.url.expose().to_owned()).filter(|u| !u.is_empty()));
    let kafka = args
        .kafka
        .clone()
        .or_else(|| Some(settings.kafka.bootstrap_servers.clone()).filter(|u| !u.is_empty()));
    let prefix = settings.redis.key_prefix.clone();
    let options = MeshOptions {
        kafka: kafka.map_or(KafkaBackend::Embedded, KafkaBackend::External),
        db: database.map_or_else(|| DbBackend::Sqlite(data_dir.clone()), DbBackend::Postgres),
        holds: redis.map_or(HoldsBackend::Memory, |url| HoldsBackend::Redis { url, prefix }),
        ephemeral_ports: args.ephemeral_ports,
        services: Service::ALL.to_vec(),
        settings,
    };
    let backends = describe(&options);
    let mesh = Mesh::start(options).await?;
    if !args.no_seed {
        crate::demo_data::seed(&mesh, &admin_key)
            .await
            .context("loading the demo data")?;
    }
    if let Some(path) = &args.endpoints_file {
        let endpoints = Endpoints {
            services: mesh
                .endpoints()
                .keys()
                .map(|s| (s.name(), mesh.url(*s)))
                .collect(),
            kafka_bootstrap: mesh.kafka_bootstrap(),
            admin_key: &admin_key,
        };
        // Written beside it and renamed into place, so a script polling for the file never reads it half-written.
        let partial = path.with_extension("partial");
        std::fs::write(&partial, serde_json::to_vec_pretty(&endpoints)?)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !quiet {
        println!("Omni dev mesh is up ({backends}).");
        for service in mesh.endpoints().keys() {
            println!("  {service:<12} {}", mesh.url(*service));
        }
        println!("  {:<12} {}", "kafka", mesh.kafka_bootstrap());
        println!(
            "  {:<12} {admin_key}   (send `Authorization: Bearer <key>`)",
            "admin key"
        );
        for key in &role_keys {
            let scope = match (key.partner, key.store) {
                (Some(partner), _) => format!("   (partner {partner}: its orders only)"),
                (None, Some(store)) => format!("   (works at {store}: that store only)"),
                (None, None) => String::new(),
            };
            println!("  {:<12} {}{scope}", format!("{} key", key.role_name), key.key);
        }
        println!("  {:<12} {}", "data", data_dir.display());
        println!(
            "  {:<12} {} (send docs/schemas/examples/*.json to {} as `omni.partner_order.submitted`)",
            "partner",
            crate::demo_data::DEMO_PARTNER,
            mesh.partner_topic(crate::demo_data::DEMO_PARTNER)
        );
        println!("Press Ctrl-C to stop.");
    }
    Ok(DevMesh { mesh, admin_key })
}

fn describe(options: &MeshOptions) -> String {
    let kafka = match &options.kafka {
        KafkaBackend::Embedded => "embedded Kafka".to_owned(),
        KafkaBackend::External(b) => format!("Kafka at {b}"),
    };
    let db = match &options.db {
        DbBackend::Sqlite(dir) => format!("SQLite in {}", dir.display()),
        DbBackend::Postgres(url) => format!("PostgreSQL at {}", omni_db::redact(url)),
    };
    let holds = match &options.holds {
        HoldsBackend::Memory => "in-memory holds".to_owned(),
        HoldsBackend::Redis { url, .. } => format!("Redis at {}", omni_db::redact(url)),
    };
    format!("{kafka}, {db}, {holds}")
}

/// Reads a generated secret from `path`, or creates it (mode 0600) so restarts keep it.
/// A ready-to-use key for one role.
struct RoleKey {
    role: Role,
    role_name: &'static str,
    partner: Option<&'static str>,
    store: Option<&'static str>,
    key: String,
}

/// A key for a partner (the demo marketplace), an associate of a demo store, a manager and an auditor, each kept
/// in the data folder.
fn role_keys(data_dir: &Path) -> anyhow::Result<Vec<RoleKey>> {
    let store = crate::demo_data::LOCATIONS.first().map(|l| l.id);
    [
        (
            Role::Partner,
            "partner",
            Some(crate::demo_data::DEMO_PARTNER),
            None,
        ),
        (Role::Associate, "associate", None, store),
        (Role::Manager, "manager", None, None),
        (Role::Auditor, "auditor", None, None),
    ]
    .into_iter()
    .map(|(role, role_name, partner, store)| {
        let key = kept_secret(&data_dir.join(format!("{role_name}-key")), || {
            format!("omni-dev-{role_name}-{}", random_hex(12))
        })?;
        Ok(RoleKey {
            role,
            role_name,
            partner,
            store,
            key,
        })
    })
    .collect()
}

fn kept_secret(path: &Path, generate: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    let value = generate();
    std::fs::write(path, &value).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(value)
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Runs `omni dev` until Ctrl-C or SIGTERM.
pub(crate) async fn run(settings: Settings, args: DevArgs) -> anyhow::Result<()> {
    let telemetry = omni_telemetry::init(&settings.telemetry, "omni")?;
    let DevMesh { mut mesh, .. } = start(settings, &args, false).await?;
    let outcome = tokio::select! {
        _ = crate::signals::terminated() => {
            println!("Stopping: draining HTTP, consumers and outboxes...");
            mesh.stop().await
        }
        exited = mesh.first_exit() => match exited {
            Some((name, Err(e))) => Err(anyhow::anyhow!("{name} stopped: {e}")),
            _ => Ok(()),
        },
    };
    telemetry.shutdown();
    outcome
}

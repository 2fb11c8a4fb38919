//! `omni serve <service>`: one service against real backends.

use omni::{DbBackend, HoldsBackend, InvalidConfiguration, KafkaBackend, Mesh, MeshOptions, Service};
use omni_config::Settings;

/// Arguments of `omni serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The service: catalog, allocation, orders, fulfillment, payments or returns.
    #[arg(value_parser = clap::value_parser!(Service))]
    service: Service,
}

/// Runs the service until SIGTERM or Ctrl-C, then drains it and exits 0.
pub(crate) async fn run(settings: Settings, args: Args) -> anyhow::Result<()> {
    let service = args.service;
    required_settings(&settings, service)?;
    let telemetry = omni_telemetry::init(&settings.telemetry, &format!("omni-{service}"))?;
    let options = MeshOptions {
        kafka: KafkaBackend::External(settings.kafka.bootstrap_servers.clone()),
        db: DbBackend::Postgres(settings.database.url.expose().to_owned()),
        holds: if settings.redis.url.is_empty() {
            HoldsBackend::Memory
        } else {
            HoldsBackend::Redis {
                url: settings.redis.url.expose().to_owned(),
                prefix: settings.redis.key_prefix.clone(),
            }
        },
        ephemeral_ports: false,
        services: vec![service],
        settings,
    };
    let mut mesh = Mesh::start(options).await?;
    tracing::info!(service = service.name(), address = %mesh.url(service), "Serving.");
    let outcome = tokio::select! {
        _ = crate::signals::terminated() => mesh.stop().await,
        exited = mesh.first_exit() => match exited {
            Some((name, Err(e))) => Err(anyhow::anyhow!("{name} stopped: {e}")),
            _ => Ok(()),
        },
    };
    telemetry.shutdown();
    outcome
}

/// The settings `omni serve <service>` cannot run without (`omni dev` has embedded stand-ins for them).
fn required_settings(settings: &Settings, service: Service) -> Result<(), InvalidConfiguration> {
    if settings.kafka.bootstrap_servers.is_empty() {
        return Err(InvalidConfiguration::new(
            "`kafka.bootstrap_servers` is required by `omni serve` (the embedded broker is for `omni dev`)",
        ));
    }
    if settings.database.url.is_empty() && !settings.database.urls.contains_key(service.name()) {
        return Err(InvalidConfiguration::new(format!(
            "`database.url` (or `database.urls.{service}`) is required by `omni serve`"
        )));
    }
    if service == Service::Allocation && settings.redis.url.is_empty() {
        return Err(InvalidConfiguration::new(
            "`redis.url` is required by `omni serve allocation`",
        ));
    }
    if service == Service::Payments && settings.payments.key_encryption_key.is_empty() {
        return Err(InvalidConfiguration::new(
            "`payments.key_encryption_key` is required by `omni serve payments`",
        ));
    }
    Ok(())
}

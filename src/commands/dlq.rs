//! `omni dlq list|show|replay`: what the consumers parked in the dead-letter topics, why, and re-driving it after
//! the cause is fixed. Reads the broker of `kafka.bootstrap_servers` (with `omni dev`, the address it prints).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use omni::mesh::{DbBackend, db_target};
use omni::{InvalidConfiguration, Service};
use omni_config::Settings;
use omni_kafka::Kafka;
use omni_kafka::dead_letters::Parked;

/// How long reading one DLQ may take.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `omni dlq`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DlqCommand {
    /// List the parked messages: position, cause, consumer, event type and id, whether replayed, reason.
    List {
        /// Only this dead-letter topic (its physical name; default: every one).
        #[arg(long)]
        topic: Option<String>,
        /// At most this many messages per topic.
        #[arg(long, default_value_t = 1_000)]
        limit: usize,
    },
    /// Print one parked message: its headers and its body (card numbers were masked when it was parked).
    Show {
        /// The dead-letter topic (as `list` prints it).
        topic: String,
        /// `<partition>:<offset>` (as `list` prints it).
        position: String,
    },
    /// Send parked messages back to the topic each came from, once the cause is fixed. Only what no replay sent
    /// yet; the consumers apply an event once, so a message that was handled meanwhile changes nothing. Each
    /// replayed message is audited in the log of the service whose consumer parked it.
    Replay {
        /// Only this dead-letter topic (default: every one).
        #[arg(long)]
        topic: Option<String>,
        /// Only the messages with this CloudEvents id (repeatable; default: all).
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Say what would be replayed, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `omni dlq`.
pub(crate) async fn run(settings: Settings, args: Args) -> anyhow::Result<()> {
    if settings.kafka.bootstrap_servers.is_empty() {
        return Err(InvalidConfiguration::new(
            "`kafka.bootstrap_servers` is required by `omni dlq` (with `omni dev`: the Kafka address it prints)",
        )
        .into());
    }
    let partners = settings.orders.partners.iter().map(|p| p.id.as_str());
    let kafka = Kafka::new(&settings.kafka, &settings.kafka.bootstrap_servers).with_partners(partners);
    kafka.ping(Duration::from_secs(10)).await?;
    let topics = |only: Option<String>| only.map_or_else(|| kafka.dead_letter_topics(), |t| vec![t]);
    match args.command {
        DlqCommand::List { topic, limit } => {
            let mut total = 0;
            for dlq in topics(topic) {
                for message in kafka.parked(&dlq, limit, READ_TIMEOUT).await? {
                    total += 1;
                    println!("{}", line(&message));
                }
            }
            println!("{total} parked message(s)");
            Ok(())
        }
        DlqCommand::Show { topic, position } => {
            let (partition, offset) = parse_position(&position)?;
            let message = kafka
                .parked(&topic, usize::MAX, READ_TIMEOUT)
                .await?
                .into_iter()
                .find(|m| m.partition == partition && m.offset == offset)
                .ok_or_else(|| anyhow!("nothing parked at {position} in {topic}"))?;
            print!("{}", details(&message));
            Ok(())
        }
        DlqCommand::Replay { topic, ids, dry_run } => {
            let selected = |m: &Parked| ids.is_empty() || ids.iter().any(|id| id == m.event_id());
            let mut replayed = Vec::new();
            for dlq in topics(topic) {
                if dry_run {
                    let waiting = kafka.parked(&dlq, usize::MAX, READ_TIMEOUT).await?;
                    for message in waiting.iter().filter(|m| !m.replayed && selected(m)) {
                        println!("would replay {}", line(message));
                    }
                    continue;
                }
                let metrics = omni_telemetry::Metrics::new("cli")?;
                let producer = kafka.producer(&metrics)?;
                let outcome = kafka.replay(&producer, &dlq, selected, READ_TIMEOUT).await?;
                producer.flush(Duration::from_secs(10));
                for message in &outcome.replayed {
                    println!("replayed {}", line(message));
                }
                replayed.extend(outcome.replayed);
            }
            if !dry_run {
                audit(&settings, &replayed).await?;
                println!("{} message(s) replayed", replayed.len());
            }
            Ok(())
        }
    }
}

/// One message on one line.
fn line(message: &Parked) -> String {
    format!(
        "{} {} {} {} {} {} {}{}",
        message.dlq,
        message.position(),
        or_dash(message.cause()),
        or_dash(message.consumer()),
        or_dash(message.header("ce_type").unwrap_or("")),
        or_dash(message.event_id()),
        if message.replayed { "replayed " } else { "" },
        message.reason(),
    )
}

fn or_dash(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}

/// Headers, then the body (pretty JSON when it is JSON).
fn details(message: &Parked) -> String {
    let mut out = format!("{} {}\nkey: {}\n", message.dlq, message.position(), message.key);
    for (name, value) in &message.headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    let body = serde_json::from_slice::<serde_json::Value>(&message.payload)
        .ok()
        .and_then(|json| serde_json::to_string_pretty(&json).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&message.payload).into_owned());
    out.push_str(&format!("\n{body}\n"));
    out
}

fn parse_position(position: &str) -> anyhow::Result<(i32, i64)> {
    let (partition, offset) = position
        .split_once(':')
        .ok_or_else(|| anyhow!("`{position}` is not <partition>:<offset>"))?;
    Ok((
        partition.parse().context("the partition")?,
        offset.parse().context("the offset")?,
    ))
}

/// Records each replayed message in the audit log of the service whose consumer parked it
/// (`kafka.dlq.replayed`, by the operating system user who ran the command).
async fn audit(settings: &Settings, replayed: &[Parked]) -> anyhow::Result<()> {
    let mut by_service: BTreeMap<Service, Vec<&Parked>> = BTreeMap::new();
    for message in replayed {
        let service = message.consumer().split('.').next().unwrap_or_default();
        match service.parse::<Service>() {
            Ok(service) => by_service.entry(service).or_default().push(message),
            Err(_) => {
                tracing::warn!(dlq = %message.dlq, position = %message.position(), "A replayed message names no service's consumer; not audited.")
            }
        }
    }
    if by_service.is_empty() {
        return Ok(());
    }
    let backend = if settings.database.url.is_empty() {
        DbBackend::Sqlite(settings.database.data_dir.clone().into())
    } else {
        DbBackend::Postgres(settings.database.url.expose().to_owned())
    };
    let principal = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    for (service, messages) in by_service {
        let target = db_target(settings, &backend, service)?;
        let db = omni_db::Db::connect(target, 1).map_err(|e| anyhow!("{e} (database.url)"))?;
        let entries: Vec<(String, serde_json::Value)> = messages
            .iter()
            .map(|m| {
                let subject = format!("{}/{}", m.dlq, m.position());
                let detail = serde_json::json!({
                    "to": m.original_topic(), "ce_id": m.event_id(), "consumer": m.consumer(),
                    "cause": m.cause(), "reason": m.reason(),
                });
                (subject, detail)
            })
            .collect();
        let principal = principal.clone();
        let written = db
            .transaction(move |conn| -> omni_db::Result<()> {
                for (subject, detail) in &entries {
                    omni_db::audit::record(conn, &principal, "kafka.dlq.replayed", subject, detail)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = written {
            bail!("the messages were replayed, but {service}'s audit log could not record it: {e}");
        }
    }
    Ok(())
}

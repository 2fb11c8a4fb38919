//! `omni-loadtest`: Omni's benchmarks against the real backends, each printing both sides and their ratio from
//! one run. `reservations` compares checkout holds through allocation with raw `redis-benchmark` EVALSHA of the
//! same script and with a PostgreSQL row-lock allocation of the shape Saleor uses; `pos-lag` measures how long a
//! POS sale takes to show on `omni.availability.v1` at a paced rate; `intake` compares partner intake with a
//! bare consumer of the same topic. Every run is bounded in count and time,
//! talks to 127.0.0.1 only, and works in its own database, Redis key prefix and topics.

mod availability;
mod backends;
mod intake;
mod pos_lag;
mod reservations;
mod return_lag;
mod routing;
mod stats;

/// mimalloc instead of the system allocator: glibc's `malloc`/`free` took ~11 % of all CPU during partner
/// intake (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Omni's benchmarks on the real backends (PostgreSQL, Redis, a Kafka-protocol broker), printed as ratios.
///
/// Start the broker first, e.g. `eval "$(scripts/test.sh --infra-only)"`, which exports
/// OMNI_TEST_KAFKA_BOOTSTRAP, OMNI_TEST_DATABASE_URL and OMNI_TEST_REDIS_URL. Each run creates its own
/// database, Redis key prefix and topics, and removes the database and keys when it ends.
#[derive(Debug, Parser)]
#[command(name = "omni-loadtest", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    backends: BackendArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the real backends are.
#[derive(Debug, Clone, Args)]
struct BackendArgs {
    /// Kafka bootstrap servers of a real broker (Nisshi): 127.0.0.1:PORT.
    #[arg(
        long,
        global = true,
        help_heading = "Backends",
        env = "OMNI_TEST_KAFKA_BOOTSTRAP"
    )]
    kafka: Option<String>,
    /// PostgreSQL admin URL; the run creates (and drops) its own database through it.
    #[arg(
        long,
        global = true,
        help_heading = "Backends",
        env = "OMNI_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// TLS between the mesh and the run's database (libpq's `sslmode`). Off by default: the broker and Redis are
    /// reached in plaintext on loopback too, so a ratio against the broker compares like with like; `prefer`
    /// is libpq's own default (TLS whenever the server offers it), `require` what a deployment over a network uses.
    #[arg(
        long,
        global = true,
        help_heading = "Backends",
        value_enum,
        default_value_t = SslMode::Disable
    )]
    database_sslmode: SslMode,
    /// Redis URL; the run uses its own key prefix and deletes its keys at the end.
    #[arg(
        long,
        global = true,
        help_heading = "Backends",
        env = "OMNI_TEST_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
}

/// libpq's `sslmode` values the benchmarks offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SslMode {
    Disable,
    Prefer,
    Require,
}

impl SslMode {
    /// As libpq spells it.
    fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checkout holds/s through allocation ÷ raw redis-benchmark EVALSHA of the same script, and ÷ a PostgreSQL
    /// row-lock allocation (SELECT … FOR UPDATE, UPDATE, INSERT), on one hot SKU and on random SKUs.
    Reservations(reservations::ReservationArgs),
    /// POS sale → availability event lag: pos_sale movements on omni.inventory.v1 at a paced rate, matched
    /// to the omni.availability.v1 events they cause; p50/p99 lag.
    PosLag(pos_lag::PosLagArgs),
    /// Partner orders/s through the Kafka intake ÷ a bare consumer reading the same topic, the whole pipeline's
    /// maximum rate (order in → reserved event out), and that latency at half of the pipeline's maximum.
    Intake(intake::IntakeArgs),
    /// Routing decision time for 5-line orders over 1,000 nodes (in process, no backend): p50/p99 and CPU per
    /// decision, against the goal p99 ≤ 1 ms.
    Routing(routing::RoutingArgs),
    /// In-store return → the returned unit in the availability stream: returns at a store counter, each unit
    /// restocked there, matched to the omni.availability.v1 event showing it; p50/p99 lag on the whole mesh.
    ReturnLag(return_lag::ReturnLagArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("omni-loadtest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    omni_telemetry::init_for_tests();
    let outcome = runtime.block_on(async {
        let run = async {
            match cli.command {
                Command::Reservations(args) => reservations::run(&cli.backends, args).await,
                Command::PosLag(args) => pos_lag::run(&cli.backends, args).await,
                Command::Intake(args) => intake::run(&cli.backends, args).await,
                Command::Routing(args) => routing::run(args),
                Command::ReturnLag(args) => return_lag::run(&cli.backends, args).await,
            }
        };
        // Ctrl-C drops the run, so its database, keys and services are cleaned up on the way out.
        tokio::select! {
            outcome = run => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omni-loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

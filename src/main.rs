//! `omni`: one binary for every Omni service. The CLI only: settings, telemetry, then a mesh of services.

mod commands;
mod demo_data;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: glibc's `malloc`/`free` took ~11 % of all CPU during partner
/// intake (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for invalid configuration (EX_CONFIG... sysexits' EX_USAGE, as documented).
const EXIT_CONFIG: u8 = 64;

/// Omni: distributed order management for omnichannel retail.
#[derive(Debug, Parser)]
#[command(name = "omni", version, about, long_about = None)]
struct Cli {
    /// A settings file (TOML) layered over the built-in defaults; `OMNI__SECTION__KEY` variables override both.
    #[arg(long, global = true, env = "OMNI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one service against the configured Kafka, Redis and PostgreSQL (production).
    Serve(commands::serve::Args),
    /// Run all six services in this process on embedded backends (nothing to install).
    Dev(commands::dev::DevArgs),
    /// `dev` plus a traffic simulator with a progress bar and a closing report.
    Demo(commands::demo::DemoArgs),
    /// Apply every service's database migrations (or one service's) and exit.
    Migrate(commands::migrate::Args),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write the policy custom resource definitions (BufferPolicy, RoutingPolicy) generated from the Rust types.
    Crdgen(commands::crdgen::Args),
    /// Check the services' audit logs (hash chains): `omni audit verify`.
    Audit(commands::audit::Args),
    /// Inspect the dead-letter topics and replay what was parked there once the cause is fixed:
    /// `omni dlq list|show|replay`.
    Dlq(commands::dlq::Args),
    /// Serve the sandbox PSP on its own (for `payments.psp = "sandbox-http"`), so its record outlives payments.
    PspSandbox(commands::psp_sandbox::Args),
    /// Print the authorization table every service enforces (who may call each route, whose objects it
    /// touches) as Markdown, as published in docs/AUTHORIZATION.md.
    Authz,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective settings with secrets redacted.
    Print,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match omni_config::Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("omni: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let command = match cli.command {
        Command::Config(ConfigCommand::Print) => {
            print!("{}", settings.to_redacted_toml());
            return ExitCode::SUCCESS;
        }
        Command::Crdgen(args) => {
            return match commands::crdgen::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("omni crdgen: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Authz => {
            print!("{}", omni_http::authz::markdown(&omni::mesh::authorization()));
            return ExitCode::SUCCESS;
        }
        command => command,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("omni: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match command {
            Command::Serve(args) => commands::serve::run(settings, args).await,
            Command::Dev(args) => commands::dev::run(settings, args).await,
            Command::Demo(args) => commands::demo::run(settings, args).await,
            Command::Migrate(args) => commands::migrate::run(settings, args).await,
            Command::Audit(args) => commands::audit::run(settings, args).await,
            Command::Dlq(args) => commands::dlq::run(settings, args).await,
            Command::PspSandbox(args) => commands::psp_sandbox::run(settings, args).await,
            Command::Config(_) | Command::Crdgen(_) | Command::Authz => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omni: {e:#}");
            if is_invalid_configuration(&e) {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Whether the settings are at fault, by the type of an error in the chain (never by its message).
fn is_invalid_configuration(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<omni::InvalidConfiguration>()
            || cause.is::<omni_config::Error>()
            || cause
                .downcast_ref::<omni_telemetry::Error>()
                .is_some_and(omni_telemetry::Error::is_invalid_configuration)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

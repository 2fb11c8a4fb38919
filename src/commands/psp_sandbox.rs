//! `omni psp-sandbox`: the sandbox PSP served on its own, so that its record outlives the payments process (the
//! fault tests kill payments and compare its ledger with this book). Point payments at it with
//! `payments.psp = "sandbox-http"` and `payments.psp_url`.

use std::sync::Arc;

use anyhow::Context;
use omni_config::Settings;
use omni_payments::domain::sandbox_psp::SandboxPsp;

/// Arguments of `omni psp-sandbox`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to listen (127.0.0.1 only; port 0 picks a free one, printed at start).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: std::net::SocketAddr,
    /// Lose this share of replies after doing the work (the caller asks again with the same key), in percent.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    lose_replies_percent: u8,
    /// Answer every call this many milliseconds late.
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// Report each capture, refund and void to this webhook URL (payments' `/v1/payments/webhooks/sandbox`),
    /// signed with `payments.webhook_secret`.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Send this share of webhooks twice, in percent.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    duplicate_webhooks_percent: u8,
}

/// Serves the sandbox until SIGTERM or SIGINT; its authorizations lapse after
/// `payments.card_authorization_seconds`.
pub(crate) async fn run(settings: Settings, args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen: the sandbox PSP listens on 127.0.0.1 only, got {}",
        args.listen
    );
    let _telemetry = omni_telemetry::init(&settings.telemetry, "psp-sandbox")?;
    let listener =
        std::net::TcpListener::bind(args.listen).with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let lifetime = omni_payments::app::renewal::Renewal::from_settings(&settings.payments).card_authorization;
    let psp = Arc::new(SandboxPsp::lapsing_after(lifetime));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    println!("sandbox PSP listening on http://{address}");
    anyhow::ensure!(
        args.webhook_url.is_none() || !settings.payments.webhook_secret.is_empty(),
        "--webhook-url: set payments.webhook_secret too (payments must know the secret the sandbox signs with)"
    );
    let faults = omni_payments::sandbox_server::faults::Faults {
        lose_replies_percent: args.lose_replies_percent,
        slow: std::time::Duration::from_millis(args.slow_ms),
        webhook_url: args.webhook_url,
        webhook_secret: settings.payments.webhook_secret.expose().as_bytes().to_vec(),
        duplicate_webhooks_percent: args.duplicate_webhooks_percent,
    };
    omni_payments::sandbox_server::serve(listener, psp, faults, shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

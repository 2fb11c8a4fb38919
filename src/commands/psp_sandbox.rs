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
    omni_payments::sandbox_server::serve(listener, psp, shutdown).await?;
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

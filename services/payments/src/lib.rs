//! The payments service: the card vault (tokenization with AES-256-GCM under rotating data keys wrapped by a
//! key-encryption key), payment intents, and PSP calls behind an adapter (a sandbox PSP ships with Omni).
//!
//! Card numbers enter only here, through `POST /v1/payments/tokens`, and leave only towards the PSP. They never
//! appear in logs, traces, events, error bodies or `Debug` output; at most the first six and last four digits
//! are shown. The CVC is checked and forgotten, never stored. Detokenization happens only inside this service,
//! for a PSP call, under its own principal, rate-limited and audited.
//!
//! Consumes `omni.orders.v1` (reserved → authorize each tender of the payment plan; part delivered and fulfilled
//! → capture; failed and cancelled → void) and the refund command on `omni.payments.v1`; publishes
//! `omni.payments.v1` through the outbox (see [`events`]).
//!
//! Start reading at [`app::authorization`] (an order's tenders authorized in charge order: payer checked, card
//! opened, each PSP call recorded before it is made), [`app::operations`] (captures, voids and refunds as
//! batches of recorded PSP operations), `domain::ledger` (each tender's buckets and their invariants, pure), then
//! `db::vault` (sealing and opening cards) and `domain::vault` (the envelope encryption, pure). This file wires
//! them: [`run`].

pub mod app;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod http_psp;
pub mod routes;
pub mod sandbox_server;

use std::sync::Arc;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_contracts::Topic;
use omni_runtime::{ServiceContext, ServiceParts};
use utoipa::OpenApi;

pub use app::State;
pub use app::vault::open_vault;
pub use error::{Error, Result};

use crate::domain::psp::Psp;
use crate::domain::sandbox_psp::SandboxPsp;
use crate::domain::vault::Kek;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The message when `payments.key_encryption_key` is unusable.
const INVALID_KEK: &str = "invalid configuration: `payments.key_encryption_key` must be base64 of 32 bytes";

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omni payments",
        description = "Card tokenization, vault key rotation and payment intents."
    ),
    paths(
        routes::tokens::create::create_token,
        routes::keys::rotate::rotate_keys,
        routes::intents::list::list_intents,
        routes::refunds::create::create_refund,
        routes::gift_cards::issue::issue_stored_value,
        routes::gift_cards::balance::stored_value_balance,
        routes::webhooks::receive::receive_webhook,
    ),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

/// Parses the configured KEK: base64 of exactly 32 bytes.
pub fn kek_from_settings(settings: &omni_config::PaymentsSettings) -> omni_runtime::Result<Kek> {
    Kek::from_base64(settings.key_encryption_key.expose())
        .map_err(|_| omni_runtime::Error::Startup(INVALID_KEK.into()))
}

/// The PSP adapter named by `payments.psp` (the sandbox lapses its authorizations as configured for cards).
pub fn psp_from_settings(settings: &omni_config::PaymentsSettings) -> omni_runtime::Result<Arc<dyn Psp>> {
    match settings.psp.as_str() {
        "sandbox" => Ok(Arc::new(SandboxPsp::lapsing_after(
            app::renewal::Renewal::from_settings(settings).card_authorization,
        ))),
        "sandbox-http" if settings.psp_url.is_empty() => Err(omni_runtime::Error::Startup(
            "invalid configuration: `payments.psp_url` must name the sandbox PSP server (`omni psp-sandbox`) \
             when `payments.psp` is `sandbox-http`"
                .into(),
        )),
        "sandbox-http" => Ok(Arc::new(
            http_psp::HttpPsp::new(&settings.psp_url)
                .map_err(|e| omni_runtime::Error::Startup(e.to_string()))?,
        )),
        other => Err(omni_runtime::Error::Startup(format!(
            "invalid configuration: `payments.psp` must be `sandbox` (in process) or `sandbox-http` (the sandbox \
             served by `omni psp-sandbox`), got `{other}`"
        ))),
    }
}

/// Runs the payments service until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext) -> omni_runtime::Result<()> {
    let kek = kek_from_settings(&ctx.settings.payments)?;
    let psp = psp_from_settings(&ctx.settings.payments)?;
    let relay = ctx.outbox_relay();
    let mut state = State::new(ctx.db.clone(), relay.waker(), kek, psp);
    state.renewal = app::renewal::Renewal::from_settings(&ctx.settings.payments);
    if !ctx.settings.payments.webhook_secret.is_empty() {
        state.webhook_secret = Arc::new(ctx.settings.payments.webhook_secret.expose().as_bytes().to_vec());
    }
    let version = open_vault(&state.db, &state.kek).await.map_err(|e| match e {
        Error::Crypto(e) => omni_runtime::Error::Startup(format!(
            "invalid configuration: `payments.key_encryption_key` is not the key the vault was created with ({e})"
        )),
        Error::Db(e) => omni_runtime::Error::Db(e),
        other => omni_runtime::Error::Startup(format!("cannot open the payments vault: {other}")),
    })?;
    tracing::info!(
        data_key.version = version,
        psp = state.psp.name(),
        "Payments vault open."
    );

    let consumers = vec![
        (
            ctx.consumer(events::orders::CONSUMER, vec![Topic::Orders]),
            events::orders::handler(state.clone()),
        ),
        (
            ctx.consumer(events::commands::CONSUMER, vec![Topic::Payments]),
            events::commands::handler(state.clone()),
        ),
    ];
    let reconcile_metrics = app::reconcile::ReconcileMetrics::register(&ctx.metrics.registry)
        .map_err(|e| omni_runtime::Error::Startup(format!("cannot register the reconcile metrics: {e}")))?;
    let settings = &ctx.settings.payments;
    let background = vec![
        app::renewal::run(
            state.clone(),
            std::time::Duration::from_secs(settings.reauthorize_check_seconds),
            ctx.shutdown.clone(),
        ),
        app::refunds::resume_unfinished(
            state.clone(),
            std::time::Duration::from_secs(10),
            ctx.shutdown.clone(),
        ),
        app::reconcile::run(
            state.clone(),
            std::time::Duration::from_secs(settings.reconcile_interval_seconds),
            chrono::Duration::days(i64::try_from(settings.reconcile_window_days).unwrap_or(3_650)),
            reconcile_metrics,
            ctx.shutdown.clone(),
        ),
    ];
    ctx.run(ServiceParts {
        openapi: ApiDoc::openapi(),
        authorization: routes::AUTHORIZATION,
        configure: move |cfg: &mut actix_web::web::ServiceConfig| routes::configure(cfg, state.clone()),
        consumers,
        relay,
        readiness: vec![],
        background,
    })
    .await
}

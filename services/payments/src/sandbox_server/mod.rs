//! The sandbox PSP as a server of its own (`omni psp-sandbox`): the same [`SandboxPsp`] behind HTTP on
//! 127.0.0.1, so that its book outlives the payments process (a payments crash or SIGKILL cannot take the PSP's
//! record with it, as with a real PSP). Payments reaches it through [`crate::http_psp::HttpPsp`]
//! (`payments.psp = "sandbox-http"`, `payments.psp_url`). Card numbers arrive here only for an authorization, as
//! at a real PSP, and are never logged.
//!
//! Routes: `POST /authorize`, `POST /{capture|refund|void}`, `GET /authorizations/{psp_reference}`, and
//! `GET /health/ready` (200 once it serves); the bodies are in [`wire`]. Answers: 200, 404 (unknown reference), 409 (refused, with the reason), 503 (no answer: ask again
//! with the same idempotency key).

pub mod authorize;
pub mod faults;
pub mod lookup;
pub mod movement;
pub mod wire;

use std::sync::Arc;

use actix_web::{App, HttpServer, web};

use crate::domain::sandbox_psp::SandboxPsp;

/// Registers the sandbox's routes.
pub fn configure(cfg: &mut web::ServiceConfig, psp: Arc<SandboxPsp>, faults: Arc<faults::Faults>) {
    cfg.app_data(web::Data::from(psp))
        .app_data(web::Data::from(faults))
        .route("/authorize", web::post().to(authorize::authorize))
        .route("/authorizations/{psp_reference}", web::get().to(lookup::lookup))
        .route(
            "/health/ready",
            web::get().to(|| async { actix_web::HttpResponse::Ok().finish() }),
        )
        .route("/{kind}", web::post().to(movement::movement));
}

/// Serves `psp` on `listener` with `faults` until `shutdown`.
pub async fn serve(
    listener: std::net::TcpListener,
    psp: Arc<SandboxPsp>,
    faults: faults::Faults,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let faults = Arc::new(faults);
    let server = HttpServer::new(move || {
        let (psp, faults) = (psp.clone(), faults.clone());
        App::new().configure(move |cfg| configure(cfg, psp.clone(), faults.clone()))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}

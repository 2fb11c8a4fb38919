//! A PSP reached over HTTP: the adapter for the sandbox PSP served on its own (`omni psp-sandbox`,
//! [`crate::sandbox_server`]), the shape a real PSP's adapter takes. Every call has a timeout; a call that gets no
//! answer (a timeout, a connection lost, a 503) is an unknown outcome, asked again later with the same
//! idempotency key. The card number leaves payments only in an authorization's body, towards the PSP.

use std::time::Duration;

use crate::domain::psp::{Authorization, AuthorizeRequest, Movement, Psp, PspError, PspFuture, PspRecord};
use crate::sandbox_server::wire::{AuthorizeBody, AuthorizeReply, ErrorReply, MovementBody, RecordReply};

/// How long one PSP call may take before its outcome counts as unknown.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A PSP at `base_url`.
#[derive(Debug, Clone)]
pub struct HttpPsp {
    base_url: String,
    http: reqwest::Client,
}

impl HttpPsp {
    /// The PSP at `base_url` (e.g. `http://127.0.0.1:8090`).
    pub fn new(base_url: &str) -> Result<Self, PspError> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| PspError::Unavailable(format!("cannot build the PSP client: {e}")))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    async fn movement(&self, kind: &str, movement: &Movement) -> Result<(), PspError> {
        let body = MovementBody {
            psp_reference: movement.psp_reference.clone(),
            amount: movement.amount,
            idempotency_key: movement.idempotency_key.clone(),
            final_capture: movement.final_capture,
        };
        let answer = self
            .http
            .post(format!("{}/{kind}", self.base_url))
            .json(&body)
            .send()
            .await
            .map_err(unanswered)?;
        let status = answer.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        let reason = answer
            .json::<ErrorReply>()
            .await
            .map(|e| e.reason)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        Err(match status {
            409 => PspError::Refused(reason),
            404 => PspError::UnknownReference(reason),
            _ => PspError::Unavailable(reason),
        })
    }
}

fn unanswered(e: reqwest::Error) -> PspError {
    // Never the request body: it may hold a card number.
    PspError::Unavailable(format!("no answer from the PSP: {}", e.without_url()))
}

impl Psp for HttpPsp {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn authorize<'a>(&'a self, request: AuthorizeRequest<'a>) -> PspFuture<'a, Authorization> {
        Box::pin(async move {
            let mut body = AuthorizeBody {
                number: request.card.pan.expose().to_owned(),
                exp_month: request.card.expiry.month(),
                exp_year: request.card.expiry.year(),
                amount: request.amount,
                idempotency_key: request.idempotency_key,
            };
            let answer = self
                .http
                .post(format!("{}/authorize", self.base_url))
                .json(&body)
                .send()
                .await;
            // Our copy of the number goes at once.
            secrecy::zeroize::Zeroize::zeroize(&mut body.number);
            let answer = answer.map_err(unanswered)?;
            if answer.status().as_u16() != 200 {
                return Err(PspError::Unavailable(format!(
                    "the PSP answered HTTP {}",
                    answer.status()
                )));
            }
            match answer.json::<AuthorizeReply>().await.map_err(unanswered)? {
                AuthorizeReply::Approved { psp_reference } => Ok(Authorization::Approved { psp_reference }),
                AuthorizeReply::Declined { reason } => Ok(Authorization::Declined { reason }),
            }
        })
    }

    fn capture<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()> {
        Box::pin(self.movement("capture", movement))
    }

    fn refund<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()> {
        Box::pin(self.movement("refund", movement))
    }

    fn void<'a>(&'a self, movement: &'a Movement) -> PspFuture<'a, ()> {
        Box::pin(self.movement("void", movement))
    }

    fn lookup<'a>(&'a self, psp_reference: &'a str) -> PspFuture<'a, Option<PspRecord>> {
        Box::pin(async move {
            let answer = self
                .http
                .get(format!("{}/authorizations/{psp_reference}", self.base_url))
                .send()
                .await
                .map_err(unanswered)?;
            match answer.status().as_u16() {
                404 => Ok(None),
                200 => {
                    let r: RecordReply = answer.json().await.map_err(unanswered)?;
                    Ok(Some(PspRecord {
                        authorized: r.authorized,
                        captured: r.captured,
                        refunded: r.refunded,
                        voided: r.voided,
                    }))
                }
                status => Err(PspError::Unavailable(format!("the PSP answered HTTP {status}"))),
            }
        })
    }
}

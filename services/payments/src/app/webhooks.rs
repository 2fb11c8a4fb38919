//! PSP webhooks (DESIGN §6): the PSP's asynchronous result of an operation payments asked for, recorded on the
//! tender's buckets like a reply. Taken only when signed with the webhook secret and recent
//! ([`crate::domain::webhook`]); deduplicated by the PSP's event id; a result seen before (the reply came first)
//! or ahead of its prerequisite is handled by the ledger. The batch the operation belongs to is announced by its
//! owner's next run, which finds the result recorded and does not ask the PSP again.

use crate::app::State;
use crate::db::{psp_boundary, tender_ledger};
use crate::domain::ledger::{Kind, Record};
use crate::domain::webhook::{SignatureError, WebhookEvent, verify};
use crate::error::{Error, Result};

/// Why a webhook is refused; nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRefusal {
    /// Not signed, badly signed, or not recent.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// No such PSP adapter here.
    #[error("psp: `{0}` is not the PSP payments uses")]
    UnknownPsp(String),
    /// The body is not a webhook.
    #[error("body: {0}")]
    Body(String),
    /// No operation has this id.
    #[error("operation_id: no operation `{0}` was asked of the PSP")]
    UnknownOperation(String),
    /// The operation was asked with another kind or amount.
    #[error("operation_id: `{0}` was asked with another kind or amount")]
    Mismatch(String),
}

/// What taking a webhook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Its result is recorded (or was, from the PSP's reply).
    Recorded,
    /// Its event id was taken before: nothing changed.
    Duplicate,
}

/// Takes a webhook from `psp` with its `signature` header and raw `body` (see the module docs).
pub async fn receive(
    state: &State,
    psp: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<std::result::Result<Received, WebhookRefusal>> {
    if psp != state.psp.name() {
        return Ok(Err(WebhookRefusal::UnknownPsp(psp.to_owned())));
    }
    if let Err(e) = verify(
        &state.webhook_secret,
        signature,
        body,
        chrono::Utc::now().timestamp(),
    ) {
        return Ok(Err(e.into()));
    }
    let event: WebhookEvent = match serde_json::from_slice(body) {
        Ok(event) => event,
        Err(e) => return Ok(Err(WebhookRefusal::Body(e.to_string()))),
    };
    let Some(succeeded) = event.succeeded() else {
        return Ok(Err(WebhookRefusal::Body(format!(
            "type: `{}` is not `operation.succeeded` or `operation.failed`",
            event.kind
        ))));
    };
    let Some(kind) = Kind::parse(&event.operation) else {
        return Ok(Err(WebhookRefusal::Body(format!(
            "kind: `{}` is not authorize, capture, refund or void",
            event.operation
        ))));
    };
    let psp = psp.to_owned();
    state
        .db
        .transaction(
            move |conn| -> Result<std::result::Result<Received, WebhookRefusal>> {
                let Some((key, operation)) = tender_ledger::operation(conn, &event.operation_id)? else {
                    return Ok(Err(WebhookRefusal::UnknownOperation(event.operation_id)));
                };
                if operation.kind != kind || operation.amount != event.amount_minor {
                    return Ok(Err(WebhookRefusal::Mismatch(event.operation_id)));
                }
                if !psp_boundary::take_webhook(conn, &event.id, &psp, &event.kind, &event.operation_id)? {
                    return Ok(Ok(Received::Duplicate));
                }
                let (id, amount) = (operation.id, operation.amount);
                let result = if succeeded {
                    Record::Succeeded { id, kind, amount }
                } else {
                    Record::Failed { id, kind, amount }
                };
                tender_ledger::record(conn, key, result)?.map_err(Error::Ledger)?;
                tracing::info!(
                    operation = %event.operation_id, psp = %psp, succeeded, event.id = %event.id,
                    "PSP webhook recorded."
                );
                Ok(Ok(Received::Recorded))
            },
        )
        .await
}

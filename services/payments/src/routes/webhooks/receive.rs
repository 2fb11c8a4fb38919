use actix_web::{HttpRequest, HttpResponse, web};
use omni_http::{ApiError, Code};

use crate::app::State;
use crate::app::webhooks::{self, Received, WebhookRefusal};
use crate::domain::webhook::SIGNATURE_HEADER;

/// A webhook is one operation's result: a few hundred bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Takes a PSP's webhook: the asynchronous result of an operation payments asked for, by its idempotency key. No
/// API key: the PSP signs the body (`Omni-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
/// `payments.webhook_secret`); a timestamp older than 5 minutes is refused (a replay). An event id taken before is
/// acknowledged (200) and changes nothing.
#[utoipa::path(
    post, path = "/v1/payments/webhooks/{psp}",
    params(("psp" = String, Path, description = "The PSP adapter, e.g. `sandbox`")),
    responses(
        (status = 200, description = "Recorded, or taken before (`duplicate`)"),
        (status = 400, description = "Not a webhook body", body = omni_http::errors::ErrorBody),
        (status = 401, description = "Not signed, badly signed, or too old", body = omni_http::errors::ErrorBody),
        (status = 404, description = "Another PSP, or no such operation", body = omni_http::errors::ErrorBody),
        (status = 409, description = "The operation was asked with another kind or amount", body = omni_http::errors::ErrorBody),
        (status = 413, description = "The body is too large", body = omni_http::errors::ErrorBody),
    )
)]
pub async fn receive_webhook(
    state: web::Data<State>,
    psp: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = payload
        .to_bytes_limited(MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                Code::PayloadTooLarge,
                format!("body exceeds the limit of {MAX_BODY_BYTES} bytes"),
            )
        })?
        .map_err(|_| ApiError::new(Code::InvalidBody, "the body could not be read"))?;
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let received = webhooks::receive(&state, &psp, signature, &body)
        .await?
        .map_err(|refused| {
            let code = match refused {
                WebhookRefusal::Signature(_) => Code::InvalidSignature,
                WebhookRefusal::Body(_) => Code::InvalidBody,
                WebhookRefusal::UnknownPsp(_) | WebhookRefusal::UnknownOperation(_) => Code::NotFound,
                WebhookRefusal::Mismatch(_) => Code::Conflict,
            };
            ApiError::new(code, refused.to_string())
        })?;
    let status = match received {
        Received::Recorded => "recorded",
        Received::Duplicate => "duplicate",
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": status })))
}

use actix_web::{HttpResponse, web};

use super::wire::{ErrorReply, MovementBody};
use crate::domain::psp::{Movement, Psp, PspError};
use crate::domain::sandbox_psp::SandboxPsp;

/// `POST /{capture|refund|void}` on an authorization.
pub async fn movement(
    psp: web::Data<SandboxPsp>,
    kind: web::Path<String>,
    body: web::Json<MovementBody>,
) -> HttpResponse {
    let body = body.into_inner();
    let movement = Movement {
        psp_reference: body.psp_reference,
        amount: body.amount,
        idempotency_key: body.idempotency_key,
        final_capture: body.final_capture,
    };
    let answer = match kind.as_str() {
        "capture" => psp.capture(&movement).await,
        "refund" => psp.refund(&movement).await,
        "void" => psp.void(&movement).await,
        other => {
            let reason = format!("no such call: {other}");
            return HttpResponse::NotFound().json(ErrorReply { reason });
        }
    };
    match answer {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({})),
        Err(PspError::Refused(reason)) => HttpResponse::Conflict().json(ErrorReply { reason }),
        Err(PspError::UnknownReference(reason)) => HttpResponse::NotFound().json(ErrorReply { reason }),
        Err(PspError::Unavailable(reason)) => HttpResponse::ServiceUnavailable().json(ErrorReply { reason }),
    }
}

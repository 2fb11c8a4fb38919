use actix_web::{HttpResponse, web};

use super::faults::Faults;
use super::wire::{ErrorReply, MovementBody};
use crate::domain::psp::{Movement, Psp, PspError};
use crate::domain::sandbox_psp::SandboxPsp;

/// `POST /{capture|refund|void}` on an authorization.
pub async fn movement(
    psp: web::Data<SandboxPsp>,
    faults: web::Data<Faults>,
    kind: web::Path<String>,
    body: web::Json<MovementBody>,
) -> HttpResponse {
    faults.answer_slowly().await;
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
    if matches!(answer, Ok(()) | Err(PspError::Refused(_))) {
        let succeeded = answer.is_ok();
        faults.report(
            &movement.idempotency_key,
            kind.as_str(),
            movement.amount.amount_minor,
            succeeded,
        );
        if faults.lose_reply() {
            let reason = "sandbox: the reply was lost".to_owned();
            return HttpResponse::ServiceUnavailable().json(ErrorReply { reason });
        }
    }
    match answer {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({})),
        Err(PspError::Refused(reason)) => HttpResponse::Conflict().json(ErrorReply { reason }),
        Err(PspError::UnknownReference(reason)) => HttpResponse::NotFound().json(ErrorReply { reason }),
        Err(PspError::Unavailable(reason)) => HttpResponse::ServiceUnavailable().json(ErrorReply { reason }),
    }
}

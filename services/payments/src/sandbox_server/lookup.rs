use actix_web::{HttpResponse, web};

use super::wire::{ErrorReply, RecordReply};
use crate::domain::sandbox_psp::SandboxPsp;

/// `GET /authorizations/{psp_reference}`: the sandbox's book of one authorization.
pub async fn lookup(psp: web::Data<SandboxPsp>, reference: web::Path<String>) -> HttpResponse {
    match psp.authorization(&reference) {
        Some(a) => HttpResponse::Ok().json(RecordReply {
            authorized: a.authorized,
            captured: a.captured,
            refunded: a.refunded,
            voided: a.voided,
        }),
        None => HttpResponse::NotFound().json(ErrorReply {
            reason: format!("unknown authorization {}", reference.as_str()),
        }),
    }
}

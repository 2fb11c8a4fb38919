use actix_web::{HttpResponse, web};
use omni_contracts::api::TokenizeCard;

use super::faults::Faults;
use super::wire::{AuthorizeBody, AuthorizeReply, ErrorReply};
use crate::domain::card::Card;
use crate::domain::psp::{Authorization, AuthorizeRequest, PspError};
use crate::domain::sandbox_psp::SandboxPsp;

/// `POST /authorize`: the sandbox decides by test card number (never logged).
pub async fn authorize(
    psp: web::Data<SandboxPsp>,
    faults: web::Data<Faults>,
    body: web::Json<AuthorizeBody>,
) -> HttpResponse {
    faults.answer_slowly().await;
    let body = body.into_inner();
    let request = TokenizeCard {
        number: body.number,
        exp_month: body.exp_month,
        exp_year: body.exp_year,
        cvc: None,
        customer_id: None,
    };
    let card = match Card::from_request(&request, chrono::Utc::now().date_naive()) {
        Ok(card) => card,
        Err(e) => {
            let reason = format!("invalid_card: {e}");
            return HttpResponse::Ok().json(AuthorizeReply::Declined { reason });
        }
    };
    let asked = AuthorizeRequest {
        card: &card,
        amount: body.amount,
        idempotency_key: body.idempotency_key,
    };
    let decided = psp.decide(&asked);
    if decided.is_ok() && faults.lose_reply() {
        // Done and kept under the key, but the caller never hears.
        let reason = "sandbox: the reply was lost".to_owned();
        return HttpResponse::ServiceUnavailable().json(ErrorReply { reason });
    }
    match decided {
        Ok(Authorization::Approved { psp_reference }) => {
            HttpResponse::Ok().json(AuthorizeReply::Approved { psp_reference })
        }
        Ok(Authorization::Declined { reason }) => {
            HttpResponse::Ok().json(AuthorizeReply::Declined { reason })
        }
        Err(
            PspError::Unavailable(reason) | PspError::Refused(reason) | PspError::UnknownReference(reason),
        ) => HttpResponse::ServiceUnavailable().json(ErrorReply { reason }),
    }
}

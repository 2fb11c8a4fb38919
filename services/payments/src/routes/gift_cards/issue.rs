use actix_web::{HttpResponse, web};
use omni_contracts::Money;
use omni_contracts::api::{IssueStoredValue, StoredValueView};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::app::refunds::valid_id;
use crate::app::stored_value::{self, Issue};
use crate::domain::stored_value::StoredValueKind;

/// The most one card may be issued for, in minor units.
pub const MAX_ISSUE_MINOR: i64 = 100_000_000;

/// Issues a gift card or store credit with a random code, shown in this answer only (payments keeps its digest).
/// Idempotent by `issue_id`: issued before, the same card is answered (200) without its code. Managers and
/// services (returns issue store credit); audited.
#[utoipa::path(
    post, path = "/v1/payments/gift-cards", request_body = IssueStoredValue,
    responses(
        (status = 201, description = "Issued; the code is shown this once", body = StoredValueView),
        (status = 200, description = "Issued before under this id (no code)", body = StoredValueView),
        (status = 400, description = "Not an issue request: bad id, kind or amount", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not a manager or service", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn issue_stored_value(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<IssueStoredValue>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if !valid_id(&body.issue_id) {
        return Err(ApiError::new(
            Code::InvalidBody,
            "issue_id: must be 1 to 64 of `A-Z a-z 0-9 . _ -`",
        ));
    }
    let kind = StoredValueKind::parse(&body.kind)
        .ok_or_else(|| ApiError::new(Code::InvalidBody, "kind: must be `gift_card` or `store_credit`"))?;
    if !(1..=MAX_ISSUE_MINOR).contains(&body.amount_minor) {
        return Err(ApiError::new(
            Code::InvalidBody,
            format!("amount_minor: must be 1 to {MAX_ISSUE_MINOR}"),
        ));
    }
    let issue = Issue {
        issue_id: body.issue_id,
        kind,
        amount: Money {
            amount_minor: body.amount_minor,
            currency: body.currency,
        },
        customer_id: body.customer_id.map(|c| c.to_string()),
        issued_by: principal.name.clone(),
    };
    let issued = stored_value::issue(&state, issue).await?;
    let fresh = issued.code.is_some();
    let view = StoredValueView {
        reference: issued.card.reference.clone(),
        kind: issued.card.kind.as_str().to_owned(),
        code: issued.code,
        last4: issued.card.last4.clone(),
        currency: issued.card.currency,
        balance_minor: issued.card.balance,
        available_minor: issued.card.available(),
    };
    Ok(if fresh {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

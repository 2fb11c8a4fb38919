use actix_web::{HttpResponse, web};
use omni_contracts::returns::{NewReturn, Return};
use omni_http::{ApiError, Principal};

use super::{may_act, store_of};
use crate::app::State;
use crate::app::returns::{self, Opened};

/// Opens a return (RMA) for an order's delivered lines: checked against the policy the order was placed under and
/// what it can still return. With `units` and an in-store method, the whole return at the counter: received,
/// graded, restocked at the store at once, and refunded to the original tenders. Asked again with the same
/// `request_id`: the same return (200).
#[utoipa::path(
    post, path = "/v1/returns", request_body = NewReturn,
    responses(
        (status = 201, description = "Opened (and, at the counter, received)", body = Return),
        (status = 200, description = "The return this request id opened before", body = Return),
        (status = 400, description = "A field is wrong (named)", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not at one of the caller's stores", body = omni_http::errors::ErrorBody),
        (status = 404, description = "Unknown order, or not the caller's", body = omni_http::errors::ErrorBody),
        (status = 409, description = "The request id was used for another order", body = omni_http::errors::ErrorBody),
        (status = 422, description = "`return_declined`: the rule that refuses it is named", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_return(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<NewReturn>,
) -> Result<HttpResponse, ApiError> {
    let asked = body.into_inner();
    may_act(&state, &principal, asked.order_id, store_of(&asked.method)).await?;
    let by = returns::Asker {
        name: principal.name.clone(),
        manager: super::is_manager(&principal),
        payer: principal.payer(),
    };
    let opened = returns::open(&state, asked, by, chrono::Utc::now()).await?;
    Ok(match opened {
        Opened::Created(r) => {
            tracing::info!(r#return.id = %r.id, order.id = %r.order_id, status = r.status.as_str(),
                by = %principal.name, "Return opened.");
            HttpResponse::Created().json(r)
        }
        Opened::Again(r) => HttpResponse::Ok().json(r),
    })
}

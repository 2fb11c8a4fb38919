use actix_web::{HttpRequest, HttpResponse, web};
use omni_contracts::returns::{CustomerReturn, Return};
use omni_http::ApiError;

use crate::app::State;
use crate::app::customer::open_with_code;
use crate::app::returns::Opened;

/// A customer's own return by mail: no API key, the order's return code (sent to the customer once something of it
/// was delivered) is the proof. Checked like any return (policy snapshot, what the order can still return); the
/// items are graded when they come to a store or the returns desk. Wrong codes are counted per order and per client
/// address; past `returns.code_attempts_per_order` or `..._per_client` within `code_lockout_seconds` every try is
/// refused (429). Audited as `customer@<address>`; the code is never logged.
#[utoipa::path(
    post, path = "/v1/returns/by-code", request_body = CustomerReturn,
    responses(
        (status = 201, description = "Opened: awaiting the items", body = Return),
        (status = 200, description = "The same request id again: the return it made", body = Return),
        (status = 400, description = "A malformed body (the field is named)", body = omni_http::errors::ErrorBody),
        (status = 403, description = "The return code does not match the order's", body = omni_http::errors::ErrorBody),
        (status = 422, description = "`return_declined`: the rule that refuses it is named", body = omni_http::errors::ErrorBody),
        (status = 429, description = "Too many wrong return codes for this order or from this address lately", body = omni_http::errors::ErrorBody),
    )
)]
pub async fn return_by_code(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<CustomerReturn>,
) -> Result<HttpResponse, ApiError> {
    let client = omni_http::client::address_or_unknown(&req, &state.trusted_proxies);
    let opened = open_with_code(&state, body.into_inner(), client, chrono::Utc::now()).await?;
    Ok(match opened {
        Opened::Created(r) => {
            tracing::info!(r#return.id = %r.id, order.id = %r.order_id, "Customer return opened with its code.");
            HttpResponse::Created().json(r)
        }
        Opened::Again(r) => HttpResponse::Ok().json(r),
    })
}

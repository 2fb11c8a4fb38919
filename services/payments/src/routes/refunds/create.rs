use actix_web::{HttpResponse, web};
use omni_contracts::Money;
use omni_contracts::api::{NewRefund, RefundReceipt};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::app::refunds::{self, RefundAsk, RefundError};

/// Gives money back on an order: split across its tenders last charged first, each capped at what it can give
/// back (a void where nothing was captured yet), adding up to exactly the amount or refused whole. Idempotent by
/// `refund_id`: the same id again answers 200 with the same receipt. Managers and services; audited.
#[utoipa::path(
    post, path = "/v1/payments/refunds", request_body = NewRefund,
    responses(
        (status = 201, description = "Refunded", body = RefundReceipt),
        (status = 200, description = "Refunded before under this id: the same receipt", body = RefundReceipt),
        (status = 400, description = "The body is not a refund, or `refund_id` is not usable", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not a manager or service, or kept to some stores", body = omni_http::errors::ErrorBody),
        (status = 409, description = "`refund_id` was used for another refund", body = omni_http::errors::ErrorBody),
        (status = 422, description = "More than can be given back, another currency, or no payment on the order; nothing moved", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_refund(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<NewRefund>,
) -> Result<HttpResponse, ApiError> {
    if principal.is_scoped() {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "{} is kept to some stores; refunds are given by unscoped managers and by services (a store's \
                 returns go through the returns service)",
                principal.name
            ),
        ));
    }
    let body = body.into_inner();
    let order_id = body.order_id;
    let currency = match body.currency {
        Some(currency) => currency,
        None => {
            let intent = state
                .db
                .run(move |conn| crate::db::intents::of_order(conn, order_id))
                .await?;
            intent.map(|i| i.amount.currency).ok_or_else(|| {
                ApiError::new(Code::InvalidRefund, RefundError::NoPayment(order_id).to_string())
            })?
        }
    };
    let ask = RefundAsk {
        refund_id: body.refund_id,
        order_id,
        amount: Money {
            amount_minor: body.amount_minor,
            currency,
        },
        reason: body.reason,
        requested_by: principal.name.clone(),
    };
    let refunded = refunds::refund(&state, ask).await?.map_err(|refused| {
        let code = match refused {
            RefundError::BadId | RefundError::ReasonTooLong => Code::InvalidBody,
            RefundError::Reused(_) => Code::Conflict,
            // Payments cannot tell an order without payment from one it never heard of: either way nothing can
            // be given back.
            RefundError::NoPayment(_) | RefundError::Currency { .. } | RefundError::Amount(_) => {
                Code::InvalidRefund
            }
        };
        ApiError::new(code, refused.to_string())
    })?;
    let receipt = RefundReceipt {
        refund_id: refunded.refund.refund_id,
        order_id: refunded.refund.order_id,
        amount: refunded.refund.amount,
        tenders: refunded.refund.tenders,
    };
    Ok(if refunded.replay {
        HttpResponse::Ok().json(receipt)
    } else {
        HttpResponse::Created().json(receipt)
    })
}

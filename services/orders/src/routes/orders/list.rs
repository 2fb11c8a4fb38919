use actix_web::{HttpResponse, web};
use omni_contracts::api::{Order, OrderStatus};
use omni_contracts::{OrderId, PartnerId};
use omni_http::{ApiError, Code, Principal};
use serde::{Deserialize, Serialize};

use crate::app::State;
use crate::db::orders;

/// Most orders one page holds.
pub const MAX_PAGE: u32 = 100;

/// Query of `GET /v1/orders`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this partner's orders (a partner key always sees only its own).
    pub partner: Option<String>,
    /// Only orders in this state.
    pub status: Option<OrderStatus>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// One page of orders, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    /// The orders.
    pub orders: Vec<Order>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Orders, oldest first, filtered by partner and status, in bounded pages. A partner key sees only its own
/// orders (naming another partner is refused), an associate only the orders at their stores.
#[utoipa::path(
    get, path = "/v1/orders", params(ListQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 400, description = "Invalid query", body = omni_http::errors::ErrorBody),
        (status = 403, description = "A partner asked for another partner's orders", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn list_orders(
    state: web::Data<State>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let invalid = |m: String| ApiError::new(Code::InvalidQuery, m);
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid(format!("limit: 1 to {MAX_PAGE}, got {limit}")));
    }
    let after = query
        .after
        .as_deref()
        .map(OrderId::parse)
        .transpose()
        .map_err(|e| invalid(format!("after: {e}")))?;
    let mut partner = query
        .partner
        .as_deref()
        .map(PartnerId::parse)
        .transpose()
        .map_err(|e| invalid(format!("partner: {e}")))?;
    if let Some(own) = principal.partner_id.clone() {
        if partner.as_ref().is_some_and(|p| *p != own) {
            return Err(ApiError::new(
                Code::Forbidden,
                format!("partner: {} may list only its own orders", principal.name),
            ));
        }
        partner = Some(own);
    }
    let status = query.status;
    // A store-scoped principal sees the orders at its stores only.
    let stores = (!principal.locations.is_empty()).then(|| principal.locations.clone());
    let rows = state
        .db
        .run(move |conn| {
            let filter = orders::PageFilter {
                partner: partner.as_ref(),
                stores: stores.as_deref(),
                status,
            };
            orders::page(conn, &filter, after, i64::from(limit) + 1)
        })
        .await?;
    let mut orders: Vec<Order> = rows.iter().map(|r| r.to_order()).collect::<Result<_, _>>()?;
    let next = if orders.len() > limit as usize {
        orders.truncate(limit as usize);
        orders.last().map(|o| o.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(OrderPage { orders, next }))
}

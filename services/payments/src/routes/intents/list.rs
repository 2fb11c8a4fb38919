use actix_web::{HttpResponse, web};
use omni_contracts::OrderId;
use omni_http::{ApiError, Principal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::State;
use crate::db::intents;
use crate::db::tender_ledger::{self, TenderKey};
use crate::domain::intent::PaymentIntent;
use crate::domain::ledger::TenderMoney;

/// `GET /v1/payments/intents` query.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntentQuery {
    /// The order whose intents to list.
    #[param(value_type = uuid::Uuid)]
    pub order_id: OrderId,
}

/// A listed intent with each tender's money: what an operator reads to see where an order's money stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListedIntent {
    /// The intent.
    #[serde(flatten)]
    pub intent: PaymentIntent,
    /// Each tender's buckets (authorized, captured, refunded, voided; each settled and pending), by position.
    pub money: Vec<TenderMoney>,
}

/// Lists an order's payment intents with each tender's money (no card data). Admins, managers and services.
#[utoipa::path(
    get, path = "/v1/payments/intents", params(IntentQuery),
    responses(
        (status = 200, description = "The order's intents, oldest first", body = [ListedIntent]),
        (status = 400, description = "`order_id` missing or not a UUID", body = omni_http::errors::ErrorBody),
        (status = 403, description = "Not an admin, manager or service", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn list_intents(
    state: web::Data<State>,
    principal: Principal,
    query: web::Query<IntentQuery>,
) -> Result<HttpResponse, ApiError> {
    if principal.is_scoped() {
        return Err(omni_http::ApiError::new(
            omni_http::Code::Forbidden,
            format!(
                "{} is kept to some stores; payment intents are listed to unscoped staff",
                principal.name
            ),
        ));
    }
    let order_id = query.order_id;
    let found = state
        .db
        .run(move |conn| -> crate::Result<Vec<ListedIntent>> {
            intents::for_order(conn, order_id)?
                .into_iter()
                .map(|intent| {
                    let money = (0..intent.tenders.len())
                        .map(|tender| {
                            let tender = u32::try_from(tender).unwrap_or(u32::MAX);
                            tender_ledger::money(
                                conn,
                                TenderKey {
                                    intent: intent.id,
                                    tender,
                                },
                            )
                        })
                        .collect::<crate::Result<Vec<_>>>()?;
                    Ok(ListedIntent { intent, money })
                })
                .collect()
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

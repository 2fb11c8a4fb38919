use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use omni_contracts::OrderId;
use omni_contracts::routing::RoutingRule;
use omni_http::errors::Code;
use omni_http::{ApiError, Principal};
use serde::{Deserialize, Serialize};

use crate::app::State;
use crate::db::routed_orders::Which;
use crate::domain::routing::what_if::{Compared, Totals};

/// Most orders one what-if replays.
pub const MAX_ORDERS: u32 = 1_000;
/// Orders replayed when the body names neither `orders` nor `last`.
pub const DEFAULT_LAST: u32 = 100;
/// Most rules in a draft.
pub const MAX_RULES: usize = 1_000;

/// `POST /v1/routing/what-if` body: a draft rule set, and which orders to replay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfBody {
    /// The draft: the whole rule set as it would be (a rule left out no longer applies).
    pub rules: Vec<RoutingRule>,
    /// These orders (1 to 1,000 ids); or
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub orders: Option<Vec<String>>,
    /// the last n routed (1 to 1,000; 100 when neither is given).
    #[serde(default)]
    pub last: Option<u32>,
}

/// What the draft changes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WhatIfAnswer {
    /// Per order, earliest promise first: its nodes and cost under the rules in force (`before`) and under the
    /// draft (`after`).
    pub orders: Vec<Compared>,
    /// Cost, splits and orders that could not be served, on each side.
    pub totals: Totals,
    /// Orders asked for that routing has no record of.
    #[schema(value_type = Vec<String>)]
    pub unknown_orders: Vec<OrderId>,
}

/// Replays routed orders against a draft rule set and the rules in force, from the same network (today's stock
/// and pick capacity, each order taking what its plan uses, earliest promise first): per order the node(s) and
/// cost before and after, and the totals. Nothing is changed.
#[utoipa::path(
    post, path = "/v1/routing/what-if",
    request_body = WhatIfBody,
    responses(
        (status = 200, description = "Both sides, per order and in total", body = WhatIfAnswer),
        (status = 400, description = "A draft rule or the orders asked for are invalid", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn routing_what_if(
    state: web::Data<State>,
    _principal: Principal,
    body: web::Json<WhatIfBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let which = checked(&body)?;
    let (current, model) = (state.rules.current(), state.cost_model);
    let draft = body.rules;
    let answer = state
        .db
        .run(move |conn| crate::app::what_if::what_if(conn, &which, &current, &draft, &model))
        .await?;
    Ok(HttpResponse::Ok().json(WhatIfAnswer {
        orders: answer.comparison.orders,
        totals: answer.comparison.totals,
        unknown_orders: answer.unknown,
    }))
}

/// The draft's rules checked as a routing file's are, and which orders to replay.
fn checked(body: &WhatIfBody) -> Result<Which, ApiError> {
    let invalid = |message: String| ApiError::new(Code::InvalidBody, message);
    if body.rules.len() > MAX_RULES {
        return Err(invalid(format!(
            "rules: at most {MAX_RULES}, got {}",
            body.rules.len()
        )));
    }
    let mut ids = BTreeSet::new();
    for (i, rule) in body.rules.iter().enumerate() {
        rule.check()
            .map_err(|e| invalid(format!("rules[{i}] (`{}`): {e}", rule.id)))?;
        if !ids.insert(rule.id.as_str()) {
            return Err(invalid(format!("rules[{i}]: `{}` is given twice", rule.id)));
        }
    }
    let limit = 1..=MAX_ORDERS;
    match (&body.orders, body.last) {
        (Some(_), Some(_)) => Err(invalid("give `orders` or `last`, not both".into())),
        (Some(orders), None) => {
            if !limit.contains(&u32::try_from(orders.len()).unwrap_or(u32::MAX)) {
                return Err(invalid(format!(
                    "orders: 1 to {MAX_ORDERS} ids, got {}",
                    orders.len()
                )));
            }
            let ids = orders
                .iter()
                .enumerate()
                .map(|(i, raw)| OrderId::parse(raw).map_err(|e| invalid(format!("orders[{i}]: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Which::Orders(ids))
        }
        (None, Some(last)) if !limit.contains(&last) => {
            Err(invalid(format!("last: 1 to {MAX_ORDERS}, got {last}")))
        }
        (None, last) => Ok(Which::Last(last.unwrap_or(DEFAULT_LAST))),
    }
}

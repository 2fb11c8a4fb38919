use actix_web::{HttpRequest, HttpResponse, web};
use omni_config::Role;
use omni_contracts::OrderId;
use omni_contracts::api::{NewOrder, Order};
use omni_http::{ApiError, Code, Principal};
use sha2::{Digest, Sha256};

use crate::State;
use crate::db::{idempotency, orders};
use crate::events::accept::{AcceptError, PartnerRef, accept};

/// Places an order. `Idempotency-Key` is required: the same key with the same body answers the same order;
/// with another body, 422. Partner keys place marketplace orders for their own partner only.
#[utoipa::path(
    post, path = "/v1/orders", request_body = NewOrder,
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters, unique per order attempt")),
    responses(
        (status = 201, description = "Accepted (or the first answer to this key)", body = Order),
        (status = 400, description = "Invalid body or missing key", body = omni_http::errors::ErrorBody),
        (status = 422, description = "Key reused with another body", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_order(
    state: web::Data<State>,
    principal: Principal,
    req: HttpRequest,
    body: web::Json<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Partner, Role::Associate, Role::Manager, Role::Service])?;
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidHeader,
                "the `Idempotency-Key` header (1 to 255 characters) is required",
            )
        })?
        .to_owned();
    let request = body.into_inner();
    let hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&request).map_err(ApiError::internal)?,
    ));
    let partner = principal
        .partner_id
        .clone()
        .filter(|_| principal.has(Role::Partner) && !principal.has(Role::Admin));
    if let Some(partner_id) = &partner {
        match state.settings.partner(partner_id.as_str()) {
            Some(p) if p.enabled => {}
            Some(_) => {
                return Err(ApiError::new(
                    Code::Forbidden,
                    format!("partner `{partner_id}` is disabled; its orders are not taken"),
                ));
            }
            None => {
                return Err(ApiError::new(
                    Code::Forbidden,
                    format!("partner `{partner_id}` is not registered (orders.partners)"),
                ));
            }
        }
    }
    let who = principal.name.clone();
    let may_override = principal.has(Role::Manager);
    let order = state
        .db
        .transaction(move |conn| -> Result<(Order, bool), ApiError> {
            if let Some((stored_hash, order_id)) = idempotency::find(conn, &who, &key)? {
                if stored_hash != hash {
                    return Err(ApiError::new(
                        Code::IdempotencyKeyReused,
                        "this Idempotency-Key was used with another body; use a new key for a new order",
                    ));
                }
                let id = OrderId::parse(&order_id)?;
                let row =
                    orders::find(conn, id)?.ok_or_else(|| ApiError::not_found(format!("order {id}")))?;
                return Ok((row.to_order()?, false));
            }
            if request.channel == omni_contracts::api::Channel::Pos {
                let skus: Vec<&omni_contracts::Sku> = request.lines.iter().map(|l| &l.sku).collect();
                let prices = crate::db::catalog::prices(conn, &skus)?;
                crate::domain::intake::check_till_prices(&request, &prices, may_override)
                    .map_err(|reason| ApiError::new(Code::Forbidden, reason))?;
            }
            // A partner's HTTP order is deduplicated like its Kafka orders: by the idempotency key as its id.
            let partner = partner.map(|partner_id| PartnerRef {
                partner_id,
                partner_order_id: key.clone(),
            });
            let (order, _) = accept(conn, request, partner).map_err(|e| match e {
                AcceptError::Invalid(reason) => ApiError::new(Code::InvalidBody, reason),
                AcceptError::Db(e) => e.into(),
            })?;
            idempotency::insert(conn, &who, &key, &hash, &order.id.to_string())?;
            Ok((order, true))
        })
        .await?;
    let (order, created) = order;
    state.orders_arrived();
    if created {
        state.count(Some((
            order.request.channel.as_str().to_owned(),
            "accepted".to_owned(),
        )));
    }
    Ok(HttpResponse::Created().json(order))
}

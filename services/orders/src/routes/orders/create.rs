use actix_web::{HttpRequest, HttpResponse, web};
use omni_config::Role;
use omni_contracts::OrderId;
use omni_contracts::api::{NewOrder, Order};
use omni_http::{ApiError, Code, Principal};
use sha2::{Digest, Sha256};

use crate::app::State;
use crate::app::accept::{PartnerRef, accept};
use crate::db::{idempotency, orders};
use crate::domain::intake::PartnerStanding;
use crate::error::AcceptError;

/// Places an order. `Idempotency-Key` is required: the same key with the same body answers the same order;
/// with another body, 422. Partner keys place marketplace orders for their own partner only, within its
/// registration (tiers, lines: 403; a promise sooner than allowed is moved to the earliest allowed). An associate's
/// lines must carry the list price whatever the channel (403), and a SKU orders has not learned yet is refused
/// (409, retry); managers may override prices.
#[utoipa::path(
    post, path = "/v1/orders", request_body = NewOrder,
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters, unique per order attempt")),
    responses(
        (status = 201, description = "Accepted (or the first answer to this key)", body = Order),
        (status = 400, description = "Invalid body or missing key", body = omni_http::errors::ErrorBody),
        (status = 403, description = "An associate's price is not the list price, or a partner's order breaks its registration", body = omni_http::errors::ErrorBody),
        (status = 409, description = "A SKU's price is not known yet (retry)", body = omni_http::errors::ErrorBody),
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
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        // Keys are stored: one that looks like a card number is refused like a missing one.
        .filter(|k| !omni_contracts::card_data::holds_card_number(k.as_bytes()))
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidHeader,
                "the `Idempotency-Key` header (1 to 255 characters, nothing like a card number) is required",
            )
        })?
        .to_owned();
    let request = body.into_inner();
    let hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&request).map_err(ApiError::internal)?,
    ));
    // A partner key acts only as its partner (a disabled partner's keys never get here: 403 at the door).
    let partner = principal.partner_id.clone();
    let who = principal.name.clone();
    // Whose card tokens may pay the order: payments checks each card against it.
    let payer = principal.payer();
    // A partner's order is held to its registration, as on Kafka: tiers and lines it may name, its earliest promise.
    let bounds = match partner
        .as_ref()
        .map(|p| PartnerStanding::of(state.settings.partner(p.as_str())))
    {
        Some(PartnerStanding::Enabled(bounds)) => Some(bounds),
        Some(PartnerStanding::Unknown | PartnerStanding::Disabled) => {
            return Err(ApiError::new(
                Code::Forbidden,
                "this key's partner takes no orders",
            ));
        }
        None => None,
    };
    let mut request = request;
    // An associate sells at list prices whatever channel the order names; managers (and admins) may override.
    let checks_prices = principal.has(Role::Associate) && !principal.has(Role::Manager);
    // A manager's (or an admin's) price that is not the list price is an override, audited.
    let overrides_prices = principal.has(Role::Manager) && partner.is_none();
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
            let mut overrides = Vec::new();
            if checks_prices || overrides_prices {
                use crate::domain::intake::{PriceRefusal, check_associate_prices, price_overrides};
                let skus: Vec<&omni_contracts::Sku> = request.lines.iter().map(|l| &l.sku).collect();
                let prices = crate::db::catalog::prices(conn, &skus)?;
                if checks_prices {
                    check_associate_prices(&request, &prices).map_err(|refusal| match refusal {
                        PriceRefusal::NotTheListPrice(reason) => ApiError::new(Code::Forbidden, reason),
                        PriceRefusal::NotKnownYet(reason) => ApiError::new(Code::Conflict, reason),
                    })?;
                } else {
                    overrides = price_overrides(&request, &prices);
                }
            }
            if let Some(bounds) = &bounds {
                bounds
                    .apply(&mut request, chrono::Utc::now())
                    .map_err(|reason| ApiError::new(Code::Forbidden, reason.0))?;
            }
            // A partner's HTTP order is deduplicated like its Kafka orders: by the idempotency key as its id.
            let partner = partner.map(|partner_id| PartnerRef {
                partner_id,
                partner_order_id: key.clone(),
            });
            let (order, _) = accept(conn, request, partner, payer).map_err(|e| match e {
                AcceptError::Invalid(reason) => ApiError::new(Code::InvalidBody, reason.0),
                AcceptError::Db(e) => e.into(),
            })?;
            idempotency::insert(conn, &who, &key, &hash, &order.id.to_string())?;
            if !overrides.is_empty() {
                let detail = serde_json::json!({ "lines": overrides });
                omni_db::audit::record(
                    conn,
                    &who,
                    "order.price_overridden",
                    &order.id.to_string(),
                    &detail,
                )?;
            }
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

use actix_web::{HttpResponse, web};
use omni_contracts::Sku;
use omni_contracts::api::{Availability, Channel};
use omni_http::{ApiError, Principal};
use serde::Deserialize;

use crate::State;
use crate::db::{catalog, ledger};

/// Query of `GET /v1/availability/{sku}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    /// The selling channel (default `web`).
    #[serde(default = "web")]
    pub channel: Channel,
}

fn web() -> Channel {
    Channel::Web
}

/// What a channel may sell of a SKU, in total and per location.
#[utoipa::path(
    get, path = "/v1/availability/{sku}", params(("sku" = String, Path, description = "The SKU"), AvailabilityQuery),
    responses(
        (status = 200, description = "Availability", body = Availability),
        (status = 404, description = "Unknown SKU", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get_availability(
    state: web::Data<State>,
    _principal: Principal,
    sku: web::Path<String>,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(ApiError::from)?;
    let lookup = sku.clone();
    let locations = state
        .db
        .run(move |conn| -> Result<Option<_>, ApiError> {
            if !catalog::sku_known(conn, &lookup)? {
                return Ok(None);
            }
            Ok(Some(ledger::availability(conn, &lookup)?))
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("SKU `{sku}`")))?;
    let available = locations.iter().map(|l| l.atp).sum();
    Ok(HttpResponse::Ok().json(Availability {
        sku,
        channel: query.channel,
        available,
        locations,
        rules: vec![],
    }))
}

use actix_web::{HttpResponse, web};
use omni_contracts::Sku;
use omni_contracts::api::Channel;
use omni_http::{ApiError, Principal};
use serde::Serialize;

use crate::app::State;
use crate::db::network;

/// What routing currently believes a node holds of a SKU.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeStock {
    /// The node.
    pub location_id: String,
    /// Available to promise there, as last published by allocation.
    pub atp: i64,
}

/// Query of `GET /v1/stock/{sku}`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StockQuery {
    /// What this channel may sell after buffer rules, instead of the ATP.
    pub channel: Option<Channel>,
}

/// The stock picture routing decides from (fed by `omni.availability.v1`).
#[utoipa::path(
    get, path = "/v1/stock/{sku}", params(("sku" = String, Path, description = "The SKU"), StockQuery),
    responses((status = 200, description = "ATP per node", body = [NodeStock])),
    security(("api_key" = []))
)]
pub async fn get_stock(
    state: web::Data<State>,
    _principal: Principal,
    sku: web::Path<String>,
    query: web::Query<StockQuery>,
) -> Result<HttpResponse, ApiError> {
    let sku = Sku::parse(&sku).map_err(ApiError::from)?;
    let skus = vec![sku.to_string()];
    let stock = state
        .db
        .run(move |conn| network::stock_for(conn, &skus, query.channel, None))
        .await?;
    let mut rows: Vec<NodeStock> = stock
        .entries()
        .map(|(location_id, _, atp)| NodeStock {
            location_id: location_id.to_owned(),
            atp,
        })
        .collect();
    rows.sort_by(|a, b| a.location_id.cmp(&b.location_id));
    Ok(HttpResponse::Ok().json(rows))
}

use actix_web::{HttpResponse, web};
use omni_contracts::Sku;
use omni_contracts::api::{Availability, Channel, CustomerTier, GeoPoint, Latitude, Longitude};
use omni_contracts::policies::Segment;
use omni_http::{ApiError, Code, Principal};
use serde::Deserialize;

use crate::app::State;
use crate::app::availability::SkuPicture;
use crate::db::catalog;
use crate::domain::policy::Caller;

/// Largest search radius.
const MAX_RADIUS_KM: f64 = 20_000.0;

/// Query of `GET /v1/availability/{sku}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    /// The selling channel (default `web`).
    #[serde(default = "web")]
    pub channel: Channel,
    /// The customer's tier (default `standard`); a VIP sees units ring-fenced for VIPs.
    #[serde(default)]
    pub tier: CustomerTier,
    /// A segment (`preorder`, `curbside`, `vip`) whose ring-fenced units the caller may take.
    pub segment: Option<Segment>,
    /// With `lon` and `radius_km`: only locations within the radius of this point.
    pub lat: Option<f64>,
    /// Longitude of the point.
    pub lon: Option<f64>,
    /// Radius in kilometres (0 to 20,000).
    pub radius_km: Option<f64>,
}

fn web() -> Channel {
    Channel::Web
}

impl AvailabilityQuery {
    /// The search circle, if one was asked for; all three of `lat`, `lon`, `radius_km` or none.
    fn circle(&self) -> Result<Option<(GeoPoint, f64)>, ApiError> {
        let invalid = |m: String| ApiError::new(Code::InvalidQuery, m);
        match (self.lat, self.lon, self.radius_km) {
            (None, None, None) => Ok(None),
            (Some(lat), Some(lon), Some(radius)) => {
                let point = GeoPoint {
                    lat: Latitude::new(lat).map_err(|e| invalid(e.to_string()))?,
                    lon: Longitude::new(lon).map_err(|e| invalid(e.to_string()))?,
                };
                if !(radius.is_finite() && (0.0..=MAX_RADIUS_KM).contains(&radius)) {
                    return Err(invalid(format!(
                        "radius_km: must be between 0 and {MAX_RADIUS_KM}, got {radius}"
                    )));
                }
                Ok(Some((point, radius)))
            }
            _ => Err(invalid("lat, lon and radius_km: give all three or none".into())),
        }
    }
}

/// What a channel (and a customer tier or segment) may sell of a SKU, in total and per location (optionally only
/// near a point), after buffer and segment rules; `rules` says which withheld units.
#[utoipa::path(
    get, path = "/v1/availability/{sku}", params(("sku" = String, Path, description = "The SKU"), AvailabilityQuery),
    responses(
        (status = 200, description = "Availability", body = Availability),
        (status = 400, description = "Invalid query", body = omni_http::errors::ErrorBody),
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
    let circle = query.circle()?;
    let lookup = sku.clone();
    let policies = state.policies.current();
    let caller = Caller {
        channel: query.channel,
        tier: query.tier,
        segment: query.segment,
    };
    let found = state
        .db
        .run(move |conn| -> Result<Option<_>, ApiError> {
            if !catalog::sku_known(conn, &lookup)? {
                return Ok(None);
            }
            let now = chrono::Utc::now();
            let picture = SkuPicture::read(conn, &policies, &lookup, now)?;
            Ok(Some((
                picture.offers(&policies, &caller, now),
                catalog::location_points(conn)?,
            )))
        })
        .await?;
    let (mut locations, points) = found.ok_or_else(|| ApiError::not_found(format!("SKU `{sku}`")))?;
    if let Some((center, radius)) = circle {
        locations.retain(|l| {
            points
                .iter()
                .find(|(id, _, _)| *id == l.location_id)
                .is_some_and(
                    |(_, lat, lon)| match (Latitude::new(*lat), Longitude::new(*lon)) {
                        (Ok(lat), Ok(lon)) => center.distance_km(&GeoPoint { lat, lon }) <= radius,
                        _ => false,
                    },
                )
        });
    }
    let available = locations.iter().map(|l| l.available).sum();
    let mut rules: Vec<_> = locations
        .iter()
        .flat_map(|l| l.rules.iter().map(|r| r.id.clone()))
        .collect();
    rules.sort();
    rules.dedup();
    Ok(HttpResponse::Ok().json(Availability {
        sku,
        channel: query.channel,
        tier: query.tier,
        segment: query.segment,
        available,
        locations,
        rules,
    }))
}

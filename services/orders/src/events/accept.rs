//! Accepting an order: one transaction stores it and its `omni.order.accepted` event.

use omni_contracts::api::{NewOrder, Order, OrderStatus};
use omni_contracts::{OrderId, PartnerId};
use omni_db::DbConnection;

use crate::db::orders;

/// Who sent the order, when it is a partner's.
#[derive(Debug, Clone)]
pub struct PartnerRef {
    /// The partner.
    pub partner_id: PartnerId,
    /// Its own order id.
    pub partner_order_id: String,
}

/// Why an order was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// It breaks a business rule; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for AcceptError {
    fn from(e: diesel::result::Error) -> Self {
        AcceptError::Db(omni_db::Error::Query(e))
    }
}

/// Stores a new order in the caller's transaction, waiting for the dispatcher (which announces
/// `omni.order.accepted` when it sends the order on to routing, closest promise date first). For a partner order
/// already taken (same partner and partner order id) it returns the first order and writes nothing:
/// `(order, false)`.
pub fn accept(
    conn: &mut DbConnection,
    request: NewOrder,
    partner: Option<PartnerRef>,
) -> Result<(Order, bool), AcceptError> {
    let total_minor =
        crate::domain::intake::check(&request, partner.is_some()).map_err(AcceptError::Invalid)?;
    if let Some(p) = &partner
        && let Some(existing) = orders::find_by_partner(conn, &p.partner_id, &p.partner_order_id)?
    {
        return Ok((existing.to_order()?, false));
    }
    let now = chrono::Utc::now();
    let order = Order {
        id: OrderId::generate(),
        status: OrderStatus::Accepted,
        partner_id: partner.as_ref().map(|p| p.partner_id.clone()),
        partner_order_id: partner.map(|p| p.partner_order_id),
        request,
        total_minor,
        location_id: None,
        failure_reason: None,
        created_at: now,
        updated_at: now,
    };
    orders::insert(conn, &order)?;
    tracing::info!(order.id = %order.id, channel = order.request.channel.as_str(), total_minor, "Order accepted.");
    Ok((order, true))
}

/// Whether the catalog (as orders knows it) has every SKU of the order and the store it is picked up or handed
/// over at, with that capability. Checked for partner orders, whose senders cannot be asked again.
pub fn check_catalog(conn: &mut DbConnection, order: &NewOrder) -> Result<(), AcceptError> {
    let skus: Vec<&omni_contracts::Sku> = order.lines.iter().map(|l| &l.sku).collect();
    if let Some(sku) = crate::db::catalog::first_unknown_sku(conn, &skus)? {
        return Err(AcceptError::Invalid(format!("lines: unknown SKU `{sku}`")));
    }
    let (location, needs) = match &order.delivery {
        omni_contracts::api::Delivery::Ship { .. } => return Ok(()),
        omni_contracts::api::Delivery::Pickup { location_id } => (location_id, "pickup"),
        omni_contracts::api::Delivery::Curbside { location_id } => (location_id, "curbside"),
    };
    match crate::db::catalog::capabilities(conn, location)? {
        None => Err(AcceptError::Invalid(format!(
            "delivery.location_id: unknown location `{location}`"
        ))),
        Some(capabilities) if !capabilities.iter().any(|c| c == needs) => Err(AcceptError::Invalid(format!(
            "delivery.location_id: `{location}` does not offer {needs}"
        ))),
        Some(_) => Ok(()),
    }
}

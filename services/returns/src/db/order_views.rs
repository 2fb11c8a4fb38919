use diesel::prelude::*;
use omni_contracts::api::{Order, OrderStatus};
use omni_contracts::{Currency, LocationId, OrderId, PartnerId};
use omni_db::DbConnection;
use omni_db::typed::OptionalText;
use serde::Serialize;

use super::schema::order_views;

/// What returns knows of an order.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = order_views)]
pub struct OrderView {
    /// The order.
    #[diesel(deserialize_as = String)]
    pub order_id: OrderId,
    /// Its latest status.
    #[diesel(deserialize_as = String)]
    pub status: OrderStatus,
    /// Lines as JSON.
    pub lines: String,
    /// Currency.
    #[diesel(deserialize_as = String)]
    pub currency: Currency,
    /// The node that fulfils it.
    #[diesel(deserialize_as = OptionalText)]
    pub location_id: Option<LocationId>,
    /// The partner, for marketplace orders.
    #[diesel(deserialize_as = OptionalText)]
    pub partner_id: Option<PartnerId>,
    /// Accepted at (UTC).
    #[schema(value_type = String)]
    pub accepted_at: chrono::NaiveDateTime,
    /// Last change (UTC).
    #[schema(value_type = String)]
    pub updated_at: chrono::NaiveDateTime,
    /// The channel it was placed on.
    pub channel: String,
    /// What the customer paid for it, in minor units.
    pub total_minor: i64,
    /// Who placed it (`partner:<id>`, `principal:<name>`).
    pub placed_by: String,
    /// The return policy's snapshot taken when it was placed (JSON; absent for orders returns learnt before).
    #[serde(skip)]
    pub policy: Option<String>,
}

/// Records an accepted order with its lines and its return policy snapshot as JSON (a replay leaves the row as it
/// is).
pub fn insert_accepted(
    conn: &mut DbConnection,
    order: &Order,
    lines: &str,
    policy: &str,
) -> omni_db::Result<()> {
    if find(conn, order.id)?.is_some() {
        return Ok(());
    }
    diesel::insert_into(order_views::table)
        .values((
            order_views::order_id.eq(order.id.to_string()),
            order_views::status.eq(order.status.as_str()),
            order_views::lines.eq(lines),
            order_views::currency.eq(order.request.currency.as_str()),
            order_views::partner_id.eq(order.partner_id.as_ref().map(|p| p.to_string())),
            order_views::accepted_at.eq(order.created_at.naive_utc()),
            order_views::updated_at.eq(omni_db::now()),
            order_views::channel.eq(order.request.channel.as_str()),
            order_views::total_minor.eq(order.total_minor),
            order_views::placed_by.eq(order.placed_by.as_str()),
            order_views::policy.eq(policy),
        ))
        .execute(conn)?;
    Ok(())
}

/// Updates the status (and node) of a known order; unknown orders are ignored.
pub fn update_status(
    conn: &mut DbConnection,
    id: OrderId,
    status: OrderStatus,
    location_id: Option<&LocationId>,
) -> omni_db::Result<()> {
    let target = order_views::table.find(id.to_string());
    match location_id {
        Some(loc) => diesel::update(target)
            .set((
                order_views::status.eq(status.as_str()),
                order_views::location_id.eq(loc.as_str()),
                order_views::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                order_views::status.eq(status.as_str()),
                order_views::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// One order view.
pub fn find(conn: &mut DbConnection, id: OrderId) -> omni_db::Result<Option<OrderView>> {
    Ok(order_views::table
        .find(id.to_string())
        .select(OrderView::as_select())
        .first(conn)
        .optional()?)
}

use diesel::prelude::*;
use omni_contracts::{FulfillmentId, LocationId, OrderId, ReservationId};
use omni_db::DbConnection;
use serde::Serialize;

use super::schema::fulfillments;
use crate::domain::FulfillmentStatus;

/// A fulfillment as stored and shown. Its ids and status are parsed as the row is read: a value this code never
/// writes fails the read (`omni_db::Error::Query`), it is never passed on.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = fulfillments)]
pub struct FulfillmentRow {
    /// Id.
    #[diesel(deserialize_as = String)]
    pub id: FulfillmentId,
    /// The order.
    #[diesel(deserialize_as = String)]
    pub order_id: OrderId,
    /// The node.
    #[diesel(deserialize_as = String)]
    pub location_id: LocationId,
    /// The hold allocation placed for it.
    #[diesel(deserialize_as = String)]
    pub reservation_id: ReservationId,
    /// Sourced, released, refused (the hold was refused there; routed again) or completed.
    #[diesel(deserialize_as = String)]
    pub status: FulfillmentStatus,
    /// JSON explanation of the sourcing decision.
    pub explanation: String,
    /// Created at (UTC).
    #[schema(value_type = String)]
    pub created_at: chrono::NaiveDateTime,
    /// Last change (UTC).
    #[schema(value_type = String)]
    pub updated_at: chrono::NaiveDateTime,
}

/// Records a sourcing decision.
pub fn insert(conn: &mut DbConnection, row: &FulfillmentRow) -> omni_db::Result<()> {
    diesel::insert_into(fulfillments::table)
        .values((
            fulfillments::id.eq(row.id.to_string()),
            fulfillments::order_id.eq(row.order_id.to_string()),
            fulfillments::location_id.eq(row.location_id.as_str()),
            fulfillments::reservation_id.eq(row.reservation_id.to_string()),
            fulfillments::status.eq(row.status.as_str()),
            fulfillments::explanation.eq(&row.explanation),
            fulfillments::created_at.eq(row.created_at),
            fulfillments::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The fulfillments of an order.
pub fn for_order(conn: &mut DbConnection, order_id: OrderId) -> omni_db::Result<Vec<FulfillmentRow>> {
    Ok(fulfillments::table
        .filter(fulfillments::order_id.eq(order_id.to_string()))
        .order(fulfillments::created_at.asc())
        .select(FulfillmentRow::as_select())
        .load(conn)?)
}

/// One fulfillment.
pub fn find(conn: &mut DbConnection, id: FulfillmentId) -> omni_db::Result<Option<FulfillmentRow>> {
    Ok(fulfillments::table
        .find(id.to_string())
        .select(FulfillmentRow::as_select())
        .first(conn)
        .optional()?)
}

/// Moves a fulfillment to a new status.
pub fn set_status(
    conn: &mut DbConnection,
    id: FulfillmentId,
    status: FulfillmentStatus,
) -> omni_db::Result<()> {
    diesel::update(fulfillments::table.find(id.to_string()))
        .set((
            fulfillments::status.eq(status.as_str()),
            fulfillments::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

use diesel::prelude::*;
use omni_contracts::OrderId;
use omni_db::DbConnection;
use serde::Serialize;

use super::schema::fulfillments;

/// A fulfillment as stored and shown.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = fulfillments)]
pub struct FulfillmentRow {
    /// Id.
    pub id: String,
    /// The order.
    pub order_id: String,
    /// The node.
    pub location_id: String,
    /// The hold allocation placed for it.
    pub reservation_id: String,
    /// `sourced`, `released`, `refused` (the hold was refused there; routed again) or `completed`.
    pub status: String,
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
            fulfillments::id.eq(&row.id),
            fulfillments::order_id.eq(&row.order_id),
            fulfillments::location_id.eq(&row.location_id),
            fulfillments::reservation_id.eq(&row.reservation_id),
            fulfillments::status.eq(&row.status),
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
pub fn find(conn: &mut DbConnection, id: &str) -> omni_db::Result<Option<FulfillmentRow>> {
    Ok(fulfillments::table
        .find(id)
        .select(FulfillmentRow::as_select())
        .first(conn)
        .optional()?)
}

/// Moves a fulfillment to a new status.
pub fn set_status(conn: &mut DbConnection, id: &str, status: &str) -> omni_db::Result<()> {
    diesel::update(fulfillments::table.find(id))
        .set((
            fulfillments::status.eq(status),
            fulfillments::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

//! What left for the customer, per fulfillment and SKU: what an order can return.

use std::collections::BTreeMap;

use diesel::prelude::*;
use omni_contracts::events::HoldLine;
use omni_contracts::{FulfillmentId, LocationId, OrderId, Sku};
use omni_db::DbConnection;

use super::schema::order_deliveries;

/// Records the units one fulfillment delivered (a replay changes nothing).
pub fn record(
    conn: &mut DbConnection,
    order_id: OrderId,
    fulfillment_id: FulfillmentId,
    location_id: &LocationId,
    lines: &[HoldLine],
    delivered_at: chrono::NaiveDateTime,
) -> omni_db::Result<()> {
    for line in lines {
        let known: i64 = order_deliveries::table
            .filter(order_deliveries::order_id.eq(order_id.to_string()))
            .filter(order_deliveries::fulfillment_id.eq(fulfillment_id.to_string()))
            .filter(order_deliveries::sku.eq(line.sku.as_str()))
            .count()
            .get_result(conn)?;
        if known > 0 {
            continue;
        }
        diesel::insert_into(order_deliveries::table)
            .values((
                order_deliveries::order_id.eq(order_id.to_string()),
                order_deliveries::fulfillment_id.eq(fulfillment_id.to_string()),
                order_deliveries::sku.eq(line.sku.as_str()),
                order_deliveries::quantity.eq(i32::try_from(line.quantity.get()).unwrap_or(i32::MAX)),
                order_deliveries::location_id.eq(location_id.as_str()),
                order_deliveries::delivered_at.eq(delivered_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// What the order delivered per SKU, and when its last delivery was (`None`: nothing delivered yet).
pub fn of_order(
    conn: &mut DbConnection,
    order_id: OrderId,
) -> omni_db::Result<(BTreeMap<Sku, u32>, Option<chrono::NaiveDateTime>)> {
    let rows: Vec<(String, i32, chrono::NaiveDateTime)> = order_deliveries::table
        .filter(order_deliveries::order_id.eq(order_id.to_string()))
        .select((
            order_deliveries::sku,
            order_deliveries::quantity,
            order_deliveries::delivered_at,
        ))
        .load(conn)?;
    let mut delivered = BTreeMap::new();
    let mut last = None;
    for (sku, quantity, at) in rows {
        let Ok(sku) = Sku::parse(&sku) else { continue };
        *delivered.entry(sku).or_insert(0) += u32::try_from(quantity).unwrap_or(0);
        last = last.max(Some(at));
    }
    Ok((delivered, last))
}

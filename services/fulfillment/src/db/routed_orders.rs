//! The last routing request of each order and what it was decided: what a what-if replays.

use diesel::prelude::*;
use omni_contracts::api::Order;
use omni_contracts::events::PlanOption;
use omni_contracts::{LocationId, OrderId};
use omni_db::DbConnection;
use serde::{Deserialize, Serialize};

use super::schema::routed_orders;
use crate::domain::routing::Decision;
use crate::domain::routing::what_if::RoutedRequest;

/// What was decided for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    /// The nodes of the chosen plan (none: it could not be served).
    pub nodes: Vec<LocationId>,
    /// The plan's cost.
    pub cost: Option<f64>,
}

/// One routed order.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedOrder {
    /// The order.
    pub order_id: OrderId,
    /// What was routed.
    pub request: RoutedRequest,
    /// What was decided.
    pub decided: Decided,
    /// When (UTC).
    pub decided_at: chrono::NaiveDateTime,
}

/// Keeps the order's routing request and decision, replacing an earlier one.
pub fn record(
    conn: &mut DbConnection,
    order: &Order,
    decision: &Decision,
    at: chrono::NaiveDateTime,
) -> omni_db::Result<()> {
    let request = RoutedRequest::of(order);
    let decided = Decided {
        nodes: decision
            .chosen
            .iter()
            .flat_map(|p: &PlanOption| p.parts.iter().map(|part| part.location_id.clone()))
            .collect(),
        cost: decision.chosen.as_ref().map(|p| p.total),
    };
    let corrupt =
        |e: serde_json::Error| omni_db::Error::Inconsistent(format!("routed order {}: {e}", order.id));
    let request = serde_json::to_string(&request).map_err(corrupt)?;
    let decided = serde_json::to_string(&decided).map_err(corrupt)?;
    diesel::delete(routed_orders::table.find(order.id.to_string())).execute(conn)?;
    diesel::insert_into(routed_orders::table)
        .values((
            routed_orders::order_id.eq(order.id.to_string()),
            routed_orders::request.eq(request),
            routed_orders::decided.eq(decided),
            routed_orders::decided_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The last `limit` routed orders, oldest first; or the given ones (those routed).
pub fn load(conn: &mut DbConnection, which: &Which) -> omni_db::Result<Vec<RoutedOrder>> {
    let columns = (
        routed_orders::order_id,
        routed_orders::request,
        routed_orders::decided,
        routed_orders::decided_at,
    );
    let rows: Vec<(String, String, String, chrono::NaiveDateTime)> = match which {
        Which::Last(limit) => routed_orders::table
            .order((routed_orders::decided_at.desc(), routed_orders::order_id.desc()))
            .limit(i64::from(*limit))
            .select(columns)
            .load(conn)?,
        Which::Orders(ids) => routed_orders::table
            .filter(routed_orders::order_id.eq_any(ids.iter().map(ToString::to_string)))
            .select(columns)
            .load(conn)?,
    };
    let mut orders = rows
        .into_iter()
        .map(|(id, request, decided, at)| {
            let corrupt =
                |e: &dyn std::fmt::Display| omni_db::Error::Inconsistent(format!("routed order {id}: {e}"));
            Ok(RoutedOrder {
                order_id: OrderId::parse(&id).map_err(|e| corrupt(&e))?,
                request: serde_json::from_str(&request).map_err(|e| corrupt(&e))?,
                decided: serde_json::from_str(&decided).map_err(|e| corrupt(&e))?,
                decided_at: at,
            })
        })
        .collect::<omni_db::Result<Vec<_>>>()?;
    orders.sort_by(|a, b| {
        a.decided_at
            .cmp(&b.decided_at)
            .then_with(|| a.order_id.cmp(&b.order_id))
    });
    Ok(orders)
}

/// Which orders to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The last n routed.
    Last(u32),
    /// These.
    Orders(Vec<OrderId>),
}

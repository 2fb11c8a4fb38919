//! What-if: the last routed orders (or given ones) decided again under a draft rule set and under the rules in
//! force, from today's network: the pure replay is `domain::routing::what_if`.

use std::collections::{BTreeSet, HashMap};

use omni_contracts::OrderId;
use omni_contracts::routing::RoutingRule;

use crate::db::routed_orders::{self, Which};
use crate::db::{fulfillments, network};
use crate::domain::routing::cost::CostModel;
use crate::domain::routing::what_if::{ChannelStock, Comparison, ReplayOrder, compare};

/// A what-if's answer: the comparison, and the orders asked for that were never routed here.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Both sides, per order and in total.
    pub comparison: Comparison,
    /// Orders asked for by id that routing has no record of.
    pub unknown: Vec<OrderId>,
}

/// Replays `which` orders under `current` and `draft`.
pub fn what_if(
    conn: &mut omni_db::DbConnection,
    which: &Which,
    current: &[RoutingRule],
    draft: &[RoutingRule],
    model: &CostModel,
) -> omni_db::Result<Answer> {
    let routed = routed_orders::load(conn, which)?;
    let unknown = match which {
        Which::Orders(ids) => ids
            .iter()
            .filter(|id| !routed.iter().any(|r| r.order_id == **id))
            .copied()
            .collect(),
        Which::Last(_) => Vec::new(),
    };
    let now = omni_db::now();
    let nodes = network::nodes(conn, fulfillments::start_of_day(now))?;
    let skus: Vec<String> = routed
        .iter()
        .flat_map(|r| r.request.lines.iter().map(|l| l.sku.to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut stocks: ChannelStock = HashMap::new();
    for order in &routed {
        let channel = order.request.channel;
        if let std::collections::hash_map::Entry::Vacant(slot) = stocks.entry(channel) {
            slot.insert(network::stock_for(conn, &skus, Some(channel), None)?);
        }
    }
    let orders: Vec<ReplayOrder> = routed
        .into_iter()
        .map(|r| ReplayOrder {
            order_id: r.order_id,
            request: r.request,
        })
        .collect();
    Ok(Answer {
        comparison: compare(&orders, (&nodes, &stocks), (current, draft), model, now.and_utc()),
        unknown,
    })
}

//! What-if: orders routed again under a draft rule set and under the rules in force, side by side, from the
//! same network (today's stock and capacity). Each side replays the orders one after the other, earliest
//! promise first, each taking the stock and pick capacity its plan uses, so capacity running short moves later
//! orders exactly as it would in the day.

use omni_contracts::api::{Channel, Delivery, OrderLine};
use omni_contracts::routing::RoutingRule;
use omni_contracts::{LocationId, OrderId};
use serde::{Deserialize, Serialize};

use super::cost::{CostModel, Timing};
use super::{Node, Request, Stock, applicable, route};

/// What routing needs of an order to decide it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutedRequest {
    /// Its channel (its buffer rules, and the rules that match it).
    pub channel: Channel,
    /// How it reaches the customer.
    pub delivery: Delivery,
    /// Its lines.
    pub lines: Vec<OrderLine>,
    /// Its promise.
    pub promise_by: Option<chrono::DateTime<chrono::Utc>>,
    /// The customer's tier (standard when kept before it was).
    #[serde(default)]
    pub tier: omni_contracts::api::CustomerTier,
    /// Whether it is a pre-order.
    #[serde(default)]
    pub preorder: bool,
}

impl RoutedRequest {
    /// What routing keeps of an order.
    pub fn of(order: &omni_contracts::api::Order) -> Self {
        Self {
            channel: order.request.channel,
            delivery: order.request.delivery.clone(),
            lines: order.request.lines.clone(),
            promise_by: order.request.promise_by,
            tier: order.request.customer.tier,
            preorder: order.request.preorder,
        }
    }
}

/// One order to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOrder {
    /// The order.
    pub order_id: OrderId,
    /// What was routed.
    pub request: RoutedRequest,
}

/// Where an order goes on one side.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    /// The nodes of its plan, one per part (none: no node can serve it).
    pub nodes: Vec<LocationId>,
    /// The plan's cost (none when it cannot be served).
    pub cost: Option<f64>,
    /// The rule that decided, in words.
    pub rule: String,
}

/// One order, both sides.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Compared {
    /// The order.
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// Under the rules in force.
    pub before: Outcome,
    /// Under the draft.
    pub after: Outcome,
    /// Whether the nodes differ.
    pub changed: bool,
}

/// One side's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Side {
    /// The cost of every plan.
    pub cost: f64,
    /// Orders split across nodes.
    pub split_orders: u32,
    /// Parts beyond the first, over all orders.
    pub splits: u32,
    /// Orders no node could serve.
    pub unserved: u32,
}

/// Both sides' totals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Orders replayed.
    pub orders: u32,
    /// Orders whose nodes changed.
    pub changed: u32,
    /// Under the rules in force.
    pub before: Side,
    /// Under the draft.
    pub after: Side,
}

/// What a what-if found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// Per order, in the order they were replayed (earliest promise first).
    pub orders: Vec<Compared>,
    /// The totals.
    pub totals: Totals,
}

/// What each channel may sell at each node.
pub type ChannelStock = std::collections::HashMap<Channel, Stock>;

/// Replays `orders` under the rules in force and under `draft`, from the same nodes and stock (what each
/// order's channel may sell).
pub fn compare(
    orders: &[ReplayOrder],
    network: (&[Node], &ChannelStock),
    rules: (&[RoutingRule], &[RoutingRule]),
    model: &CostModel,
    now: chrono::DateTime<chrono::Utc>,
) -> Comparison {
    let mut sequence: Vec<&ReplayOrder> = orders.iter().collect();
    // Earliest deadline first; orders without a promise after, in the order they came.
    sequence.sort_by_key(|o| (o.request.promise_by.is_none(), o.request.promise_by));
    let (current, draft) = rules;
    let before = replay_side(&sequence, network, current, model, now);
    let after = replay_side(&sequence, network, draft, model, now);
    let mut totals = Totals {
        orders: u32::try_from(sequence.len()).unwrap_or(u32::MAX),
        changed: 0,
        before: tally(&before),
        after: tally(&after),
    };
    let compared: Vec<Compared> = sequence
        .iter()
        .zip(before.into_iter().zip(after))
        .map(|(order, (before, after))| {
            let changed = before.nodes != after.nodes;
            totals.changed += u32::from(changed);
            Compared {
                order_id: order.order_id,
                before,
                after,
                changed,
            }
        })
        .collect();
    Comparison {
        orders: compared,
        totals,
    }
}

/// Routes each order in turn under `rules`, each taking the stock and capacity its plan uses.
fn replay_side(
    sequence: &[&ReplayOrder],
    network: (&[Node], &ChannelStock),
    rules: &[RoutingRule],
    model: &CostModel,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Outcome> {
    let mut nodes = network.0.to_vec();
    let mut stocks = network.1.clone();
    let nothing = Stock::default();
    sequence
        .iter()
        .map(|order| {
            let request = &order.request;
            let stock = stocks.get(&request.channel).unwrap_or(&nothing);
            let matching = applicable(rules, request.channel, &request.delivery, &request.lines);
            let decision = route(
                &Request {
                    delivery: &request.delivery,
                    lines: &request.lines,
                    timing: Timing {
                        now,
                        promise_by: request.promise_by,
                    },
                },
                &nodes,
                stock,
                &matching,
                model,
            );
            let Some(plan) = decision.chosen else {
                return Outcome {
                    nodes: vec![],
                    cost: None,
                    rule: decision.rule,
                };
            };
            for part in &plan.parts {
                let units: u32 = part.lines.iter().map(|l| l.quantity.get()).sum();
                if let Some(node) = nodes.iter_mut().find(|n| n.id == part.location_id) {
                    node.picked_today = node.picked_today.saturating_add(units);
                }
                // The units are gone for every channel.
                for stock in stocks.values_mut() {
                    for line in &part.lines {
                        stock.take(
                            part.location_id.as_str(),
                            line.sku.as_str(),
                            i64::from(line.quantity.get()),
                        );
                    }
                }
            }
            Outcome {
                nodes: plan.parts.iter().map(|p| p.location_id.clone()).collect(),
                cost: Some(plan.total),
                rule: decision.rule,
            }
        })
        .collect()
}

fn tally(outcomes: &[Outcome]) -> Side {
    let mut side = Side::default();
    for outcome in outcomes {
        match outcome.cost {
            None => side.unserved += 1,
            Some(cost) => {
                side.cost += cost;
                let parts = u32::try_from(outcome.nodes.len()).unwrap_or(u32::MAX);
                if parts > 1 {
                    side.split_orders += 1;
                    side.splits += parts - 1;
                }
            }
        }
    }
    side.cost = (side.cost * 100.0).round() / 100.0;
    side
}

#[cfg(test)]
mod tests {
    use omni_contracts::api::{Latitude, Longitude, UnitPrice};
    use omni_contracts::{Quantity, Sku};

    use super::*;

    fn order(id: u8, promise_hours: Option<i64>, now: chrono::DateTime<chrono::Utc>) -> ReplayOrder {
        ReplayOrder {
            order_id: OrderId::parse(&format!("01a24e5e-952a-7070-9016-ebdd01d39f{id:02x}")).unwrap(),
            request: RoutedRequest {
                channel: Channel::Web,
                delivery: Delivery::Ship {
                    lat: Latitude::new(52.52).unwrap(),
                    lon: Longitude::new(13.40).unwrap(),
                },
                lines: vec![OrderLine {
                    sku: Sku::parse("TEE").unwrap(),
                    quantity: Quantity::new(5).unwrap(),
                    unit_price_minor: UnitPrice::new(100).unwrap(),
                }],
                promise_by: promise_hours.map(|h| now + chrono::Duration::hours(h)),
                tier: Default::default(),
                preorder: false,
            },
        }
    }

    /// Berlin is near but can pick 5 units today; Hamburg is far. Replayed earliest promise first, each order
    /// taking the capacity its plan uses: the most urgent order gets Berlin, the others go to Hamburg; a draft
    /// that leaves Hamburg out leaves them unserved, and the totals say so.
    #[test]
    fn a_draft_is_replayed_side_by_side_from_the_same_network() {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-07T08:00:00Z".parse().unwrap();
        let mut berlin = Node::from_row("BERLIN", 52.5, 13.4, "ship").unwrap();
        berlin.pick_capacity = Some(5);
        let hamburg = Node::from_row("HAMBURG", 53.55, 10.0, "ship").unwrap();
        let nodes = [berlin, hamburg];
        let mut stock = Stock::default();
        stock.set("BERLIN", "TEE", 50);
        stock.set("HAMBURG", "TEE", 50);
        let stocks = ChannelStock::from([(Channel::Web, stock)]);
        let orders = [
            order(1, None, now),
            order(2, Some(6), now),
            order(3, Some(48), now),
        ];
        let draft: Vec<RoutingRule> = vec![
            serde_json::from_value(serde_json::json!({ "id": "no-hamburg",
                "effect": { "exclude": { "locations": ["HAMBURG"] } } }))
            .unwrap(),
        ];
        let model = CostModel {
            urgent_reserve: 0.0,
            ..CostModel::default()
        };
        let compared = compare(&orders, (&nodes, &stocks), (&[], &draft), &model, now);
        let sequence: Vec<OrderId> = compared.orders.iter().map(|o| o.order_id).collect();
        assert_eq!(
            sequence,
            [orders[1].order_id, orders[2].order_id, orders[0].order_id],
            "earliest promise first, no promise last"
        );
        let before: Vec<&str> = compared
            .orders
            .iter()
            .map(|o| o.before.nodes.first().map_or("-", LocationId::as_str))
            .collect();
        assert_eq!(
            before,
            ["BERLIN", "HAMBURG", "HAMBURG"],
            "Berlin's capacity went to the first"
        );
        let after: Vec<&str> = compared
            .orders
            .iter()
            .map(|o| o.after.nodes.first().map_or("-", LocationId::as_str))
            .collect();
        assert_eq!(after, ["BERLIN", "-", "-"]);
        assert_eq!(compared.totals.orders, 3);
        assert_eq!(compared.totals.changed, 2);
        assert_eq!(
            (compared.totals.before.unserved, compared.totals.after.unserved),
            (0, 2)
        );
        assert!(compared.totals.after.cost < compared.totals.before.cost);
    }
}

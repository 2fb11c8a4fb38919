//! Choosing where an order is served from: the cheapest plan of at most `max_splits + 1` nodes that can serve
//! the delivery type and together hold every line, costed by [`cost`] (shipping distance, preference, pick
//! capacity used today, deadline risk) plus a split penalty per extra node ([`plans`] finds them). Routing rules
//! can take nodes out for the orders they match, cap how far a shipment travels, or make nodes count as nearer.
//! Every decision keeps its explanation: each node with its distance, the cost of serving the whole order there
//! or why it cannot, the cheapest plans with their cost terms, and the rule that decided.

pub mod cost;
pub mod plans;
pub mod what_if;

use std::collections::{BTreeMap, HashMap};

use omni_contracts::LocationId;
use omni_contracts::api::{
    Capability, Channel, Delivery, GeoPoint, Latitude, LocationKind, Longitude, OrderLine,
};
use omni_contracts::events::{Candidate, HoldLine, PlanOption, PlanPart};
use omni_contracts::routing::{RoutingEffect, RoutingRule};

/// A node as routing sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The location.
    pub id: LocationId,
    /// Where it is.
    pub point: GeoPoint,
    /// What it can do.
    pub capabilities: Vec<Capability>,
    /// Store or warehouse (how long it takes to get an order ready).
    pub kind: LocationKind,
    /// Units it can pick a day (`None`: no limit).
    pub pick_capacity: Option<u32>,
    /// Units routed to it today (UTC) and not refused or cancelled.
    pub picked_today: u32,
}

impl Node {
    /// Parses a stored row (a store with no capacity limit and nothing routed today); `None` for a corrupt one.
    pub fn from_row(id: &str, lat: f64, lon: f64, caps: &str) -> Option<Self> {
        Some(Self {
            id: LocationId::parse(id).ok()?,
            point: GeoPoint {
                lat: Latitude::new(lat).ok()?,
                lon: Longitude::new(lon).ok()?,
            },
            capabilities: caps
                .split(',')
                .filter_map(|c| match c {
                    "ship" => Some(Capability::Ship),
                    "pickup" => Some(Capability::Pickup),
                    "curbside" => Some(Capability::Curbside),
                    _ => None,
                })
                .collect(),
            kind: LocationKind::Store,
            pick_capacity: None,
            picked_today: 0,
        })
    }
}

/// What each node holds for the order's channel, by SKU then location.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stock(HashMap<String, HashMap<String, i64>>);

impl Stock {
    /// Sets what `location` holds of `sku`.
    pub fn set(&mut self, location: &str, sku: &str, units: i64) {
        self.0
            .entry(sku.to_owned())
            .or_default()
            .insert(location.to_owned(), units);
    }

    /// What `location` holds of `sku` (0 when nothing is known).
    pub fn units(&self, location: &str, sku: &str) -> i64 {
        self.0
            .get(sku)
            .and_then(|at| at.get(location))
            .copied()
            .unwrap_or(0)
    }

    /// Takes `units` of `sku` at `location` (a what-if replay consuming the stock it routes).
    pub fn take(&mut self, location: &str, sku: &str, units: i64) {
        let now = self.units(location, sku);
        self.set(location, sku, now - units);
    }

    /// What each location holds of `sku`, by location.
    pub fn of(&self, sku: &str) -> Option<&HashMap<String, i64>> {
        self.0.get(sku)
    }

    /// Every (location, SKU, units).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.0.iter().flat_map(|(sku, at)| {
            at.iter()
                .map(move |(loc, units)| (loc.as_str(), sku.as_str(), *units))
        })
    }
}

/// The order as routing sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// How it reaches the customer.
    pub delivery: &'a Delivery,
    /// What is ordered.
    pub lines: &'a [OrderLine],
    /// When it is decided, and what was promised.
    pub timing: cost::Timing,
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The chosen plan, if any node can serve the order: one part per node.
    pub chosen: Option<PlanOption>,
    /// The cheapest plans found, the chosen one first.
    pub plans: Vec<PlanOption>,
    /// Every node considered: those that could serve the whole order, cheapest first, then the others, nearest
    /// first, with why not.
    pub candidates: Vec<Candidate>,
    /// The rule that decided, in words.
    pub rule: String,
}

/// How many plans a decision shows.
pub const PLANS_SHOWN: usize = 5;

/// The segment an order's hold draws on besides its tier's: a pre-order's, else a curbside pickup's.
pub fn segment_of_request(request: &what_if::RoutedRequest) -> Option<omni_contracts::policies::Segment> {
    use omni_contracts::policies::Segment;
    if request.preorder {
        Some(Segment::Preorder)
    } else if matches!(request.delivery, Delivery::Curbside { .. }) {
        Some(Segment::Curbside)
    } else {
        None
    }
}

/// The enabled routing rules whose conditions an order matches.
pub fn applicable<'a>(
    rules: &'a [RoutingRule],
    channel: Channel,
    delivery: &Delivery,
    lines: &[OrderLine],
) -> Vec<&'a RoutingRule> {
    let kind = match delivery {
        Delivery::Ship { .. } => Capability::Ship,
        Delivery::Pickup { .. } => Capability::Pickup,
        Delivery::Curbside { .. } => Capability::Curbside,
    };
    rules
        .iter()
        .filter(|rule| rule.enabled)
        .filter(|rule| rule.when.channels.as_ref().is_none_or(|c| c.contains(&channel)))
        .filter(|rule| rule.when.deliveries.as_ref().is_none_or(|d| d.contains(&kind)))
        .filter(|rule| {
            rule.when
                .skus
                .as_ref()
                .is_none_or(|skus| lines.iter().any(|l| skus.contains(&l.sku)))
        })
        .collect()
}

/// Why the rules take a node out for this order, if they do.
fn ruled_out(rules: &[&RoutingRule], node: &LocationId, shipping_km: Option<f64>) -> Option<String> {
    rules.iter().find_map(|rule| match &rule.effect {
        RoutingEffect::Exclude(list) if list.locations.contains(node) => {
            Some(format!("excluded by routing rule `{}`", rule.id))
        }
        RoutingEffect::MaxDistanceKm(km) if shipping_km.is_some_and(|d| d > f64::from(*km)) => {
            Some(format!("farther than {km} km (routing rule `{}`)", rule.id))
        }
        _ => None,
    })
}

/// How many km nearer the rules make a node count (the largest preference that names it).
fn preference_km(rules: &[&RoutingRule], node: &LocationId) -> f64 {
    rules
        .iter()
        .filter_map(|rule| match &rule.effect {
            RoutingEffect::Prefer(p) if p.locations.contains(node) => Some(f64::from(p.bonus_km)),
            _ => None,
        })
        .fold(0.0, f64::max)
}

/// Routes an order under the cost model, given what each node holds for its channel and the routing rules that
/// apply to it ([`applicable`]).
pub fn route(
    request: &Request<'_>,
    nodes: &[Node],
    stock: &Stock,
    rules: &[&RoutingRule],
    model: &cost::CostModel,
) -> Decision {
    let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
    for line in request.lines {
        *wanted.entry(line.sku.as_str()).or_default() += i64::from(line.quantity);
    }
    let wanted: Vec<(&str, i64)> = wanted.into_iter().collect();
    let units: Vec<u32> = wanted
        .iter()
        .map(|(_, q)| u32::try_from(*q).unwrap_or(u32::MAX))
        .collect();
    let all_units: u32 = units.iter().sum();
    let (needed, origin, only): (Capability, Option<GeoPoint>, Option<&LocationId>) = match request.delivery {
        Delivery::Ship { lat, lon } => (Capability::Ship, Some(GeoPoint { lat: *lat, lon: *lon }), None),
        Delivery::Pickup { location_id } => (Capability::Pickup, None, Some(location_id)),
        Delivery::Curbside { location_id } => (Capability::Curbside, None, Some(location_id)),
    };
    // Each SKU's stock by location, looked up once per order rather than once per node.
    let held: Vec<Option<&HashMap<String, i64>>> = wanted.iter().map(|(sku, _)| stock.of(sku)).collect();
    // Each node with its rank: those that could serve it all by cost, the others by distance (preferred nodes
    // counting as nearer by their bonus).
    let mut ranked: Vec<(f64, Candidate)> = Vec::with_capacity(nodes.len());
    let mut able: Vec<plans::Able> = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        if only.is_some_and(|id| *id != node.id) {
            continue;
        }
        let exact_km = origin.map(|o| o.distance_km(&node.point));
        let distance_km = exact_km.map_or(0.0, |d| (d * 10.0).round() / 10.0);
        let mut covers = 0u128;
        let mut short = String::new();
        for (bit, (sku, q)) in wanted.iter().enumerate() {
            let have = held[bit]
                .and_then(|at| at.get(node.id.as_str()))
                .copied()
                .unwrap_or(0);
            if have >= *q {
                covers |= 1 << bit;
            } else {
                use std::fmt::Write;
                let sep = if short.is_empty() { "short: " } else { ", " };
                let _ = write!(short, "{sep}{sku} {have}/{q}");
            }
        }
        let bonus_km = preference_km(rules, &node.id);
        let mut cost = None;
        let reason = if !node.capabilities.contains(&needed) {
            Some(format!("cannot {}", capability_name(needed)))
        } else if let Some(why) = ruled_out(rules, &node.id, origin.map(|_| distance_km)) {
            Some(why)
        } else {
            if covers != 0 {
                able.push(plans::Able {
                    node: index,
                    covers,
                    distance_km: exact_km,
                    bonus_km,
                });
            }
            if short.is_empty() {
                match cost::part_cost(model, &request.timing, node, exact_km, bonus_km, all_units) {
                    cost::Fit::Fits(terms) => {
                        cost = Some(terms);
                        None
                    }
                    unfit => unfit.reason(),
                }
            } else {
                Some(short)
            }
        };
        let key = cost.map_or(distance_km - bonus_km, |t| t.total);
        ranked.push((
            key,
            Candidate {
                location_id: node.id.clone(),
                distance_km,
                eligible: reason.is_none(),
                reason,
                cost,
            },
        ));
    }
    if let Some(id) = only
        && ranked.is_empty()
    {
        let unknown = Candidate {
            location_id: id.clone(),
            distance_km: 0.0,
            eligible: false,
            reason: Some("unknown store".into()),
            cost: None,
        };
        ranked.push((0.0, unknown));
    }
    // Those that could serve it all, cheapest first; then the others, nearest first.
    ranked.sort_unstable_by(|(a_key, a), (b_key, b)| {
        b.eligible
            .cmp(&a.eligible)
            .then_with(|| a_key.total_cmp(b_key))
            .then_with(|| a.location_id.cmp(&b.location_id))
    });
    let candidates: Vec<Candidate> = ranked.into_iter().map(|(_, c)| c).collect();
    let max_parts = match request.delivery {
        Delivery::Ship { .. } => model.max_splits as usize + 1,
        // The customer comes to one store.
        Delivery::Pickup { .. } | Delivery::Curbside { .. } => 1,
    };
    let found = plans::Search {
        nodes,
        units: &units,
        model,
        timing: &request.timing,
        max_parts,
        shown: PLANS_SHOWN,
    }
    .run(&able);
    let plans: Vec<PlanOption> = found
        .iter()
        .map(|plan| PlanOption {
            parts: plan
                .parts
                .iter()
                .map(|part| PlanPart {
                    location_id: nodes[part.node].id.clone(),
                    lines: wanted
                        .iter()
                        .enumerate()
                        .filter(|(bit, _)| part.skus & (1 << bit) != 0)
                        .filter_map(|(_, (sku, q))| {
                            Some(HoldLine {
                                sku: omni_contracts::Sku::parse(sku).ok()?,
                                quantity: omni_contracts::Quantity::new(*q).ok()?,
                            })
                        })
                        .collect(),
                    cost: part.cost,
                })
                .collect(),
            split_penalty: model.split_penalty * plan.parts.len().saturating_sub(1) as f64,
            total: plan.total,
        })
        .collect();
    let chosen = plans.first().cloned();
    let mut rule = match (request.delivery, &chosen) {
        (Delivery::Ship { .. }, Some(plan)) if plan.parts.len() > 1 => {
            let whole = candidates.iter().any(|c| c.eligible);
            format!(
                "lowest cost: split across {} nodes{}",
                plan.parts.len(),
                if whole {
                    ", cheaper than any single node"
                } else {
                    " (no single node can serve every line)"
                }
            )
        }
        (Delivery::Ship { .. }, Some(_)) => "lowest cost: one node ships every line".to_owned(),
        (_, Some(_)) => format!("{} at the customer's chosen store", capability_name(needed)),
        (_, None) => "no eligible node".to_owned(),
    };
    if !rules.is_empty() {
        let names: Vec<String> = rules.iter().map(|r| format!("`{}`", r.id)).collect();
        rule.push_str(&format!(", under routing rules {}", names.join(", ")));
    }
    Decision {
        chosen,
        plans,
        candidates,
        rule,
    }
}

fn capability_name(c: Capability) -> &'static str {
    match c {
        Capability::Ship => "ship",
        Capability::Pickup => "pickup",
        Capability::Curbside => "curbside",
    }
}

#[cfg(test)]
mod tests;

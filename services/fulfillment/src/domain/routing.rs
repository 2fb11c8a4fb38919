//! Choosing the node for an order: candidates that can serve the delivery type and hold every line; the
//! nearest wins. Routing rules can take nodes out for the orders they match, cap how far a shipment travels, or
//! make nodes count as nearer. Every decision keeps its explanation (each candidate, its distance, why not, and
//! the rules that applied).

use std::collections::{BTreeMap, HashMap};

use omni_contracts::LocationId;
use omni_contracts::api::{Capability, Channel, Delivery, GeoPoint, Latitude, Longitude, OrderLine};
use omni_contracts::events::Candidate;
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
}

impl Node {
    /// Parses a stored row; `None` for a corrupt one.
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
        })
    }
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The chosen node, if any is eligible.
    pub chosen: Option<LocationId>,
    /// Every node considered, nearest first.
    pub candidates: Vec<Candidate>,
    /// The rule that decided, in words.
    pub rule: String,
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

/// Routes an order's lines for its delivery, given ATP by `(location, sku)` and the routing rules that apply to
/// the order ([`applicable`]).
pub fn route(
    delivery: &Delivery,
    lines: &[OrderLine],
    nodes: &[Node],
    atp: &HashMap<(String, String), i64>,
    rules: &[&RoutingRule],
) -> Decision {
    let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
    for line in lines {
        *wanted.entry(line.sku.as_str()).or_default() += i64::from(line.quantity);
    }
    let (needed, origin, only): (Capability, Option<GeoPoint>, Option<&LocationId>) = match delivery {
        Delivery::Ship { lat, lon } => (Capability::Ship, Some(GeoPoint { lat: *lat, lon: *lon }), None),
        Delivery::Pickup { location_id } => (Capability::Pickup, None, Some(location_id)),
        Delivery::Curbside { location_id } => (Capability::Curbside, None, Some(location_id)),
    };
    let mut candidates: Vec<Candidate> = nodes
        .iter()
        .filter(|n| only.is_none_or(|id| *id == n.id))
        .map(|node| {
            let distance_km = origin.map_or(0.0, |o| (o.distance_km(&node.point) * 10.0).round() / 10.0);
            let short: Vec<String> = wanted
                .iter()
                .filter_map(|(sku, q)| {
                    let have = atp
                        .get(&(node.id.to_string(), (*sku).to_owned()))
                        .copied()
                        .unwrap_or(0);
                    (have < *q).then(|| format!("{sku} {have}/{q}"))
                })
                .collect();
            let reason = if !node.capabilities.contains(&needed) {
                Some(format!("cannot {}", capability_name(needed)))
            } else if let Some(why) = ruled_out(rules, &node.id, origin.map(|_| distance_km)) {
                Some(why)
            } else if !short.is_empty() {
                Some(format!("short: {}", short.join(", ")))
            } else {
                None
            };
            Candidate {
                location_id: node.id.clone(),
                distance_km,
                eligible: reason.is_none(),
                reason,
            }
        })
        .collect();
    if let Some(id) = only
        && candidates.is_empty()
    {
        candidates.push(Candidate {
            location_id: id.clone(),
            distance_km: 0.0,
            eligible: false,
            reason: Some("unknown store".into()),
        });
    }
    // Nearest first, preferred nodes counting as nearer by their bonus (worked out once per node).
    let mut ranked: Vec<(f64, Candidate)> = candidates
        .into_iter()
        .map(|c| (c.distance_km - preference_km(rules, &c.location_id), c))
        .collect();
    ranked.sort_by(|(a_km, a), (b_km, b)| {
        a_km.total_cmp(b_km)
            .then_with(|| a.location_id.cmp(&b.location_id))
    });
    let candidates: Vec<Candidate> = ranked.into_iter().map(|(_, c)| c).collect();
    let chosen = candidates
        .iter()
        .find(|c| c.eligible)
        .map(|c| c.location_id.clone());
    let mut rule = match (delivery, &chosen) {
        (Delivery::Ship { .. }, Some(_)) => "nearest node that can ship every line".to_owned(),
        (_, Some(_)) => format!("{} at the customer's chosen store", capability_name(needed)),
        (_, None) => "no eligible node".to_owned(),
    };
    if !rules.is_empty() {
        let names: Vec<String> = rules.iter().map(|r| format!("`{}`", r.id)).collect();
        rule.push_str(&format!(", under routing rules {}", names.join(", ")));
    }
    Decision {
        chosen,
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
mod tests {
    use super::*;
    use omni_contracts::api::UnitPrice;
    use omni_contracts::{Quantity, Sku};

    fn node(id: &str, lat: f64, lon: f64, caps: &str) -> Node {
        Node::from_row(id, lat, lon, caps).unwrap()
    }

    fn line(sku: &str, q: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(q).unwrap(),
            unit_price_minor: UnitPrice::new(100).unwrap(),
        }
    }

    fn ship_to_berlin() -> Delivery {
        Delivery::Ship {
            lat: Latitude::new(52.52).unwrap(),
            lon: Longitude::new(13.40).unwrap(),
        }
    }

    #[test]
    fn the_nearest_node_with_every_line_in_stock_wins() {
        let nodes = [
            node("BERLIN", 52.5, 13.4, "ship,pickup"),
            node("HAMBURG", 53.55, 10.0, "ship"),
        ];
        let atp = HashMap::from([
            (("BERLIN".into(), "A".into()), 1),
            (("HAMBURG".into(), "A".into()), 5),
        ]);
        let decision = route(&ship_to_berlin(), &[line("A", 2)], &nodes, &atp, &[]);
        assert_eq!(decision.chosen.unwrap().as_str(), "HAMBURG");
        assert_eq!(decision.candidates[0].reason.as_deref(), Some("short: A 1/2"));
    }

    #[test]
    fn two_lines_on_one_sku_are_summed_before_the_stock_check() {
        let nodes = [node("BERLIN", 52.5, 13.4, "ship")];
        let atp = HashMap::from([(("BERLIN".into(), "A".into()), 2)]);
        assert!(
            route(
                &ship_to_berlin(),
                &[line("A", 1), line("A", 2)],
                &nodes,
                &atp,
                &[]
            )
            .chosen
            .is_none()
        );
    }

    #[test]
    fn pickup_only_considers_the_chosen_store() {
        let nodes = [
            node("BERLIN", 52.5, 13.4, "ship,pickup"),
            node("POTSDAM", 52.4, 13.06, "ship,pickup"),
        ];
        let atp = HashMap::from([(("POTSDAM".into(), "A".into()), 9)]);
        let delivery = Delivery::Pickup {
            location_id: LocationId::parse("BERLIN").unwrap(),
        };
        let decision = route(&delivery, &[line("A", 1)], &nodes, &atp, &[]);
        assert!(decision.chosen.is_none());
        assert_eq!(decision.candidates.len(), 1);
    }

    fn rule(json: serde_json::Value) -> RoutingRule {
        let rule: RoutingRule = serde_json::from_value(json).unwrap();
        rule.check().unwrap();
        rule
    }

    #[test]
    fn routing_rules_exclude_nodes_cap_distance_and_prefer_nodes_for_the_orders_they_match() {
        let nodes = [
            node("BERLIN", 52.5, 13.4, "ship,pickup"),
            node("POTSDAM", 52.4, 13.06, "ship"),
            node("HAMBURG", 53.55, 10.0, "ship"),
        ];
        let atp = HashMap::from([
            (("BERLIN".into(), "A".into()), 5),
            (("POTSDAM".into(), "A".into()), 5),
            (("HAMBURG".into(), "A".into()), 5),
        ]);
        let lines = [line("A", 1)];
        let rules = [
            rule(
                serde_json::json!({ "id": "no-flagship", "when": { "channels": ["marketplace"] },
                "effect": { "exclude": { "locations": ["BERLIN"] } } }),
            ),
            rule(
                serde_json::json!({ "id": "close-only", "when": { "deliveries": ["ship"] },
                "effect": { "max_distance_km": 100 } }),
            ),
            rule(serde_json::json!({ "id": "dc-first", "enabled": false,
                "effect": { "prefer": { "locations": ["HAMBURG"], "bonus_km": 1000 } } })),
        ];
        // A web order: the flagship rule does not match, the nearest node wins.
        let web = applicable(&rules, Channel::Web, &ship_to_berlin(), &lines);
        assert_eq!(web.len(), 1);
        let decision = route(&ship_to_berlin(), &lines, &nodes, &atp, &web);
        assert_eq!(decision.chosen.unwrap().as_str(), "BERLIN");
        assert!(decision.rule.contains("`close-only`"), "{}", decision.rule);
        let hamburg = decision
            .candidates
            .iter()
            .find(|c| c.location_id.as_str() == "HAMBURG")
            .unwrap();
        assert_eq!(
            hamburg.reason.as_deref(),
            Some("farther than 100 km (routing rule `close-only`)")
        );

        // A marketplace order: the flagship is out, Potsdam is next.
        let marketplace = applicable(&rules, Channel::Marketplace, &ship_to_berlin(), &lines);
        let decision = route(&ship_to_berlin(), &lines, &nodes, &atp, &marketplace);
        assert_eq!(decision.chosen.unwrap().as_str(), "POTSDAM");
        let berlin = decision
            .candidates
            .iter()
            .find(|c| c.location_id.as_str() == "BERLIN")
            .unwrap();
        assert_eq!(
            berlin.reason.as_deref(),
            Some("excluded by routing rule `no-flagship`")
        );

        // A preference makes a farther node count as nearer; the disabled one never applies.
        assert!(
            applicable(&rules, Channel::Web, &ship_to_berlin(), &lines)
                .iter()
                .all(|r| r.id.as_str() != "dc-first")
        );
        let prefer = [rule(serde_json::json!({ "id": "dc-first",
            "effect": { "prefer": { "locations": ["HAMBURG"], "bonus_km": 1000 } } }))];
        let preferred = applicable(&prefer, Channel::Web, &ship_to_berlin(), &lines);
        let decision = route(&ship_to_berlin(), &lines, &nodes, &atp, &preferred);
        assert_eq!(decision.chosen.unwrap().as_str(), "HAMBURG");
        assert!(
            decision.candidates[0].distance_km > 200.0,
            "the true distance is kept"
        );
    }
}

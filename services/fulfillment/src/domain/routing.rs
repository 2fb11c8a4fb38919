//! Choosing the node for an order: candidates that can serve the delivery type and hold every line; the
//! nearest wins. Every decision keeps its explanation (each candidate, its distance, why not).

use std::collections::{BTreeMap, HashMap};

use omni_contracts::LocationId;
use omni_contracts::api::{Capability, Delivery, GeoPoint, Latitude, Longitude, OrderLine};
use omni_contracts::events::Candidate;

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

/// Routes an order's lines for its delivery, given ATP by `(location, sku)`.
pub fn route(
    delivery: &Delivery,
    lines: &[OrderLine],
    nodes: &[Node],
    atp: &HashMap<(String, String), i64>,
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
    candidates.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.location_id.cmp(&b.location_id))
    });
    let chosen = candidates
        .iter()
        .find(|c| c.eligible)
        .map(|c| c.location_id.clone());
    let rule = match (delivery, &chosen) {
        (Delivery::Ship { .. }, Some(_)) => "nearest node that can ship every line".to_owned(),
        (_, Some(_)) => format!("{} at the customer's chosen store", capability_name(needed)),
        (_, None) => "no eligible node".to_owned(),
    };
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
        let decision = route(&ship_to_berlin(), &[line("A", 2)], &nodes, &atp);
        assert_eq!(decision.chosen.unwrap().as_str(), "HAMBURG");
        assert_eq!(decision.candidates[0].reason.as_deref(), Some("short: A 1/2"));
    }

    #[test]
    fn two_lines_on_one_sku_are_summed_before_the_stock_check() {
        let nodes = [node("BERLIN", 52.5, 13.4, "ship")];
        let atp = HashMap::from([(("BERLIN".into(), "A".into()), 2)]);
        assert!(
            route(&ship_to_berlin(), &[line("A", 1), line("A", 2)], &nodes, &atp)
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
        let decision = route(&delivery, &[line("A", 1)], &nodes, &atp);
        assert!(decision.chosen.is_none());
        assert_eq!(decision.candidates.len(), 1);
    }
}

use super::cost::{CostModel, Fit, Timing, part_cost};
use super::*;
use chrono::{DateTime, Duration, Utc};
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

fn now() -> DateTime<Utc> {
    "2026-12-07T08:00:00Z".parse().unwrap()
}

fn stock(entries: &[(&str, &str, i64)]) -> Stock {
    let mut stock = Stock::default();
    for (location, sku, units) in entries {
        stock.set(location, sku, *units);
    }
    stock
}

/// Routes with the default cost model, no promise.
fn decide(
    delivery: &Delivery,
    lines: &[OrderLine],
    nodes: &[Node],
    stock: &Stock,
    rules: &[&RoutingRule],
) -> Decision {
    decide_with(delivery, lines, nodes, stock, rules, &CostModel::default(), None)
}

fn decide_with(
    delivery: &Delivery,
    lines: &[OrderLine],
    nodes: &[Node],
    stock: &Stock,
    rules: &[&RoutingRule],
    model: &CostModel,
    promise_by: Option<DateTime<Utc>>,
) -> Decision {
    let request = Request {
        delivery,
        lines,
        timing: Timing {
            now: now(),
            promise_by,
        },
    };
    route(&request, nodes, stock, rules, model)
}

/// The candidate row of `node` in a decision's explanation.
fn candidate<'d>(decision: &'d Decision, node: &str) -> &'d Candidate {
    decision
        .candidates
        .iter()
        .find(|c| c.location_id.as_str() == node)
        .unwrap_or_else(|| panic!("{node} is not a candidate"))
}

fn chosen_nodes(decision: &Decision) -> Vec<&str> {
    decision
        .chosen
        .as_ref()
        .map(|p| p.parts.iter().map(|part| part.location_id.as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn the_nearest_node_with_every_line_in_stock_wins() {
    let nodes = [
        node("BERLIN", 52.5, 13.4, "ship,pickup"),
        node("HAMBURG", 53.55, 10.0, "ship"),
    ];
    let stock = stock(&[("BERLIN", "A", 1), ("HAMBURG", "A", 5)]);
    let decision = decide(&ship_to_berlin(), &[line("A", 2)], &nodes, &stock, &[]);
    assert_eq!(chosen_nodes(&decision), ["HAMBURG"]);
    let berlin = candidate(&decision, "BERLIN");
    assert_eq!(berlin.reason.as_deref(), Some("short: A 1/2"));
}

#[test]
fn two_lines_on_one_sku_are_summed_before_the_stock_check() {
    let nodes = [node("BERLIN", 52.5, 13.4, "ship")];
    let stock = stock(&[("BERLIN", "A", 2)]);
    assert!(
        decide(
            &ship_to_berlin(),
            &[line("A", 1), line("A", 2)],
            &nodes,
            &stock,
            &[]
        )
        .chosen
        .is_none()
    );
}

#[test]
fn pickup_only_considers_the_chosen_store_and_never_splits() {
    let nodes = [
        node("BERLIN", 52.5, 13.4, "ship,pickup"),
        node("POTSDAM", 52.4, 13.06, "ship,pickup"),
    ];
    let stock = stock(&[("BERLIN", "A", 1), ("POTSDAM", "A", 9), ("POTSDAM", "B", 9)]);
    let delivery = Delivery::Pickup {
        location_id: LocationId::parse("BERLIN").unwrap(),
    };
    let decision = decide(&delivery, &[line("A", 1), line("B", 1)], &nodes, &stock, &[]);
    assert!(decision.chosen.is_none(), "{decision:?}");
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
    let stock = stock(&[("BERLIN", "A", 5), ("POTSDAM", "A", 5), ("HAMBURG", "A", 5)]);
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
    let decision = decide(&ship_to_berlin(), &lines, &nodes, &stock, &web);
    assert_eq!(chosen_nodes(&decision), ["BERLIN"]);
    assert!(decision.rule.contains("`close-only`"), "{}", decision.rule);
    let hamburg = candidate(&decision, "HAMBURG");
    assert_eq!(
        hamburg.reason.as_deref(),
        Some("farther than 100 km (routing rule `close-only`)")
    );

    // A marketplace order: the flagship is out, Potsdam is next.
    let marketplace = applicable(&rules, Channel::Marketplace, &ship_to_berlin(), &lines);
    let decision = decide(&ship_to_berlin(), &lines, &nodes, &stock, &marketplace);
    assert_eq!(chosen_nodes(&decision), ["POTSDAM"]);
    let berlin = candidate(&decision, "BERLIN");
    assert_eq!(
        berlin.reason.as_deref(),
        Some("excluded by routing rule `no-flagship`")
    );

    // A preference makes a farther node cheaper; the disabled one never applies.
    assert!(
        applicable(&rules, Channel::Web, &ship_to_berlin(), &lines)
            .iter()
            .all(|r| r.id.as_str() != "dc-first")
    );
    let prefer = [rule(serde_json::json!({ "id": "dc-first",
        "effect": { "prefer": { "locations": ["HAMBURG"], "bonus_km": 1000 } } }))];
    let preferred = applicable(&prefer, Channel::Web, &ship_to_berlin(), &lines);
    let decision = decide(&ship_to_berlin(), &lines, &nodes, &stock, &preferred);
    assert_eq!(chosen_nodes(&decision), ["HAMBURG"]);
    let part = &decision.chosen.unwrap().parts[0];
    assert!(
        part.cost.shipping > 1000.0,
        "the true distance is costed: {:?}",
        part.cost
    );
    assert_eq!(
        part.cost.preference, -5000.0,
        "1000 km × 5 per km, as a negative cost"
    );
    assert!(
        decision.candidates[0].distance_km > 200.0,
        "the true distance is kept"
    );
}

// One test per cost term: each moves the decision on its own.

fn berlin_and_potsdam() -> [Node; 2] {
    [
        node("BERLIN", 52.5, 13.4, "ship"),
        node("POTSDAM", 52.4, 13.06, "ship"),
    ]
}

#[test]
fn shipping_costs_the_distance_times_the_cost_per_km() {
    let model = CostModel::default();
    let timing = Timing {
        now: now(),
        promise_by: None,
    };
    let potsdam = &berlin_and_potsdam()[1];
    let Fit::Fits(terms) = part_cost(&model, &timing, potsdam, Some(25.0), 0.0, 1) else {
        panic!("no capacity limit");
    };
    assert_eq!(terms.shipping, 125.0);
    assert_eq!(terms.total, 125.0);
    // Collected at the store: no shipping.
    let Fit::Fits(terms) = part_cost(&model, &timing, potsdam, None, 0.0, 1) else {
        panic!()
    };
    assert_eq!(terms.shipping, 0.0);
}

#[test]
fn capacity_used_today_makes_a_busy_node_cost_more_and_a_full_one_ineligible() {
    let mut nodes = berlin_and_potsdam();
    // Berlin is nearer but has used 80 of its 100 units today; Potsdam is idle.
    nodes[0].pick_capacity = Some(100);
    nodes[0].picked_today = 80;
    nodes[1].pick_capacity = Some(100);
    let stock = stock(&[("BERLIN", "A", 50), ("POTSDAM", "A", 50)]);
    let decision = decide(&ship_to_berlin(), &[line("A", 5)], &nodes, &stock, &[]);
    let berlin = candidate(&decision, "BERLIN");
    assert_eq!(berlin.cost.unwrap().capacity, 850.0, "85 % of a full day's 1000");
    assert_eq!(chosen_nodes(&decision), ["POTSDAM"], "{:?}", decision.candidates);
    assert_eq!(decision.chosen.unwrap().parts[0].cost.capacity, 50.0);

    // Full: the order moves to the next node, and the explanation says why.
    nodes[0].picked_today = 98;
    let decision = decide(&ship_to_berlin(), &[line("A", 5)], &nodes, &stock, &[]);
    let berlin = candidate(&decision, "BERLIN");
    assert_eq!(
        berlin.reason.as_deref(),
        Some("pick capacity left today: 2 units, the order needs 5")
    );
    assert_eq!(chosen_nodes(&decision), ["POTSDAM"]);
}

#[test]
fn the_last_capacity_of_a_node_goes_to_the_earliest_deadlines() {
    let mut nodes = berlin_and_potsdam();
    nodes[0].pick_capacity = Some(100);
    nodes[0].picked_today = 88; // 12 left; the last 10 are kept for urgent orders
    let stock = stock(&[("BERLIN", "A", 50), ("POTSDAM", "A", 50)]);
    let model = CostModel {
        full_day: 0.0,
        ..CostModel::default()
    };
    let lines = [line("A", 5)];
    // Promised in three days: not urgent, so Berlin keeps its last units.
    let later = decide_with(
        &ship_to_berlin(),
        &lines,
        &nodes,
        &stock,
        &[],
        &model,
        Some(now() + Duration::days(3)),
    );
    assert_eq!(chosen_nodes(&later), ["POTSDAM"]);
    let berlin = candidate(&later, "BERLIN");
    assert_eq!(
        berlin.reason.as_deref(),
        Some("its last 12 units of pick capacity today are kept for urgent orders")
    );
    // Promised tonight: urgent, Berlin takes it.
    let tonight = decide_with(
        &ship_to_berlin(),
        &lines,
        &nodes,
        &stock,
        &[],
        &model,
        Some(now() + Duration::hours(12)),
    );
    assert_eq!(chosen_nodes(&tonight), ["BERLIN"]);
}

#[test]
fn deadline_risk_counts_the_hours_a_node_is_expected_to_be_late() {
    let mut nodes = berlin_and_potsdam();
    // A warehouse takes a day to get an order ready; a store two hours.
    nodes[0].kind = LocationKind::Warehouse;
    let stock = stock(&[("BERLIN", "A", 50), ("POTSDAM", "A", 50)]);
    let lines = [line("A", 1)];
    let promise = now() + Duration::hours(6);
    let decision = decide_with(
        &ship_to_berlin(),
        &lines,
        &nodes,
        &stock,
        &[],
        &CostModel::default(),
        Some(promise),
    );
    let berlin = candidate(&decision, "BERLIN");
    // 24 h handling + ~0 h transit − 6 h left ≈ 18 h late × 200.
    let risk = berlin.cost.unwrap().deadline_risk;
    assert!((3600.0..3620.0).contains(&risk), "{risk}");
    assert_eq!(chosen_nodes(&decision), ["POTSDAM"]);
    // Without a promise there is no risk, and the nearer warehouse wins.
    let decision = decide(&ship_to_berlin(), &lines, &nodes, &stock, &[]);
    assert_eq!(chosen_nodes(&decision), ["BERLIN"]);
}

#[test]
fn an_order_no_single_node_can_serve_is_split_and_each_part_holds_its_own_lines() {
    let nodes = [
        node("BERLIN", 52.5, 13.4, "ship"),
        node("POTSDAM", 52.4, 13.06, "ship"),
        node("HAMBURG", 53.55, 10.0, "ship"),
    ];
    let stock = stock(&[("BERLIN", "A", 5), ("POTSDAM", "B", 5), ("HAMBURG", "B", 5)]);
    let decision = decide(
        &ship_to_berlin(),
        &[line("A", 2), line("B", 1)],
        &nodes,
        &stock,
        &[],
    );
    let plan = decision.chosen.clone().unwrap();
    assert_eq!(chosen_nodes(&decision), ["BERLIN", "POTSDAM"]);
    assert_eq!(plan.parts[0].lines[0].sku.as_str(), "A");
    assert_eq!(plan.parts[0].lines[0].quantity.get(), 2);
    assert_eq!(plan.parts[1].lines[0].sku.as_str(), "B");
    assert_eq!(plan.split_penalty, 600.0);
    let parts: f64 = plan.parts.iter().map(|p| p.cost.total).sum();
    assert!((plan.total - (parts + 600.0)).abs() < 0.01);
    assert!(
        decision.rule.contains("no single node can serve every line"),
        "{}",
        decision.rule
    );
    // The dearer alternative (Hamburg for B) is in the explanation too.
    assert!(decision.plans.len() >= 2);
    assert!(
        decision.plans[1]
            .parts
            .iter()
            .any(|p| p.location_id.as_str() == "HAMBURG")
    );
    assert!(decision.plans.windows(2).all(|w| w[0].total <= w[1].total));

    // Never split: nothing can serve it.
    let never = CostModel {
        max_splits: 0,
        ..CostModel::default()
    };
    let decision = decide_with(
        &ship_to_berlin(),
        &[line("A", 2), line("B", 1)],
        &nodes,
        &stock,
        &[],
        &never,
        None,
    );
    assert!(decision.chosen.is_none());
}

#[test]
fn a_split_wins_over_a_far_single_node_only_when_it_costs_less_with_its_penalty() {
    let nodes = [
        node("BERLIN", 52.5, 13.4, "ship"),
        node("POTSDAM", 52.4, 13.06, "ship"),
        node("MUNICH", 48.14, 11.58, "ship"),
    ];
    let stock = stock(&[
        ("BERLIN", "A", 5),
        ("POTSDAM", "B", 5),
        ("MUNICH", "A", 5),
        ("MUNICH", "B", 5),
    ]);
    let lines = [line("A", 1), line("B", 1)];
    // Munich is ~500 km away: 2500 to ship, against 600 for the split.
    let decision = decide(&ship_to_berlin(), &lines, &nodes, &stock, &[]);
    assert_eq!(chosen_nodes(&decision), ["BERLIN", "POTSDAM"]);
    assert!(
        decision.rule.contains("cheaper than any single node"),
        "{}",
        decision.rule
    );
    // With a split penalty above the distance, the single node wins.
    let dear = CostModel {
        split_penalty: 5000.0,
        ..CostModel::default()
    };
    let decision = decide_with(&ship_to_berlin(), &lines, &nodes, &stock, &[], &dear, None);
    assert_eq!(chosen_nodes(&decision), ["MUNICH"]);
}

#[test]
fn no_split_goes_beyond_max_splits() {
    let nodes: Vec<Node> = ["N1", "N2", "N3", "N4"]
        .iter()
        .enumerate()
        .map(|(i, id)| node(id, 52.5 + i as f64 * 0.01, 13.4, "ship"))
        .collect();
    let stock = stock(&[("N1", "A", 1), ("N2", "B", 1), ("N3", "C", 1), ("N4", "D", 1)]);
    let lines = [line("A", 1), line("B", 1), line("C", 1), line("D", 1)];
    let three = CostModel {
        max_splits: 2,
        ..CostModel::default()
    };
    assert!(
        decide_with(&ship_to_berlin(), &lines, &nodes, &stock, &[], &three, None)
            .chosen
            .is_none()
    );
    let four = CostModel {
        max_splits: 3,
        ..CostModel::default()
    };
    let decision = decide_with(&ship_to_berlin(), &lines, &nodes, &stock, &[], &four, None);
    assert_eq!(decision.chosen.unwrap().parts.len(), 4);
}

#[test]
fn many_skus_are_split_greedily_and_still_cover_every_line() {
    // Twelve SKUs, more than the exact search tries: six at each of two nodes.
    let nodes = berlin_and_potsdam();
    let mut entries = Vec::new();
    let skus: Vec<String> = (0..12).map(|i| format!("SKU-{i:02}")).collect();
    for (i, sku) in skus.iter().enumerate() {
        entries.push((if i % 2 == 0 { "BERLIN" } else { "POTSDAM" }, sku.as_str(), 3));
    }
    let stock = stock(&entries);
    let lines: Vec<OrderLine> = skus.iter().map(|s| line(s, 1)).collect();
    let decision = decide(&ship_to_berlin(), &lines, &nodes, &stock, &[]);
    let plan = decision.chosen.unwrap();
    assert_eq!(plan.parts.len(), 2);
    let covered: usize = plan.parts.iter().map(|p| p.lines.len()).sum();
    assert_eq!(covered, 12);
}

/// Whatever the stock, the chosen plan covers every SKU exactly once with its whole quantity, from nodes that hold
/// it, no node twice, within max_splits; its total is its parts plus the split penalty; and when nothing is
/// chosen, no single node holds everything either. Seeded random cases, so a failure names its seed.
#[test]
fn a_chosen_plan_covers_every_line_once_from_stock_it_has() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let nodes: Vec<Node> = (0..6)
        .map(|i| node(&format!("N{i}"), 52.0 + f64::from(i) * 0.1, 13.0, "ship"))
        .collect();
    for seed in 0..500u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut stock = Stock::default();
        for _ in 0..rng.random_range(0..30) {
            let units = rng.random_range(0..4);
            stock.set(
                &format!("N{}", rng.random_range(0..6)),
                &format!("S{}", rng.random_range(0..5)),
                units,
            );
        }
        let mut wanted = std::collections::BTreeMap::new();
        for _ in 0..rng.random_range(1..5) {
            wanted.insert(format!("S{}", rng.random_range(0..5)), rng.random_range(1..3i64));
        }
        let lines: Vec<OrderLine> = wanted.iter().map(|(s, q)| line(s, *q)).collect();
        let max_splits = rng.random_range(0..3u32);
        let model = CostModel {
            max_splits,
            ..CostModel::default()
        };
        let decision = decide_with(&ship_to_berlin(), &lines, &nodes, &stock, &[], &model, None);
        let Some(plan) = decision.chosen else {
            assert!(decision.candidates.iter().all(|c| !c.eligible), "seed {seed}");
            continue;
        };
        assert!(plan.parts.len() <= max_splits as usize + 1, "seed {seed}");
        let mut seen = std::collections::BTreeSet::new();
        for part in &plan.parts {
            assert!(seen.insert(part.location_id.clone()), "seed {seed}: a node twice");
            for l in &part.lines {
                assert!(
                    stock.units(part.location_id.as_str(), l.sku.as_str()) >= i64::from(l.quantity.get()),
                    "seed {seed}"
                );
            }
        }
        let mut served: Vec<(String, i64)> = plan
            .parts
            .iter()
            .flat_map(|p| {
                p.lines
                    .iter()
                    .map(|l| (l.sku.to_string(), i64::from(l.quantity.get())))
            })
            .collect();
        served.sort();
        let asked: Vec<(String, i64)> = wanted.into_iter().collect();
        assert_eq!(served, asked, "seed {seed}");
        let parts: f64 = plan.parts.iter().map(|p| p.cost.total).sum();
        assert!(
            (plan.total - parts - plan.split_penalty).abs() < 0.02,
            "seed {seed}"
        );
    }
}

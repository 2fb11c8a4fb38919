use chrono::TimeZone;
use serde_json::json;

use super::*;

fn rule(value: serde_json::Value) -> CompiledPolicy {
    let spec: PolicySpec = serde_json::from_value(value).unwrap();
    CompiledPolicy::new(spec, 1).unwrap()
}

fn spec(value: serde_json::Value) -> PolicySpec {
    serde_json::from_value(value).unwrap()
}

/// "Hide the last 2 units of `high-demand` SKUs from web and marketplaces, 3 when a storm is forecast there."
fn storm_example() -> PolicySet {
    PolicySet::new(vec![
        rule(
            json!({"id": "last-units", "when": {"sku_tags": ["high-demand"], "channels": ["web", "marketplace"]},
                    "effect": {"hold_back": {"units": 2}}}),
        ),
        rule(
            json!({"id": "storm", "when": {"sku_tags": ["high-demand"], "channels": ["web", "marketplace"],
                    "weather": ["storm"]}, "effect": {"hold_back": {"units": 3}}}),
        ),
    ])
}

fn store(weather: Option<WeatherCondition>) -> LocationFacts {
    LocationFacts {
        id: LocationId::parse("STORE-1").unwrap(),
        region: Some("berlin".into()),
        timezone: timezone("Europe/Berlin"),
        weather: weather.map(|w| (w, None)),
    }
}

fn noon_utc() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

struct Item {
    sku: Sku,
    tags: Vec<String>,
    sold: BTreeMap<u32, i64>,
}

impl Item {
    fn new(tags: &[&str]) -> Self {
        Self {
            sku: Sku::parse("SNEAKER-42").unwrap(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            sold: BTreeMap::new(),
        }
    }

    fn facts(&self) -> SkuFacts<'_> {
        SkuFacts {
            sku: &self.sku,
            tags: &self.tags,
            sold: &self.sold,
        }
    }
}

fn withheld(
    set: &PolicySet,
    item: &Item,
    location: &LocationFacts,
    caller: Caller,
    now: DateTime<Utc>,
) -> i64 {
    set.withheld(&item.facts(), location, &caller, 10, now).units
}

#[test]
fn the_storm_example_hides_two_units_and_three_in_a_storm() {
    let set = storm_example();
    let item = Item::new(&["high-demand"]);
    let web = Caller::standard(Channel::Web);
    assert_eq!(withheld(&set, &item, &store(None), web, noon_utc()), 2);
    let stormy = set.withheld(
        &item.facts(),
        &store(Some(WeatherCondition::Storm)),
        &web,
        10,
        noon_utc(),
    );
    assert_eq!(stormy.units, 3, "hold-backs do not add up: the larger wins");
    assert_eq!(stormy.rules.len(), 1);
    assert_eq!(stormy.rules[0].id.as_str(), "storm");
    assert_eq!(stormy.available(4), 1);
    assert_eq!(stormy.available(2), 0, "never below zero");
    assert_eq!(
        withheld(
            &set,
            &item,
            &store(Some(WeatherCondition::Storm)),
            Caller::standard(Channel::Pos),
            noon_utc()
        ),
        0,
        "the till sells everything"
    );
    assert_eq!(
        withheld(&set, &Item::new(&["apparel"]), &store(None), web, noon_utc()),
        0,
        "other SKUs are untouched"
    );
}

#[test]
fn an_expired_weather_signal_no_longer_matches() {
    let set = storm_example();
    let mut location = store(None);
    location.weather = Some((WeatherCondition::Storm, Some(noon_utc())));
    let item = Item::new(&["high-demand"]);
    let web = Caller::standard(Channel::Web);
    assert_eq!(
        withheld(
            &set,
            &item,
            &location,
            web,
            noon_utc() - chrono::Duration::minutes(1)
        ),
        3
    );
    assert_eq!(withheld(&set, &item, &location, web, noon_utc()), 2);
}

#[test]
fn a_higher_priority_rule_overrides_even_with_zero() {
    let mut policies = storm_example().iter().cloned().collect::<Vec<_>>();
    policies.push(rule(
        json!({"id": "clearance", "priority": 10, "when": {"skus": ["SNEAKER-42"]},
                              "effect": {"hold_back": {"units": 0}}}),
    ));
    let set = PolicySet::new(policies);
    let w = set.withheld(
        &Item::new(&["high-demand"]).facts(),
        &store(Some(WeatherCondition::Storm)),
        &Caller::standard(Channel::Web),
        10,
        noon_utc(),
    );
    assert_eq!(w.units, 0);
    assert!(
        w.rules.is_empty(),
        "a zero hold-back withholds nothing, so it is not listed"
    );
}

#[test]
fn percentages_are_of_on_hand_rounded_up() {
    let set = PolicySet::new(vec![rule(
        json!({"id": "ten-percent", "effect": {"hold_back": {"percent": 10}}}),
    )]);
    let item = Item::new(&[]);
    let w = |on_hand| {
        set.withheld(
            &item.facts(),
            &store(None),
            &Caller::standard(Channel::Web),
            on_hand,
            noon_utc(),
        )
        .units
    };
    assert_eq!(w(25), 3);
    assert_eq!(w(20), 2);
    assert_eq!(w(0), 0);
}

#[test]
fn ring_fences_are_kept_from_everyone_but_their_segment_and_add_up_across_segments() {
    let set = PolicySet::new(vec![
        rule(json!({"id": "vip", "effect": {"ring_fence": {"segment": "vip", "amount": {"units": 3}}}})),
        rule(
            json!({"id": "vip-small", "effect": {"ring_fence": {"segment": "vip", "amount": {"units": 1}}}}),
        ),
        rule(json!({"id": "curbside", "when": {"channels": ["web"]},
                    "effect": {"ring_fence": {"segment": "curbside", "amount": {"units": 2}}}})),
        rule(json!({"id": "buffer", "effect": {"hold_back": {"units": 1}}})),
    ]);
    let item = Item::new(&[]);
    let at = |caller: Caller| {
        set.withheld(&item.facts(), &store(None), &caller, 10, noon_utc())
            .units
    };
    assert_eq!(at(Caller::standard(Channel::Web)), 1 + 3 + 2);
    let vip = Caller {
        channel: Channel::Web,
        tier: CustomerTier::Vip,
        segment: None,
    };
    assert_eq!(at(vip), 1 + 2, "a VIP may buy the VIP units");
    let curbside = Caller {
        segment: Some(Segment::Curbside),
        ..Caller::standard(Channel::Web)
    };
    assert_eq!(at(curbside), 1 + 3);
    assert_eq!(
        at(Caller::standard(Channel::App)),
        1 + 3,
        "the curbside fence is on web only"
    );
}

#[test]
fn a_time_window_is_local_and_may_span_midnight() {
    let set = PolicySet::new(vec![rule(
        json!({"id": "night", "when": {"local_time": {"from": "22:00", "to": "06:00"}},
                                             "effect": {"hold_back": {"units": 1}}}),
    )]);
    let item = Item::new(&[]);
    let berlin = store(None);
    let at = |h, m| {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap();
        withheld(&set, &item, &berlin, Caller::standard(Channel::Web), now)
    };
    // Berlin is UTC+1 in November.
    assert_eq!(at(20, 59), 0);
    assert_eq!(at(21, 0), 1, "22:00 in Berlin");
    assert_eq!(at(3, 0), 1);
    assert_eq!(at(5, 0), 0, "06:00 in Berlin is the end, excluded");
    let before = set.scheduled_state(&berlin, Utc.with_ymd_and_hms(2026, 11, 23, 20, 59, 0).unwrap());
    let after = set.scheduled_state(&berlin, Utc.with_ymd_and_hms(2026, 11, 23, 21, 0, 0).unwrap());
    assert!(before.is_empty());
    assert_eq!(after.len(), 1, "the window opening changes the scheduled state");
}

#[test]
fn a_date_range_includes_both_ends_in_local_dates() {
    let set = PolicySet::new(vec![rule(
        json!({"id": "season", "when": {"dates": {"from": "2026-11-27", "to": "2026-11-30"}},
                                             "effect": {"hold_back": {"units": 1}}}),
    )]);
    let item = Item::new(&[]);
    let at = |d, h| {
        let now = Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        withheld(&set, &item, &store(None), Caller::standard(Channel::Web), now)
    };
    assert_eq!(at(26, 22), 0);
    assert_eq!(at(26, 23), 1, "midnight in Berlin starts the 27th");
    assert_eq!(at(30, 22), 1);
    assert_eq!(at(30, 23), 0);
}

#[test]
fn velocity_counts_units_sold_in_the_window() {
    let set = PolicySet::new(vec![rule(
        json!({"id": "hot", "when": {"velocity": {"window_minutes": 60, "units": 5}},
                                             "effect": {"hold_back": {"units": 2}}}),
    )]);
    assert_eq!(set.velocity_windows().into_iter().collect::<Vec<_>>(), vec![60]);
    let mut item = Item::new(&[]);
    item.sold.insert(60, 4);
    assert_eq!(
        withheld(
            &set,
            &item,
            &store(None),
            Caller::standard(Channel::Web),
            noon_utc()
        ),
        0
    );
    item.sold.insert(60, 5);
    assert_eq!(
        withheld(
            &set,
            &item,
            &store(None),
            Caller::standard(Channel::Web),
            noon_utc()
        ),
        2
    );
}

#[test]
fn regions_tiers_and_disabled_rules() {
    let set = PolicySet::new(vec![
        rule(json!({"id": "north", "when": {"regions": ["north"]}, "effect": {"hold_back": {"units": 5}}})),
        rule(
            json!({"id": "standard-only", "when": {"customer_tiers": ["standard"]}, "effect": {"hold_back": {"units": 1}}}),
        ),
        rule(json!({"id": "off", "enabled": false, "effect": {"hold_back": {"units": 9}}})),
    ]);
    let item = Item::new(&[]);
    assert_eq!(
        withheld(
            &set,
            &item,
            &store(None),
            Caller::standard(Channel::Web),
            noon_utc()
        ),
        1
    );
    let vip = Caller {
        tier: CustomerTier::Vip,
        ..Caller::standard(Channel::Web)
    };
    assert_eq!(withheld(&set, &item, &store(None), vip, noon_utc()), 0);
    let mut north = store(None);
    north.region = Some("north".into());
    assert_eq!(
        withheld(&set, &item, &north, Caller::standard(Channel::Web), noon_utc()),
        5
    );
}

#[test]
fn rules_that_cannot_match_or_contradict_themselves_are_refused_by_field() {
    let refused = |v: serde_json::Value| CompiledPolicy::new(spec(v), 1).unwrap_err().0;
    let effect = json!({"hold_back": {"units": 1}});
    assert!(
        refused(json!({"id": "a", "when": {"channels": []}, "effect": effect})).starts_with("when.channels")
    );
    assert!(
        refused(
            json!({"id": "a", "when": {"local_time": {"from": "10:00", "to": "10:00"}}, "effect": effect})
        )
        .starts_with("when.local_time")
    );
    assert!(
        refused(
            json!({"id": "a", "when": {"local_time": {"from": "25:00", "to": "10:00"}}, "effect": effect})
        )
        .starts_with("when.local_time.from")
    );
    assert!(refused(json!({"id": "a", "when": {"dates": {"from": "2026-12-01", "to": "2026-11-01"}}, "effect": effect}))
        .starts_with("when.dates"));
    assert!(
        refused(
            json!({"id": "a", "when": {"velocity": {"window_minutes": 0, "units": 1}}, "effect": effect})
        )
        .starts_with("when.velocity.window_minutes")
    );
    assert!(
        refused(json!({"id": "a", "effect": {"hold_back": {"percent": 101}}}))
            .starts_with("effect.hold_back.percent")
    );
    assert!(
        refused(json!({"id": "a", "effect": {"ring_fence": {"segment": "vip", "amount": {"units": 0}}}}))
            .starts_with("effect.ring_fence.amount.units")
    );
    assert!(
        refused(json!({"id": "a", "when": {"customer_tiers": ["vip"]},
                          "effect": {"ring_fence": {"segment": "vip", "amount": {"units": 1}}}}))
        .starts_with("when.customer_tiers")
    );
    assert!(refused(json!({"id": "a", "priority": 5000, "effect": effect})).starts_with("priority"));
    // Two amounts at once do not even parse.
    assert!(
        serde_json::from_value::<PolicySpec>(
            json!({"id": "a", "effect": {"hold_back": {"units": 1, "percent": 5}}})
        )
        .is_err()
    );
}

#[test]
fn rules_naming_what_the_catalog_does_not_have_are_refused() {
    let skus = BTreeMap::from([
        ("SNEAKER-42".to_owned(), vec!["high-demand".to_owned()]),
        ("CAP".to_owned(), vec!["accessories".to_owned()]),
    ]);
    let locations = BTreeMap::from([
        ("STORE-1".to_owned(), Some("berlin".to_owned())),
        ("WH".to_owned(), None),
    ]);
    let reach = |v| check_reachable(&spec(v), &skus, &locations);
    let effect = json!({"hold_back": {"units": 1}});
    assert!(
        reach(json!({"id": "a", "when": {"skus": ["NOPE"]}, "effect": effect}))
            .unwrap_err()
            .0
            .starts_with("when.skus[0]")
    );
    assert!(
        reach(json!({"id": "a", "when": {"locations": ["STORE-1", "NOPE"]}, "effect": effect}))
            .unwrap_err()
            .0
            .starts_with("when.locations[1]")
    );
    assert!(
        reach(json!({"id": "a", "when": {"skus": ["CAP"], "sku_tags": ["high-demand"]}, "effect": effect}))
            .unwrap_err()
            .0
            .starts_with("when.sku_tags")
    );
    assert!(
        reach(json!({"id": "a", "when": {"locations": ["WH"], "regions": ["berlin"]}, "effect": effect}))
            .unwrap_err()
            .0
            .starts_with("when.regions")
    );
    assert!(
        reach(
            json!({"id": "a", "when": {"sku_tags": ["high-demand"], "regions": ["berlin"]}, "effect": effect})
        )
        .is_ok()
    );
}

#[test]
fn changed_rules_are_found_between_two_sets() {
    let before = storm_example();
    let mut policies: Vec<CompiledPolicy> = before
        .iter()
        .filter(|p| p.spec.id.as_str() != "storm")
        .cloned()
        .collect();
    policies.push(rule(json!({"id": "new", "effect": {"hold_back": {"units": 1}}})));
    let after = PolicySet::new(policies);
    let mut ids: Vec<&str> = after
        .changed_since(&before)
        .iter()
        .map(|p| p.spec.id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["new", "storm"]);
}

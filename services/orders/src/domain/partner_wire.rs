//! The fast reading of a partner order: straight from the bytes into typed fields, checking the published schema's
//! rules as it goes, with no JSON tree in between. It accepts only what the schema accepts, and a little less (an
//! integer written `1.0`, a `t` or a space in a timestamp, a leap second, a duplicate key): anything it does not
//! accept is read the slow way, against the schema itself, which decides and names the problems
//! ([`super::partner_schema::parse`]). A test compares both readings on the examples and on hundreds of mutations
//! of them.
//!
//! Reading a partner order through a `serde_json::Value`, checking that tree against the schema and converting it
//! was a third of the orders service's CPU during intake.

use chrono::{DateTime, Utc};
use omni_contracts::api::{
    Customer, CustomerTier, Delivery, Latitude, Longitude, OrderLine, PartnerOrder, Tender, UnitPrice,
};
use omni_contracts::{Currency, CustomerId, LocationId, PartnerId, Quantity, Sku};
use serde::Deserialize;

/// The order as the schema lays it out; every field as the JSON has it. Text is borrowed from the message: a string
/// with an escape in it does not read as a `&str`, and such a (rare) order is read the slow way.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOrder<'a> {
    partner_id: &'a str,
    partner_order_id: &'a str,
    placed_at: &'a str,
    currency: &'a str,
    #[serde(borrow)]
    customer: WireCustomer<'a>,
    #[serde(borrow)]
    lines: Vec<WireLine<'a>>,
    total_minor: i64,
    #[serde(borrow)]
    delivery: WireDelivery<'a>,
    promise_by: &'a str,
    #[serde(borrow)]
    tenders: Vec<WireTender<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCustomer<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a str>,
    tier: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLine<'a> {
    sku: &'a str,
    quantity: i64,
    unit_price_minor: i64,
}

/// Both shapes of `delivery` in one: which fields it must and must not have depends on `type`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDelivery<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default, deserialize_with = "present")]
    lat: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    lon: Option<f64>,
    #[serde(default, borrow, deserialize_with = "present")]
    location_id: Option<&'a str>,
}

/// Both shapes of a tender in one, likewise.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTender<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default, borrow, deserialize_with = "present")]
    token: Option<&'a str>,
    #[serde(default, deserialize_with = "present")]
    amount_minor: Option<i64>,
}

/// An optional field that, when present, must have a value: `null` is not a string or a number to the schema.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The order, if the fast reading accepts it; `None` sends it to the schema.
pub fn read(body: &[u8]) -> Option<PartnerOrder> {
    let wire: WireOrder = serde_json::from_slice(body).ok()?;
    let lines = (1..=100).contains(&wire.lines.len()).then_some(wire.lines)?;
    let tenders = (1..=omni_contracts::api::MAX_TENDERS)
        .contains(&wire.tenders.len())
        .then_some(wire.tenders)?;
    let partner_order_id = (1..=128)
        .contains(&wire.partner_order_id.chars().count())
        .then(|| wire.partner_order_id.to_owned())?;
    let currency = wire.currency.as_bytes();
    if !(currency.len() == 3 && currency.iter().all(u8::is_ascii_uppercase)) {
        return None;
    }
    Some(PartnerOrder {
        partner_id: PartnerId::parse(code(wire.partner_id)?).ok()?,
        partner_order_id,
        placed_at: timestamp(wire.placed_at)?,
        currency: Currency::parse(wire.currency).ok()?,
        customer: Customer {
            id: match wire.customer.id {
                Some(id) => Some(CustomerId::parse(code(id)?).ok()?),
                None => None,
            },
            tier: match wire.customer.tier {
                "standard" => CustomerTier::Standard,
                "vip" => CustomerTier::Vip,
                _ => return None,
            },
        },
        lines: lines.iter().map(line).collect::<Option<_>>()?,
        total_minor: (wire.total_minor >= 0).then_some(wire.total_minor)?,
        delivery: delivery(&wire.delivery)?,
        promise_by: timestamp(wire.promise_by)?,
        tenders: tenders.into_iter().map(tender).collect::<Option<_>>()?,
    })
}

/// The schema's `code`: 1 to 64 of `A-Z a-z 0-9 . _ -`.
fn code(raw: &str) -> Option<&str> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then_some(raw)
}

fn line(wire: &WireLine) -> Option<OrderLine> {
    if !(1..=1_000_000).contains(&wire.quantity) || !(0..=1_000_000_000_000).contains(&wire.unit_price_minor)
    {
        return None;
    }
    Some(OrderLine {
        sku: Sku::parse(code(wire.sku)?).ok()?,
        quantity: Quantity::new(wire.quantity).ok()?,
        unit_price_minor: UnitPrice::new(wire.unit_price_minor).ok()?,
    })
}

fn delivery(wire: &WireDelivery) -> Option<Delivery> {
    let store = || match (wire.lat, wire.lon, wire.location_id) {
        (None, None, Some(id)) => LocationId::parse(code(id)?).ok(),
        _ => None,
    };
    match wire.kind {
        "ship" => match (wire.lat, wire.lon, wire.location_id) {
            (Some(lat), Some(lon), None)
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
            {
                Some(Delivery::Ship {
                    lat: Latitude::new(lat).ok()?,
                    lon: Longitude::new(lon).ok()?,
                })
            }
            _ => None,
        },
        "pickup" => Some(Delivery::Pickup {
            location_id: store()?,
        }),
        "curbside" => Some(Delivery::Curbside {
            location_id: store()?,
        }),
        _ => None,
    }
}

fn tender(wire: WireTender) -> Option<Tender> {
    let amount_minor = match wire.amount_minor {
        Some(amount) => Some((1..=1_000_000_000_000_000).contains(&amount).then_some(amount)?),
        None => None,
    };
    match (wire.kind, wire.token) {
        ("marketplace_prepaid", None) => Some(Tender::MarketplacePrepaid { amount_minor }),
        ("card", Some(token)) => omni_contracts::card_data::is_vault_token(token).then(|| Tender::Card {
            token: token.to_owned(),
            amount_minor,
        }),
        _ => None,
    }
}

/// `2026-11-24T09:30:00Z`, `2026-11-24T09:30:00.123+01:00`: RFC 3339 with an upper-case `T` and `Z`, one to nine
/// fraction digits and no leap second (anything else goes to the schema).
fn timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let b = raw.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, c)| b.get(at) == Some(&c)) {
        return None;
    }
    let (month, day, hour, minute, second) = (
        digits(5..7)?,
        digits(8..10)?,
        digits(11..13)?,
        digits(14..16)?,
        digits(17..19)?,
    );
    digits(0..4)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let fraction = b.get(at + 1..)?.iter().take_while(|d| d.is_ascii_digit()).count();
        if !(1..=9).contains(&fraction) {
            return None;
        }
        at += 1 + fraction;
    }
    match b.get(at..)? {
        [b'Z'] => {}
        [b'+' | b'-', _, _, b':', _, _] => {
            if digits(at + 1..at + 3)? > 23 || digits(at + 4..at + 6)? > 59 {
                return None;
            }
        }
        _ => return None,
    }
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::partner_schema::against_schema;

    fn examples() -> Vec<Value> {
        let dir = format!("{}/../../docs/schemas/examples", env!("CARGO_MANIFEST_DIR"));
        let mut examples = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                examples.push(
                    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                );
            }
        }
        assert!(
            examples.len() >= 3,
            "the examples cover ship, pickup and curbside"
        );
        examples
    }

    /// Values put in place of every field: each type, each limit of the schema and just past it, and timestamps
    /// RFC 3339 allows and does not.
    fn replacements() -> Vec<Value> {
        let mut values = vec![
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(1),
            json!(1.0),
            json!(1.5),
            json!(1e3),
            json!(-0.0),
            json!(90),
            json!(90.000001),
            json!(-180),
            json!(-180.5),
            json!(1_000_000),
            json!(1_000_001),
            json!(1_000_000_000_000_i64),
            json!(1_000_000_000_001_i64),
            json!(u64::MAX),
            json!(""),
            json!("x"),
            json!("A".repeat(64)),
            json!("A".repeat(65)),
            json!("é".repeat(128)),
            json!("é".repeat(129)),
            json!("a b"),
            json!("EUR"),
            json!("eur"),
            json!("EURO"),
            json!("ship"),
            json!("pickup"),
            json!("curbside"),
            json!("card"),
            json!("marketplace_prepaid"),
            json!("standard"),
            json!("vip"),
            json!("gold"),
            json!("tok_abcdefghijklmnopqrstuvwx"),
            json!("tok_abcdefghijklmnopqrstuvw"),
            json!("tok_abcdefghijklmnopqrstuvwxy"),
            json!("tok_abcdefghijklmnopqrstuv18"),
            json!("tok_4242424242424242"),
            json!("tok_abc"),
            json!([]),
            json!({}),
            json!({"type": "marketplace_prepaid"}),
            json!({"type": "card", "token": "tok_abcdefghijklmnopqrstuvwx"}),
            json!({"type": "card"}),
            json!({"type": "pickup", "location_id": "STORE-1"}),
            json!({"type": "curbside", "location_id": "STORE-1", "lat": 1}),
            json!({"type": "ship", "lat": 1, "lon": 2}),
            json!({"type": "ship", "lat": 1, "lon": 2, "location_id": "STORE-1"}),
            json!({"type": "ship", "lat": null, "lon": 2}),
            json!([{"type": "marketplace_prepaid"}, {"type": "marketplace_prepaid"}]),
        ];
        for t in [
            "2026-11-24T09:30:00Z",
            "2026-11-24t09:30:00z",
            "2026-11-24 09:30:00Z",
            "2026-11-24T09:30:00",
            "2026-11-24T09:30Z",
            "2026-11-24T23:59:60Z",
            "2026-02-30T09:30:00Z",
            "2026-02-29T09:30:00Z",
            "2024-02-29T09:30:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T09:30:00.5+01:00",
            "2026-11-24T09:30:00.123456789-05:30",
            "2026-11-24T09:30:00.1234567890Z",
            "2026-11-24T09:30:00.Z",
            "2026-11-24T09:30:00+24:00",
            "2026-11-24T09:30:00+0100",
            "2026-11-24T09:30:00-00:00",
            "+2026-11-24T09:30:00Z",
            "0000-01-01T00:00:00Z",
        ] {
            values.push(json!(t));
        }
        values
    }

    /// Every path to a value in `value`: object keys and array indices.
    fn paths(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match value {
            Value::Object(map) => {
                out.push(at.clone());
                for (key, child) in map {
                    at.push(key.clone());
                    paths(child, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                out.push(at.clone());
                for (i, child) in items.iter().enumerate() {
                    at.push(i.to_string());
                    paths(child, at, out);
                    at.pop();
                }
            }
            _ => out.push(at.clone()),
        }
    }

    fn at<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
        path.iter().fold(value, |v, step| match v {
            Value::Array(items) => &mut items[step.parse::<usize>().unwrap_or_default()],
            other => &mut other[step.as_str()],
        })
    }

    /// Every example, and each with one field removed, replaced or joined by an unknown one.
    fn mutations() -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        for example in examples() {
            bodies.push(serde_json::to_vec(&example).unwrap_or_default());
            let mut all = Vec::new();
            paths(&example, &mut Vec::new(), &mut all);
            for path in all {
                for replacement in replacements() {
                    let mut mutated = example.clone();
                    *at(&mut mutated, &path) = replacement;
                    bodies.push(serde_json::to_vec(&mutated).unwrap_or_default());
                }
                let mut mutated = example.clone();
                if let Some((last, parent)) = path.split_last() {
                    match at(&mut mutated, parent) {
                        Value::Object(map) => {
                            map.remove(last);
                        }
                        Value::Array(items) => {
                            items.remove(last.parse::<usize>().unwrap_or_default());
                        }
                        _ => {}
                    }
                    bodies.push(serde_json::to_vec(&mutated).unwrap_or_default());
                }
                let mut mutated = example.clone();
                if let Value::Object(map) = at(&mut mutated, &path) {
                    map.insert("status".into(), json!("released"));
                    bodies.push(serde_json::to_vec(&mutated).unwrap_or_default());
                }
            }
        }
        // Written by hand: a duplicate key, an integer with a fraction, escapes.
        let text = String::from_utf8(bodies[0].clone()).unwrap_or_default();
        bodies.push(
            text.replacen("\"currency\"", "\"currency\":\"USD\",\"currency\"", 1)
                .into_bytes(),
        );
        bodies.push(
            text.replacen("\"quantity\":", "\"quantity\":1.0,\"x\":", 1)
                .into_bytes(),
        );
        bodies.push(
            text.replacen("\"currency\":\"", "\"currency\":\"\\u0045", 1)
                .into_bytes(),
        );
        bodies
    }

    #[test]
    fn whatever_the_fast_reading_accepts_the_schema_accepts_and_reads_the_same() {
        let (mut fast, mut schema_only, mut neither) = (0, 0, 0);
        for body in mutations() {
            let slow = against_schema(&body);
            match read(&body) {
                Some(order) => {
                    assert_eq!(
                        slow.as_ref(),
                        Ok(&order),
                        "the fast reading accepted what the schema does not, or read it differently: {}",
                        String::from_utf8_lossy(&body)
                    );
                    fast += 1;
                }
                // Stricter by design: `t`/`z`, leap seconds, ten fraction digits, duplicate keys.
                None if slow.is_ok() => schema_only += 1,
                None => neither += 1,
            }
        }
        // The fast path is the common one: every example and most valid mutations take it.
        assert!(
            fast > 100 && schema_only < fast / 4,
            "fast {fast}, schema only {schema_only}, neither {neither}"
        );
        assert!(
            neither > 1000,
            "the mutations must reach the schema's rules: {neither} rejected"
        );
    }

    #[test]
    fn every_example_takes_the_fast_reading() {
        for example in examples() {
            let body = serde_json::to_vec(&example).unwrap_or_default();
            assert!(read(&body).is_some(), "{example}");
        }
    }

    #[test]
    fn text_with_an_escape_is_read_the_slow_way_to_the_same_order() {
        for example in examples() {
            let body = serde_json::to_string(&example).unwrap_or_default();
            let plain = super::super::partner_schema::parse(body.as_bytes(), 1 << 20);
            let escaped = body.replacen("\"partner_order_id\":\"", "\"partner_order_id\":\"\\u0050", 1);
            let unescaped = body.replacen("\"partner_order_id\":\"", "\"partner_order_id\":\"P", 1);
            assert!(read(escaped.as_bytes()).is_none(), "{escaped}");
            let (slow, fast) = (
                super::super::partner_schema::parse(escaped.as_bytes(), 1 << 20),
                super::super::partner_schema::parse(unescaped.as_bytes(), 1 << 20),
            );
            assert!(plain.is_ok() && fast.is_ok(), "{body}");
            assert_eq!(format!("{slow:?}"), format!("{fast:?}"));
        }
    }

    #[test]
    fn a_timestamp_is_read_to_the_same_instant_whatever_its_offset() {
        let utc = timestamp("2026-11-24T08:30:00Z");
        assert_eq!(timestamp("2026-11-24T09:30:00+01:00"), utc);
        assert_eq!(timestamp("2026-11-24T09:30:00.000000000+01:00"), utc);
        assert!(utc.is_some());
        assert_eq!(timestamp("2026-11-24T09:30:00"), None);
        assert_eq!(timestamp("2026-11-24T09:30:00Z "), None);
    }
}

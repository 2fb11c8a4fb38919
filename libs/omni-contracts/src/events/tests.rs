use std::collections::HashMap;

use super::*;
use crate::ContractError;
use crate::api::{Capability, Latitude, Location, LocationKind, Longitude};
use crate::envelope::{Envelope, EventPayload};
use crate::ids::LocationId;

fn store() -> Location {
    Location {
        id: LocationId::parse("STORE-001").unwrap(),
        name: "Alexanderplatz".into(),
        kind: LocationKind::Store,
        lat: Latitude::new(52.52).unwrap(),
        lon: Longitude::new(13.41).unwrap(),
        timezone: "Europe/Berlin".into(),
        region: Some("berlin".into()),
        capabilities: vec![Capability::Ship, Capability::Pickup],
        curbside_bays: 0,
        pick_capacity: None,
    }
}

#[test]
fn an_envelope_survives_a_round_trip_through_headers_and_body() {
    let sent = Envelope::new("catalog", CatalogEvent::LocationUpserted(store()));
    let headers: HashMap<&str, String> = sent.headers().into_iter().collect();
    assert_eq!(headers["ce_type"], "omni.catalog.location_upserted");
    assert_eq!(headers["ce_subject"], "STORE-001");
    let body = sent.data.encode();
    let received =
        Envelope::<CatalogEvent>::from_parts(|name| headers.get(name).map(String::as_str), &body).unwrap();
    assert_eq!(received, sent);
}

#[test]
fn an_unknown_event_type_is_named_in_the_error() {
    let err = CatalogEvent::decode("omni.catalog.exploded", b"{}").unwrap_err();
    assert_eq!(
        err,
        ContractError::UnknownEventType {
            event_type: "omni.catalog.exploded".into(),
            topic: "omni.catalog.v1"
        }
    );
}

#[test]
fn a_body_with_an_unknown_field_is_malformed() {
    let mut body: serde_json::Value =
        serde_json::from_slice(&CatalogEvent::LocationUpserted(store()).encode()).unwrap();
    body["surprise"] = serde_json::json!(1);
    let err = CatalogEvent::decode(
        "omni.catalog.location_upserted",
        &serde_json::to_vec(&body).unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `surprise`"), "{err}");
}

#[test]
fn a_missing_attribute_is_reported_by_name() {
    let err = Envelope::<CatalogEvent>::from_parts(|_| None, b"{}").unwrap_err();
    assert!(err.to_string().contains("ce_specversion"), "{err}");
}

#[test]
fn every_topic_has_a_distinct_versioned_name() {
    let names: std::collections::HashSet<_> = crate::Topic::ALL.iter().map(|t| t.default_name()).collect();
    assert_eq!(names.len(), crate::Topic::ALL.len());
    assert!(names.iter().all(|n| n.starts_with("omni.") && n.ends_with(".v1")));
    assert_eq!(OrderEvent::event_types().len(), 13);
}

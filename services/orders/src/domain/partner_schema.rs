//! The partner order wire format: every message on a partner's inbound topic is checked against the published
//! JSON Schema (`docs/schemas/partner-order.v1.schema.json`, compiled in), so what partners read is exactly what
//! Omni enforces. Pure: bytes in, a typed order or the reasons out.

use crate::domain::Invalid;
use std::sync::LazyLock;

use omni_contracts::api::PartnerOrder;

/// The published schema, as partners read it.
pub const SCHEMA: &str = include_str!("../../../../docs/schemas/partner-order.v1.schema.json");

/// Most schema violations named in one rejection.
const MAX_REASONS: usize = 5;

static VALIDATOR: LazyLock<Result<jsonschema::Validator, Invalid>> = LazyLock::new(|| {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA)
        .map_err(|e| Invalid(format!("the partner order schema is not JSON: {e}")))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| Invalid(format!("the partner order schema does not compile: {e}")))
});

/// Checks a message body against the schema and reads it; `Err` names every problem found (up to five), each
/// with its JSON pointer, e.g. `/lines/0/quantity: 0 is less than the minimum of 1`. Most orders take the fast
/// reading ([`super::partner_wire`]), which accepts only what the schema accepts.
pub fn parse(body: &[u8], max_bytes: usize) -> Result<PartnerOrder, Invalid> {
    if body.len() > max_bytes {
        return Err(Invalid(format!(
            "message: {} bytes, more than the {max_bytes} a partner order may have",
            body.len()
        )));
    }
    if let Some(order) = super::partner_wire::read(body) {
        return Ok(order);
    }
    against_schema(body)
}

/// Reads a message through the schema itself: what [`parse`] does with a message the fast reading does not accept.
pub(crate) fn against_schema(body: &[u8]) -> Result<PartnerOrder, Invalid> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Invalid(format!("message: not JSON ({e})")))?;
    let validator = VALIDATOR.as_ref().map_err(Clone::clone)?;
    // The fast path: `is_valid` stops at the first failure and builds no error values.
    if validator.is_valid(&value) {
        return serde_json::from_value(value).map_err(|e| Invalid(format!("schema partner-order.v1: {e}")));
    }
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .take(MAX_REASONS)
        .map(|e| {
            let at = e.instance_path().to_string();
            // Masked: the message never repeats the value, which could be a card number sent by mistake.
            format!(
                "{}: {}",
                if at.is_empty() { "/".to_owned() } else { at },
                e.masked()
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(Invalid(format!(
            "schema partner-order.v1: {}",
            problems.join("; ")
        )));
    }
    serde_json::from_value(value).map_err(|e| Invalid(format!("schema partner-order.v1: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 256 * 1024;

    fn example(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../docs/schemas/examples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_published_example_passes_the_schema() {
        let dir = format!("{}/../../docs/schemas/examples", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let name = entry.unwrap_or_else(|e| panic!("{e}")).file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") {
                let order = parse(&example(&name), MAX).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(order.partner_id.as_str(), "northwind-market", "{name}");
                seen += 1;
            }
        }
        assert!(seen >= 3, "the examples cover ship, pickup and curbside");
    }

    fn with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<PartnerOrder, Invalid> {
        let mut value: serde_json::Value =
            serde_json::from_slice(&example("ship-to-home.json")).unwrap_or_else(|e| panic!("{e}"));
        edit(&mut value);
        parse(&serde_json::to_vec(&value).unwrap_or_default(), MAX)
    }

    #[test]
    fn wrong_types_unknown_and_missing_fields_are_named_by_pointer() {
        let wrong_type = with(|v| v["lines"][0]["quantity"] = "two".into()).unwrap_err().0;
        assert!(wrong_type.contains("/lines/0/quantity"), "{wrong_type}");
        let unknown = with(|v| v["status"] = "released".into()).unwrap_err().0;
        assert!(unknown.contains("status"), "{unknown}");
        let missing = with(|v| {
            v.as_object_mut().map(|o| o.remove("promise_by"));
        })
        .unwrap_err()
        .0;
        assert!(missing.contains("promise_by"), "{missing}");
        let zero = with(|v| v["lines"][0]["quantity"] = 0.into()).unwrap_err().0;
        assert!(zero.contains("/lines/0/quantity"), "{zero}");
        let bad_time = with(|v| v["placed_at"] = "yesterday".into()).unwrap_err().0;
        assert!(bad_time.contains("/placed_at"), "{bad_time}");
    }

    #[test]
    fn oversize_and_non_json_messages_are_refused_before_parsing() {
        let err = parse(&vec![b' '; MAX + 1], MAX).unwrap_err().0;
        assert!(err.starts_with("message:") && err.contains("bytes"), "{err}");
        let err = parse(b"{\"partner_id\": 42", MAX).unwrap_err().0;
        assert!(err.contains("not JSON"), "{err}");
    }

    #[test]
    fn a_card_number_in_place_of_a_token_is_refused_without_echoing_it() {
        let err =
            with(|v| v["tenders"][0] = serde_json::json!({"type": "card", "token": "4242 4242 4242 4242"}))
                .unwrap_err()
                .0;
        assert!(!err.contains("4242"), "{err}");
    }
}

//! PSP webhooks (DESIGN §6): asynchronous results of PSP operations, sent to payments by the PSP. A webhook is
//! taken only with a valid signature — HMAC-SHA256 with the webhook secret over `<timestamp>.<body>`, sent as
//! `Omni-Signature: t=<unix seconds>,v1=<hex>` — and a timestamp of the last [`TOLERANCE_SECONDS`] (an old one
//! is a replay); a webhook delivered again (same event id) changes nothing. Pure.

use serde::{Deserialize, Serialize};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "omni-signature";
/// How old (or how far ahead) a webhook's timestamp may be.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a webhook's signature is refused; the message names the header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No header.
    #[error("Omni-Signature: missing; a webhook must be signed")]
    Missing,
    /// Not `t=<seconds>,v1=<hex>`.
    #[error("Omni-Signature: must be `t=<unix seconds>,v1=<hex of the HMAC-SHA256>`")]
    Malformed,
    /// The signature does not match the body.
    #[error("Omni-Signature: the signature does not match the body")]
    Mismatch,
    /// Too old or too far ahead: a replay, or a clock far off.
    #[error("Omni-Signature: its timestamp is {0} s from now; at most {TOLERANCE_SECONDS} s is taken")]
    Stale(i64),
}

/// The header value signing `body` at `timestamp` (unix seconds) with `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, &signed_payload(timestamp, body));
    format!("t={timestamp},v1={}", hex::encode(tag.as_ref()))
}

/// Checks a webhook's signature header against its body at `now` (unix seconds); constant-time comparison.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let payload = signed_payload(timestamp, body);
    if !signatures
        .iter()
        .any(|s| ring::hmac::verify(&key, &payload, s).is_ok())
    {
        return Err(SignatureError::Mismatch);
    }
    let age = now - timestamp;
    if age.abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale(age));
    }
    Ok(())
}

fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// A webhook's body: the result of one operation, named by the idempotency key payments sent with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEvent {
    /// The PSP's event id: a webhook with an id taken before is acknowledged and changes nothing.
    pub id: String,
    /// `operation.succeeded` or `operation.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The operation's idempotency key.
    pub operation_id: String,
    /// `authorize`, `capture`, `refund` or `void`.
    #[serde(rename = "kind")]
    pub operation: String,
    /// Its amount in minor units.
    pub amount_minor: i64,
    /// The PSP's reference of the authorization, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_reference: Option<String>,
}

impl WebhookEvent {
    /// Whether it reports success (`operation.succeeded`), failure (`operation.failed`), or `None` for a type
    /// payments does not know.
    pub fn succeeded(&self) -> Option<bool> {
        match self.kind.as_str() {
            "operation.succeeded" => Some(true),
            "operation.failed" => Some(false),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn a_signed_body_verifies_and_anything_else_is_refused_naming_the_header() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, 1_000, body);
        assert_eq!(verify(SECRET, Some(&header), body, 1_010), Ok(()));
        assert_eq!(verify(SECRET, None, body, 1_010), Err(SignatureError::Missing));
        assert_eq!(
            verify(SECRET, Some("v1=zz"), body, 1_010),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, Some(&header), br#"{"id":"evt_2"}"#, 1_010),
            Err(SignatureError::Mismatch),
            "another body"
        );
        assert_eq!(
            verify(b"other", Some(&header), body, 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(&header), body, 1_000 + TOLERANCE_SECONDS + 1),
            Err(SignatureError::Stale(TOLERANCE_SECONDS + 1)),
            "a replay of an old webhook"
        );
        let forged = header.replace("t=1000", "t=1400");
        assert_eq!(
            verify(SECRET, Some(&forged), body, 1_400),
            Err(SignatureError::Mismatch),
            "a fresh timestamp on an old signature"
        );
        assert!(
            SignatureError::Stale(400)
                .to_string()
                .starts_with("Omni-Signature")
        );
    }
}

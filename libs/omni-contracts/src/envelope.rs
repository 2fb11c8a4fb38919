//! The CloudEvents envelope in Kafka binary mode: attributes travel as `ce_*` headers, the body is JSON.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use uuid::Uuid;

use crate::error::{ContractError, Result};
use crate::topic::Topic;

/// The CloudEvents spec version Omni speaks.
pub const SPEC_VERSION: &str = "1.0";
/// The content type of every Omni event body.
pub const CONTENT_TYPE: &str = "application/json";

/// A payload type of one topic: a closed set of event types, each with its JSON body.
pub trait EventPayload: Sized {
    /// The topic every event of this type is published on.
    const TOPIC: Topic;

    /// The CloudEvents `type`, e.g. `omni.order.accepted`.
    fn event_type(&self) -> &'static str;

    /// The Kafka key: the aggregate id (order id, SKU), so one aggregate's events stay in order.
    fn key(&self) -> String;

    /// The JSON body.
    fn encode(&self) -> Vec<u8>;

    /// Parses a body of the given `type`; unknown types and malformed bodies are errors naming the problem.
    fn decode(event_type: &str, body: &[u8]) -> Result<Self>;

    /// Every event type of the topic, for documentation and contract tests.
    fn event_types() -> &'static [&'static str];
}

/// A payload of one event type; implemented by every event struct so [`crate::events`] can key it.
pub trait AggregateKey {
    /// The aggregate id the event is about.
    fn aggregate_key(&self) -> String;
}

/// One event with its CloudEvents attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<T> {
    /// `ce_id`: unique per event; consumers deduplicate on it.
    pub id: Uuid,
    /// `ce_source`: the producing service, e.g. `/omni/orders`.
    pub source: String,
    /// `ce_time`: when the fact happened.
    pub time: DateTime<Utc>,
    /// `ce_subject`: the aggregate id (equal to the Kafka key).
    pub subject: String,
    /// `ce_partnerid` (a CloudEvents extension): the marketplace partner the event concerns, so a per-partner
    /// bridge can filter a topic by header without decoding bodies.
    pub partner: Option<String>,
    /// The payload.
    pub data: T,
}

impl<T: EventPayload> Envelope<T> {
    /// Wraps a payload produced by `service` now, with a fresh id.
    pub fn new(service: &str, data: T) -> Self {
        // `ce_time` carries microseconds; keep no more, so an event equals itself after a round trip.
        Self {
            id: crate::ids::time_ordered_uuid(),
            source: format!("/omni/{service}"),
            time: Utc::now().trunc_subsecs(6),
            subject: data.key(),
            partner: None,
            data,
        }
    }

    /// The same event, marked as concerning `partner`.
    pub fn for_partner(mut self, partner: Option<&crate::ids::PartnerId>) -> Self {
        self.partner = partner.map(|p| p.to_string());
        self
    }

    /// The CloudEvents `type`.
    pub fn event_type(&self) -> &'static str {
        self.data.event_type()
    }

    /// The `ce_*` attributes as Kafka headers (plus `content-type`), in a stable order.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("ce_specversion", SPEC_VERSION.to_owned()),
            ("ce_id", self.id.to_string()),
            ("ce_type", self.event_type().to_owned()),
            ("ce_source", self.source.clone()),
            ("ce_time", self.time.to_rfc3339_opts(SecondsFormat::Micros, true)),
            ("ce_subject", self.subject.clone()),
            ("content-type", CONTENT_TYPE.to_owned()),
        ];
        if let Some(partner) = &self.partner {
            headers.push(("ce_partnerid", partner.clone()));
        }
        headers
    }

    /// Rebuilds an event from its headers and body. `header` looks a header up by name.
    pub fn from_parts<'a>(header: impl Fn(&str) -> Option<&'a str>, body: &[u8]) -> Result<Self> {
        let attr = |name: &'static str| {
            header(name).ok_or(ContractError::BadAttribute {
                attribute: name,
                reason: "is missing".into(),
            })
        };
        let spec = attr("ce_specversion")?;
        if spec != SPEC_VERSION {
            return Err(ContractError::BadAttribute {
                attribute: "ce_specversion",
                // Never the raw value: a header is the sender's to fill, with anything.
                reason: format!("is not `{SPEC_VERSION}`"),
            });
        }
        let id = Uuid::parse_str(attr("ce_id")?).map_err(|e| ContractError::BadAttribute {
            attribute: "ce_id",
            reason: format!("is not a UUID: {e}"),
        })?;
        let time = DateTime::parse_from_rfc3339(attr("ce_time")?)
            .map_err(|e| ContractError::BadAttribute {
                attribute: "ce_time",
                reason: format!("is not RFC 3339: {e}"),
            })?
            .with_timezone(&Utc);
        let data = T::decode(attr("ce_type")?, body)?;
        Ok(Self {
            id,
            source: attr("ce_source")?.to_owned(),
            time,
            subject: header("ce_subject").map_or_else(|| data.key(), str::to_owned),
            partner: header("ce_partnerid").map(str::to_owned),
            data,
        })
    }
}

/// Implements [`EventPayload`] for an enum whose variants each wrap one event struct.
#[macro_export]
macro_rules! event_payload {
    ($enum:ident on $topic:expr, { $($variant:ident($ty:ty) = $name:literal),+ $(,)? }) => {
        impl $crate::envelope::EventPayload for $enum {
            const TOPIC: $crate::topic::Topic = $topic;

            fn event_type(&self) -> &'static str {
                match self { $($enum::$variant(_) => $name,)+ }
            }

            fn key(&self) -> String {
                use $crate::envelope::AggregateKey;
                match self { $($enum::$variant(e) => e.aggregate_key(),)+ }
            }

            fn encode(&self) -> Vec<u8> {
                let encoded = match self { $($enum::$variant(e) => serde_json::to_vec(e),)+ };
                // Serialising these plain structs to JSON cannot fail: no maps with non-string keys.
                encoded.unwrap_or_default()
            }

            fn decode(event_type: &str, body: &[u8]) -> $crate::error::Result<Self> {
                let malformed = |e: serde_json::Error| $crate::error::ContractError::MalformedBody {
                    event_type: event_type.to_owned(),
                    reason: e.to_string(),
                };
                match event_type {
                    $($name => serde_json::from_slice::<$ty>(body).map($enum::$variant).map_err(malformed),)+
                    other => Err($crate::error::ContractError::UnknownEventType {
                        event_type: other.to_owned(),
                        topic: $topic.default_name(),
                    }),
                }
            }

            fn event_types() -> &'static [&'static str] {
                &[$($name),+]
            }
        }

        $(impl From<$ty> for $enum {
            fn from(e: $ty) -> Self { $enum::$variant(e) }
        })+
    };
}

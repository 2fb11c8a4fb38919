//! Identifiers. Code-like ids (SKUs, locations, partners) are short printable strings; ids Omni mints are UUIDs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ContractError, Result};

const MAX_CODE_LEN: usize = 64;

/// A new UUIDv7, later than every one this process made before, like [`Uuid::now_v7`] (RFC 9562 §6.2 method 1: a
/// 42-bit counter under the millisecond, seeded at random each millisecond, the millisecond moved on when it
/// overflows), but with its random bits from the thread's CSPRNG (`rand::rng()`, seeded from the OS) instead of a
/// `getrandom` system call per id: that call was 5 % of the orders service's CPU at intake rates.
pub fn time_ordered_uuid() -> Uuid {
    use rand::Rng;
    /// The counter's 42 bits; it is seeded below half of that, so a millisecond has room for 2^41 ids.
    const COUNTER_MAX: u64 = (1 << 42) - 1;
    const SEED_MASK: u64 = (1 << 41) - 1;
    static LAST: std::sync::Mutex<(u64, u64)> = std::sync::Mutex::new((0, 0));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut rng = rand::rng();
    let (millis, counter) = {
        let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (millis, counter) = *last;
        *last = if now > millis {
            (now, rng.random::<u64>() & SEED_MASK)
        } else if counter < COUNTER_MAX {
            (millis, counter + 1)
        } else {
            (millis + 1, rng.random::<u64>() & SEED_MASK)
        };
        *last
    };
    // The 80 bits after the millisecond: the version (the builder sets it), the counter's high 12 bits, the variant
    // (the builder sets it), its low 30 bits, then 32 random bits.
    let mut bytes = [0u8; 10];
    bytes[..2].copy_from_slice(&((counter >> 30) as u16).to_be_bytes());
    bytes[2..].copy_from_slice(
        &(((counter & ((1 << 30) - 1)) << 32) | u64::from(rng.random::<u32>())).to_be_bytes(),
    );
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

fn parse_code(field: &'static str, raw: &str) -> Result<String> {
    if raw.is_empty() {
        return Err(ContractError::field(field, "must not be empty"));
    }
    if raw.len() > MAX_CODE_LEN {
        return Err(ContractError::field(
            field,
            format!("must be at most {MAX_CODE_LEN} characters"),
        ));
    }
    if let Some(bad) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(ContractError::field(
            field,
            format!("may hold only letters, digits, '-', '_' and '.', found {bad:?}"),
        ));
    }
    Ok(raw.to_owned())
}

macro_rules! code_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            /// Parses a code: 1 to 64 characters of letters, digits, `-`, `_` and `.`.
            pub fn parse(raw: &str) -> Result<Self> {
                parse_code($field, raw).map(Self)
            }

            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ContractError;
            fn try_from(raw: String) -> Result<Self> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                code_schema()
            }
        }
    };
}

/// The JSON Schema of a code (what [`parse_code`] accepts), for custom resource definitions.
#[cfg(feature = "schema")]
fn code_schema() -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_CODE_LEN,
        "pattern": "^[A-Za-z0-9._-]+$"
    })
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl TryFrom<String> for $name {
            type Error = ContractError;
            fn try_from(raw: String) -> Result<Self> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn generate() -> Self {
                Self(time_ordered_uuid())
            }

            /// Parses the hyphenated UUID form.
            pub fn parse(raw: &str) -> Result<Self> {
                Uuid::parse_str(raw)
                    .map(Self)
                    .map_err(|e| ContractError::field($field, format!("is not a UUID: {e}")))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

code_id!(
    /// A stock keeping unit code, e.g. `TSHIRT-RED-M`.
    Sku,
    "sku"
);
code_id!(
    /// A store or warehouse code, e.g. `STORE-001`.
    LocationId,
    "location_id"
);
code_id!(
    /// A partner marketplace's code, e.g. `acme-market`.
    PartnerId,
    "partner_id"
);
code_id!(
    /// A buffer or segment policy's code, e.g. `storm-buffer`.
    PolicyId,
    "id"
);
code_id!(
    /// A customer's id in the selling channel.
    CustomerId,
    "customer_id"
);

uuid_id!(
    /// An order, minted by the orders service.
    OrderId,
    "order_id"
);
uuid_id!(
    /// A reservation (hold) of stock at one location.
    ReservationId,
    "reservation_id"
);
uuid_id!(
    /// A fulfillment: the part of an order one node ships or hands over.
    FulfillmentId,
    "fulfillment_id"
);
uuid_id!(
    /// A payment intent for one tender.
    PaymentIntentId,
    "payment_intent_id"
);
uuid_id!(
    /// A stock movement reported to allocation; also its idempotency key.
    MovementId,
    "event_id"
);
uuid_id!(
    /// A store task: the work one node does for one fulfillment.
    TaskId,
    "task_id"
);
uuid_id!(
    /// A return authorization (RMA), minted by the returns service.
    ReturnId,
    "return_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_uuids_are_version_7_carry_the_time_and_only_grow_also_across_threads() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let threads: Vec<_> = (0..2)
            .map(|_| std::thread::spawn(|| (0..50_000).map(|_| time_ordered_uuid()).collect::<Vec<_>>()))
            .collect();
        let made: Vec<Vec<Uuid>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let after = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        for ids in &made {
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "each thread's ids grow");
            for id in ids {
                assert_eq!(id.get_version(), Some(uuid::Version::SortRand));
                assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
                let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
                let millis = u128::from(secs) * 1000 + u128::from(nanos / 1_000_000);
                // The counter may push the millisecond on by a little when it overflows; never back.
                assert!(
                    millis >= before && millis <= after + 1_000,
                    "{id}: {millis} not in {before}..={after}"
                );
            }
        }
        let all: std::collections::HashSet<&Uuid> = made.iter().flatten().collect();
        assert_eq!(all.len(), 100_000, "every id is new");
    }

    #[test]
    fn a_sku_with_a_space_is_rejected_naming_the_field() {
        let err = Sku::parse("RED SHIRT").unwrap_err();
        assert!(err.to_string().starts_with("sku: may hold only"), "{err}");
    }

    #[test]
    fn ids_deserialize_through_their_parser() {
        let err = serde_json::from_str::<LocationId>("\"\"").unwrap_err();
        assert!(
            err.to_string().contains("location_id: must not be empty"),
            "{err}"
        );
        let ok: LocationId = serde_json::from_str("\"STORE-001\"").unwrap();
        assert_eq!(ok.as_str(), "STORE-001");
    }
}

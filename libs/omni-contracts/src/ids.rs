//! Identifiers. Code-like ids (SKUs, locations, partners) are short printable strings; ids Omni mints are UUIDs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ContractError, Result};

const MAX_CODE_LEN: usize = 64;

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
                Self(Uuid::now_v7())
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

#[cfg(test)]
mod tests {
    use super::*;

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

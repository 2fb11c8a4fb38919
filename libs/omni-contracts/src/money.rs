//! Money in integer minor units, and positive quantities.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ContractError, Result};

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "EUR")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses `EUR`, `USD`, ...
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(ContractError::field(
                "currency",
                "must be three upper-case letters (ISO 4217)",
            )),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = ContractError;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: integer minor units (cents) in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units, e.g. 1999 for 19.99 EUR.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: Currency,
}

/// A positive number of units (1 to 1,000,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "i64", into = "i64")]
#[schema(value_type = i64)]
pub struct Quantity(u32);

impl Quantity {
    /// The largest quantity one line or movement may carry.
    pub const MAX: u32 = 1_000_000;

    /// Parses a positive quantity.
    pub fn new(raw: i64) -> Result<Self> {
        if raw <= 0 {
            return Err(ContractError::field(
                "quantity",
                format!("must be positive, got {raw}"),
            ));
        }
        if raw > i64::from(Self::MAX) {
            return Err(ContractError::field(
                "quantity",
                format!("must be at most {}, got {raw}", Self::MAX),
            ));
        }
        Ok(Self(raw as u32))
    }

    /// The number of units.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = ContractError;
    fn try_from(raw: i64) -> Result<Self> {
        Self::new(raw)
    }
}

impl From<Quantity> for i64 {
    fn from(q: Quantity) -> i64 {
        i64::from(q.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_negative_quantities_are_rejected() {
        assert!(Quantity::new(0).is_err());
        let err = serde_json::from_str::<Quantity>("-3").unwrap_err();
        assert!(
            err.to_string().contains("quantity: must be positive, got -3"),
            "{err}"
        );
        assert_eq!(Quantity::new(3).unwrap().get(), 3);
    }

    #[test]
    fn currency_must_be_iso_shaped() {
        assert!(Currency::parse("eur").is_err());
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
    }
}

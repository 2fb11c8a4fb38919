//! Omni gift cards and store credit (DESIGN §6): stored value spent by a code. An authorization holds part of
//! the balance, a capture takes it, a release gives the hold back, a refund reloads the card. Pure, apart from
//! drawing a new code.

use omni_contracts::stored_value::{CODE_ALPHABET, CODE_LEN};
use omni_contracts::{Currency, Money};

/// Gift card or store credit: the same stored value, told apart for reports and for who issues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoredValueKind {
    /// Sold or given as a gift.
    GiftCard,
    /// Given back instead of money (a return, a goodwill gesture).
    StoreCredit,
}

impl StoredValueKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GiftCard => "gift_card",
            Self::StoreCredit => "store_credit",
        }
    }

    /// Reads the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "gift_card" => Some(Self::GiftCard),
            "store_credit" => Some(Self::StoreCredit),
            _ => None,
        }
    }
}

/// A card as stored: never its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValueCard {
    /// `sv_…`, the one-way digest of its code.
    pub reference: String,
    /// Gift card or store credit.
    pub kind: StoredValueKind,
    /// The issuer's idempotency key.
    pub issue_id: String,
    /// The code's last four characters.
    pub last4: String,
    /// Its currency.
    pub currency: Currency,
    /// The money on it, in minor units.
    pub balance: i64,
    /// What authorizations keep aside.
    pub held: i64,
    /// The customer it was issued to, if any.
    pub customer_id: Option<String>,
}

/// What a movement does to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Keep money aside for an order (authorize).
    Hold,
    /// Take money kept aside (capture).
    Capture,
    /// Give money kept aside back (void).
    Release,
    /// Put money back on the card (refund).
    Refund,
}

impl Movement {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Hold => "hold",
            Movement::Capture => "capture",
            Movement::Release => "release",
            Movement::Refund => "refund",
        }
    }
}

/// Why a card cannot give a movement; the reason is safe to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No card has this code.
    #[error("unknown gift card")]
    Unknown,
    /// Less is available than asked.
    #[error("insufficient_balance")]
    InsufficientBalance,
    /// Another currency.
    #[error("gift card in another currency")]
    Currency,
    /// More than is held.
    #[error("amount_too_large")]
    MoreThanHeld,
    /// Not a positive amount.
    #[error("invalid_amount")]
    NotPositive,
}

impl StoredValueCard {
    /// What may still be held: the balance less what is held.
    pub fn available(&self) -> i64 {
        self.balance - self.held
    }

    /// Whether the card can give `movement` of `amount`.
    pub fn check(&self, movement: Movement, amount: Money) -> Result<(), Refused> {
        if amount.currency != self.currency {
            return Err(Refused::Currency);
        }
        let a = amount.amount_minor;
        if a <= 0 {
            return Err(Refused::NotPositive);
        }
        match movement {
            Movement::Hold if a > self.available() => Err(Refused::InsufficientBalance),
            Movement::Capture | Movement::Release if a > self.held => Err(Refused::MoreThanHeld),
            _ => Ok(()),
        }
    }
}

/// A new random code, `XXXX-XXXX-XXXX-XXXX` (80 random bits). A draw of digits only (a chance of 6 in 32 to the
/// 16th) is drawn again: a code never passes for a card number.
pub fn new_code() -> String {
    loop {
        let bytes = super::vault::random_bytes::<CODE_LEN>();
        let mut code = String::with_capacity(CODE_LEN + 3);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                code.push('-');
            }
            // 256 is a multiple of 32, so `b % 32` is uniform.
            code.push(char::from(CODE_ALPHABET[usize::from(b % 32)]));
        }
        if code.bytes().any(|b| b.is_ascii_uppercase()) {
            return code;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(balance: i64, held: i64) -> StoredValueCard {
        StoredValueCard {
            reference: "sv_x".into(),
            kind: StoredValueKind::GiftCard,
            issue_id: "i".into(),
            last4: "ABCD".into(),
            currency: Currency::parse("EUR").unwrap(),
            balance,
            held,
            customer_id: None,
        }
    }

    fn eur(amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: Currency::parse("EUR").unwrap(),
        }
    }

    #[test]
    fn a_card_holds_only_what_is_available_and_takes_only_what_it_holds() {
        let c = card(5_000, 2_000);
        assert_eq!(c.check(Movement::Hold, eur(3_000)), Ok(()));
        assert_eq!(
            c.check(Movement::Hold, eur(3_001)),
            Err(Refused::InsufficientBalance)
        );
        assert_eq!(c.check(Movement::Capture, eur(2_001)), Err(Refused::MoreThanHeld));
        assert_eq!(c.check(Movement::Release, eur(2_000)), Ok(()));
        assert_eq!(c.check(Movement::Refund, eur(9_999)), Ok(()));
        let usd = Money {
            amount_minor: 1,
            currency: Currency::parse("USD").unwrap(),
        };
        assert_eq!(c.check(Movement::Hold, usd), Err(Refused::Currency));
    }

    #[test]
    fn a_new_code_is_a_valid_code_and_never_the_same() {
        let (a, b) = (new_code(), new_code());
        assert_ne!(a, b);
        assert!(omni_contracts::stored_value::normalize_code(&a).is_some(), "{a}");
        assert_eq!(a.len(), 19);
    }
}

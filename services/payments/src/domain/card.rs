//! Card numbers and expiry dates: parsed once, then held in types that never show the number.
//!
//! A [`Pan`] prints as `Pan(424242******4242)` at most (first six, last four), never serialises, and wipes its
//! digits from memory when dropped. [`CardError`] messages name what is wrong without ever repeating the number
//! or the CVC.

use chrono::{Datelike, NaiveDate};
use omni_contracts::api::TokenizeCard;
use secrecy::zeroize::Zeroize;

/// The shortest card number accepted.
pub const MIN_DIGITS: usize = 12;
/// The longest card number accepted.
pub const MAX_DIGITS: usize = 19;
/// How far ahead an expiry year may lie.
pub const MAX_YEARS_AHEAD: i32 = 25;

/// Why a card cannot be tokenized. Messages are safe to return to the caller and to log: they never contain
/// the card number (at most its last four digits) nor the CVC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The number has something other than digits and spaces.
    #[error("number: must hold only digits (spaces allowed)")]
    NotDigits,
    /// The number is too short or too long.
    #[error("number: must have {MIN_DIGITS} to {MAX_DIGITS} digits, got {0}")]
    Length(usize),
    /// The check digit is wrong (a typo).
    #[error("number: the card ending {last4} fails the Luhn check; check the number for a typo")]
    Luhn {
        /// Last four digits, which may be shown.
        last4: String,
    },
    /// The month is not 1 to 12.
    #[error("exp_month: must be 1 to 12, got {0}")]
    Month(i64),
    /// The year is not a plausible four-digit year.
    #[error("exp_year: must be a four-digit year at most {MAX_YEARS_AHEAD} years ahead, got {0}")]
    Year(i64),
    /// The card expired before the current month.
    #[error("the card expired at the end of {month:02}/{year}")]
    Expired {
        /// Expiry month.
        month: u8,
        /// Expiry year.
        year: u16,
    },
    /// The CVC is not three or four digits.
    #[error("cvc: must be 3 or 4 digits")]
    Cvc,
}

/// A primary account number: 12 to 19 digits that pass the Luhn check.
///
/// Deliberately not `Clone`, `Display` or `Serialize`; its digits are wiped when it is dropped.
pub struct Pan(String);

impl Pan {
    /// Parses a number typed with or without spaces.
    pub fn parse(raw: &str) -> Result<Self, CardError> {
        let mut digits: String = raw.chars().filter(|c| *c != ' ').collect();
        let checked = check_digits(&digits);
        if let Err(e) = checked {
            digits.zeroize();
            return Err(e);
        }
        Ok(Self(digits))
    }

    /// The digits, for the two places that need them: sealing in the vault and the PSP call.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first six digits (the issuer identification number), which may be shown.
    pub fn first6(&self) -> &str {
        &self.0[..6]
    }

    /// The last four digits, which may be shown.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// The brand guessed from the number's prefix.
    pub fn brand(&self) -> Brand {
        Brand::of(&self.0)
    }
}

fn check_digits(digits: &str) -> Result<(), CardError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::NotDigits);
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(CardError::Length(digits.len()));
    }
    if !luhn_valid(digits) {
        return Err(CardError::Luhn {
            last4: digits[digits.len() - 4..].to_owned(),
        });
    }
    Ok(())
}

impl Drop for Pan {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Pan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pan({}{}{})",
            self.first6(),
            "*".repeat(self.0.len() - 10),
            self.last4()
        )
    }
}

pub use omni_contracts::card_data::luhn_valid;

/// A card brand, guessed from the number's prefix (good enough for display; the PSP decides routing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    /// Visa: 4.
    Visa,
    /// Mastercard: 51-55, 2221-2720.
    Mastercard,
    /// American Express: 34, 37.
    Amex,
    /// Discover: 6011, 644-649, 65.
    Discover,
    /// JCB: 3528-3589.
    Jcb,
    /// Diners Club: 300-305, 36, 38.
    Diners,
    /// UnionPay: 62.
    UnionPay,
    /// Anything else.
    Unknown,
}

impl Brand {
    /// The brand of a number (digits only).
    pub fn of(digits: &str) -> Self {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        match (prefix(1), prefix(2), prefix(3), prefix(4)) {
            (4, ..) => Brand::Visa,
            (_, 51..=55, ..) | (.., 2221..=2720) => Brand::Mastercard,
            (_, 34 | 37, ..) => Brand::Amex,
            (.., 6011) | (_, _, 644..=649, _) | (_, 65, ..) => Brand::Discover,
            (.., 3528..=3589) => Brand::Jcb,
            (_, _, 300..=305, _) | (_, 36 | 38, ..) => Brand::Diners,
            (_, 62, ..) => Brand::UnionPay,
            _ => Brand::Unknown,
        }
    }

    /// The name stored and shown, e.g. `visa`.
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::Jcb => "jcb",
            Brand::Diners => "diners",
            Brand::UnionPay => "unionpay",
            Brand::Unknown => "unknown",
        }
    }
}

/// A card's expiry: valid through the last day of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    month: u8,
    year: u16,
}

impl Expiry {
    /// Parses an expiry that has not passed on `today` (UTC).
    pub fn parse(month: i64, year: i64, today: NaiveDate) -> Result<Self, CardError> {
        let month = u8::try_from(month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or(CardError::Month(month))?;
        let current_year = today.year();
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (1000..=9999).contains(y) && i32::from(*y) <= current_year + MAX_YEARS_AHEAD)
            .ok_or(CardError::Year(year))?;
        let current = (current_year, today.month());
        if (i32::from(year), u32::from(month)) < current {
            return Err(CardError::Expired { month, year });
        }
        Ok(Self { month, year })
    }

    /// An expiry read back from the vault, where it was checked when the card was tokenized.
    pub(crate) fn stored(month: u8, year: u16) -> Self {
        Self { month, year }
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The four-digit year.
    pub fn year(self) -> u16 {
        self.year
    }
}

/// A card as the vault holds it: number and expiry. Never the CVC.
#[derive(Debug)]
pub struct Card {
    /// The number.
    pub pan: Pan,
    /// The expiry.
    pub expiry: Expiry,
}

impl Card {
    /// Checks a tokenization request on `today` (UTC): the number, the expiry and the CVC's shape. The CVC is
    /// checked and then forgotten; it is not part of the result.
    pub fn from_request(request: &TokenizeCard, today: NaiveDate) -> Result<Self, CardError> {
        let pan = Pan::parse(&request.number)?;
        let expiry = Expiry::parse(i64::from(request.exp_month), i64::from(request.exp_year), today)?;
        if let Some(cvc) = &request.cvc
            && !(matches!(cvc.len(), 3 | 4) && cvc.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(CardError::Cvc);
        }
        Ok(Self { pan, expiry })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sandbox::{
        AMEX_APPROVED, DINERS, DISCOVER, JCB, MASTERCARD_2_SERIES, MASTERCARD_APPROVED, UNIONPAY,
        UNKNOWN_BRAND, VISA_APPROVED, VISA_DECLINED, VISA_INSUFFICIENT_FUNDS,
    };

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn request(number: &str) -> TokenizeCard {
        TokenizeCard {
            number: number.into(),
            exp_month: 12,
            exp_year: 2030,
            cvc: Some("123".into()),
            customer_id: None,
        }
    }

    #[test]
    fn the_luhn_check_accepts_test_cards_and_rejects_a_single_digit_typo() {
        for good in [
            VISA_APPROVED,
            VISA_DECLINED,
            VISA_INSUFFICIENT_FUNDS,
            AMEX_APPROVED,
            MASTERCARD_APPROVED,
        ] {
            assert!(luhn_valid(good), "{good}");
        }
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("4242-4242"));
    }

    #[test]
    fn spaces_in_a_number_are_ignored() {
        let pan = Pan::parse("4242 4242 4242 4242").unwrap();
        assert_eq!(pan.expose(), VISA_APPROVED);
        assert_eq!((pan.first6(), pan.last4()), ("424242", "4242"));
        assert_eq!(pan.brand(), Brand::Visa);
    }

    #[test]
    fn numbers_that_are_too_short_too_long_or_not_digits_are_rejected() {
        assert_eq!(Pan::parse("42424242424").unwrap_err(), CardError::Length(11));
        assert_eq!(
            Pan::parse("42424242424242424242").unwrap_err(),
            CardError::Length(20)
        );
        assert_eq!(
            Pan::parse("4242-4242-4242-4242").unwrap_err(),
            CardError::NotDigits
        );
        assert_eq!(Pan::parse("").unwrap_err(), CardError::NotDigits);
    }

    #[test]
    fn a_rejected_number_is_never_repeated_in_the_error() {
        for bad in [
            "4242424242424241",
            "4242-4242-4242-4242",
            "42424242424242424242",
            "4242abcd42424242",
        ] {
            let message = Pan::parse(bad).unwrap_err().to_string();
            let digits: String = bad.chars().filter(char::is_ascii_digit).collect();
            assert!(!message.contains(&digits), "{message}");
            assert!(!message.contains(&digits[..6]), "{message}");
        }
    }

    #[test]
    fn the_debug_form_of_a_card_shows_at_most_first_six_and_last_four() {
        let card = Card::from_request(&request(VISA_APPROVED), today()).unwrap();
        let shown = format!("{card:?}");
        assert!(!shown.contains(VISA_APPROVED), "{shown}");
        assert!(shown.contains("424242******4242"), "{shown}");
    }

    #[test]
    fn the_debug_form_of_a_tokenize_request_never_shows_the_number_or_cvc() {
        let shown = format!(
            "{:?}",
            TokenizeCard {
                cvc: Some("987".into()),
                ..request(VISA_APPROVED)
            }
        );
        assert!(!shown.contains("4242"), "{shown}");
        assert!(!shown.contains("987"), "{shown}");
    }

    #[test]
    fn a_card_is_valid_through_the_last_day_of_its_expiry_month() {
        assert!(Expiry::parse(11, 2026, today()).is_ok());
        assert_eq!(
            Expiry::parse(10, 2026, today()).unwrap_err(),
            CardError::Expired {
                month: 10,
                year: 2026
            }
        );
        assert!(Expiry::parse(1, 2027, today()).is_ok());
    }

    #[test]
    fn months_outside_one_to_twelve_and_implausible_years_are_rejected() {
        assert_eq!(Expiry::parse(0, 2030, today()).unwrap_err(), CardError::Month(0));
        assert_eq!(
            Expiry::parse(13, 2030, today()).unwrap_err(),
            CardError::Month(13)
        );
        assert_eq!(Expiry::parse(1, 30, today()).unwrap_err(), CardError::Year(30));
        assert_eq!(
            Expiry::parse(1, 2099, today()).unwrap_err(),
            CardError::Year(2099)
        );
    }

    #[test]
    fn a_cvc_must_be_three_or_four_digits_and_is_not_kept() {
        let mut bad = request(VISA_APPROVED);
        bad.cvc = Some("12a".into());
        assert_eq!(Card::from_request(&bad, today()).unwrap_err(), CardError::Cvc);
        let no_cvc = TokenizeCard {
            cvc: None,
            ..request(VISA_APPROVED)
        };
        assert!(Card::from_request(&no_cvc, today()).is_ok());
    }

    #[test]
    fn brands_are_guessed_from_the_prefix() {
        assert_eq!(Brand::of(MASTERCARD_APPROVED), Brand::Mastercard);
        assert_eq!(Brand::of(MASTERCARD_2_SERIES), Brand::Mastercard);
        assert_eq!(Brand::of(AMEX_APPROVED), Brand::Amex);
        assert_eq!(Brand::of(DISCOVER), Brand::Discover);
        assert_eq!(Brand::of(JCB), Brand::Jcb);
        assert_eq!(Brand::of(DINERS), Brand::Diners);
        assert_eq!(Brand::of(UNIONPAY), Brand::UnionPay);
        assert_eq!(Brand::of(UNKNOWN_BRAND), Brand::Unknown);
    }
}

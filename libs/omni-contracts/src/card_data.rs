//! Card numbers where they must not be: the Luhn check, and masking what looks like a card number in bytes that
//! leave a service (a dead-lettered message keeps its original bytes, but never a card number: DESIGN §6).

/// Every vault token starts with this.
pub const TOKEN_PREFIX: &str = "tok_";
/// Random characters after the prefix (24 × 5 bits = 120 bits).
pub const TOKEN_RANDOM_LEN: usize = 24;
/// The characters a vault token draws from: lower-case base32 (only 2 to 7 among the digits).
pub const TOKEN_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Whether `candidate` has the exact form of a vault token (`tok_` + 24 lower-case base32 characters): the one
/// form a tender may carry, so `tok_<card number>` and other card-bearing strings are refused at the door.
pub fn is_vault_token(candidate: &str) -> bool {
    candidate.strip_prefix(TOKEN_PREFIX).is_some_and(|random| {
        random.len() == TOKEN_RANDOM_LEN && random.bytes().all(|b| TOKEN_ALPHABET.contains(&b))
    })
}

/// Every payment-method reference starts with this.
pub const METHOD_PREFIX: &str = "pm_";

/// The payment-method reference of a vault token: what orders keep, show and announce in place of the token.
/// It names the same card to the payments service, which stores it beside the token, but it is a one-way digest
/// (SHA-256 of the token; the token has 120 random bits), so it cannot be turned back into a token, and intake
/// never takes it as a tender: reading it off an order, an event or a log line gives nothing to spend.
pub fn method_reference(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(b"omni-payment-method-v1:")
        .chain_update(token.as_bytes())
        .finalize();
    let mut reference = String::with_capacity(METHOD_PREFIX.len() + TOKEN_RANDOM_LEN);
    reference.push_str(METHOD_PREFIX);
    // 24 characters of 5 bits: the first 120 bits of the digest, in the vault's alphabet.
    let mut bits = 0_u32;
    let mut pending = 0_u32;
    for byte in digest.iter().take(TOKEN_RANDOM_LEN * 5 / 8) {
        bits = (bits << 8) | u32::from(*byte);
        pending += 8;
        while pending >= 5 {
            pending -= 5;
            let index = usize::try_from((bits >> pending) & 31).unwrap_or(0);
            reference.push(char::from(TOKEN_ALPHABET[index]));
        }
    }
    reference
}

/// Whether `candidate` has the exact form of a payment-method reference (`pm_` + 24 lower-case base32
/// characters).
pub fn is_method_reference(candidate: &str) -> bool {
    candidate.strip_prefix(METHOD_PREFIX).is_some_and(|digest| {
        digest.len() == TOKEN_RANDOM_LEN && digest.bytes().all(|b| TOKEN_ALPHABET.contains(&b))
    })
}

/// `text` with every card-number-like run masked (see [`mask_card_numbers`]), for reasons and log lines.
pub fn mask_text(text: &str) -> std::borrow::Cow<'_, str> {
    match mask_card_numbers(text.as_bytes()) {
        Some(masked) => std::borrow::Cow::Owned(String::from_utf8_lossy(&masked).into_owned()),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// Fewest and most digits of a card number (PAN).
const PAN_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;
/// Trailing digits left visible when a card number is masked.
const SHOWN_LAST: usize = 4;

/// Whether a string of ASCII digits passes the Luhn (mod 10) check. Anything else is not valid.
pub fn luhn_valid(digits: &str) -> bool {
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && luhn_sum(digits.bytes()).is_multiple_of(10)
}

fn luhn_sum(digits: impl DoubleEndedIterator<Item = u8>) -> u32 {
    digits
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            match (i % 2 == 1, d * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => d,
            }
        })
        .sum()
}

/// `bytes` with every run that looks like a card number (13 to 19 digits, optionally grouped by single spaces
/// or dashes, passing the Luhn check) masked with `*` but for its last four digits; `None` when there is none.
/// Longer digit runs are not card numbers and are left alone. A false positive (a Luhn-valid 16-digit id) is
/// masked too: losing an id in a dead-letter copy is cheaper than keeping a card number.
pub fn mask_card_numbers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut masked: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run: digits, with single separators between them.
        let mut positions = Vec::new();
        let mut end = i;
        while end < bytes.len() {
            if bytes[end].is_ascii_digit() {
                positions.push(end);
                end += 1;
            } else if matches!(bytes[end], b' ' | b'-') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
            {
                end += 1;
            } else {
                break;
            }
        }
        if PAN_DIGITS.contains(&positions.len())
            && luhn_sum(positions.iter().map(|&p| bytes[p])).is_multiple_of(10)
        {
            let out = masked.get_or_insert_with(|| bytes.to_vec());
            for &p in &positions[..positions.len() - SHOWN_LAST] {
                out[p] = b'*';
            }
        }
        i = end;
    }
    masked
}

#[cfg(test)]
mod tests {
    //! The card numbers here are the sandbox PSP's documented test cards (services/payments/src/domain/sandbox.rs:
    //! 4242424242424242 Visa approved, 4000000000000002 Visa declined, 5555555555554444 Mastercard approved), never real
    //! ones.
    use super::*;

    #[test]
    fn a_method_reference_is_stable_shaped_and_not_the_token() {
        let token = "tok_abcdefghijklmnopqrstuvwx";
        let reference = method_reference(token);
        assert!(is_method_reference(&reference), "{reference}");
        assert_eq!(reference, method_reference(token));
        assert_ne!(reference, method_reference("tok_abcdefghijklmnopqrstuvwy"));
        assert!(!reference.contains("abcdefghijklmnopqrstuvwx"));
        assert!(!is_vault_token(&reference) && !is_method_reference(token));
    }

    #[test]
    fn the_luhn_check_accepts_test_cards_and_rejects_a_typo() {
        assert!(luhn_valid("4242424242424242"));
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("4242 4242"));
    }

    #[test]
    fn card_numbers_are_masked_but_for_the_last_four_in_any_grouping() {
        let masked = mask_card_numbers(br#"{"note":"card 4242424242424242, or 4000-0000-0000-0002 ok"}"#);
        assert_eq!(
            masked.as_deref(),
            Some(&br#"{"note":"card ************4242, or ****-****-****-0002 ok"}"#[..])
        );
        let spaced = mask_card_numbers(b"5555 5555 5555 4444").unwrap_or_default();
        assert_eq!(spaced, b"**** **** **** 4444");
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for harmless in [
            &br#"{"quantity":2,"unit_price_minor":1999,"placed_at":"2026-11-23T10:00:00Z"}"#[..],
            b"4242424242424241",           // fails the Luhn check
            b"42424242424242424242424242", // too long to be a card number
            b"424242424242",               // too short
            b"4242  4242 4242 4242",       // two separators in a row end the run
        ] {
            assert_eq!(
                mask_card_numbers(harmless),
                None,
                "{}",
                String::from_utf8_lossy(harmless)
            );
        }
    }
}

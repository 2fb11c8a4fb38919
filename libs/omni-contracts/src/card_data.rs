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

/// Fewest digits of a run refused where it would be stored. Runs of 13 and 14 digits are EAN-13 and GTIN-14
/// barcodes (SKUs) as often as old card numbers: those are masked where they leave a service, not refused.
const REFUSED_DIGITS: std::ops::RangeInclusive<usize> = 15..=19;

/// Digits in a group of a grouped card number (`4242 4242 4242 4242`, `3782 822463 10005`).
const GROUP_DIGITS: std::ops::RangeInclusive<usize> = 3..=6;

/// Whether a UUID (`8-4-4-4-12` hex digits, standing alone) starts at `i`: ids are everywhere, and their
/// all-digit parts may meet across a dash into something Luhn-valid (`…-1234-5678-9012-345f…`).
fn uuid_at(bytes: &[u8], i: usize) -> bool {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let Some(candidate) = bytes.get(i..i + 36) else {
        return false;
    };
    let alone = (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        && bytes.get(i + 36).is_none_or(|b| !b.is_ascii_alphanumeric());
    alone
        && candidate.iter().enumerate().all(|(k, b)| {
            if DASHES.contains(&k) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// Each run of digits in `bytes` written the way card numbers are: unbroken, or in groups of 3 to 6 digits
/// between single spaces or dashes; UUIDs are passed over. The digits' positions.
fn card_shaped_runs(bytes: &[u8]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < bytes.len() && !bytes[i].is_ascii_digit() {
                if uuid_at(bytes, i) {
                    i += 36;
                } else {
                    i += 1;
                }
            }
            if uuid_at(bytes, i) {
                i += 36;
                continue;
            }
            if i >= bytes.len() {
                return None;
            }
            let mut positions = Vec::new();
            let mut groups = vec![0_usize];
            let mut end = i;
            while end < bytes.len() {
                if bytes[end].is_ascii_digit() {
                    positions.push(end);
                    if let Some(last) = groups.last_mut() {
                        *last += 1;
                    }
                    end += 1;
                } else if matches!(bytes[end], b' ' | b'-')
                    && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
                {
                    groups.push(0);
                    end += 1;
                } else {
                    break;
                }
            }
            i = end;
            if groups.len() == 1 || groups.iter().all(|g| GROUP_DIGITS.contains(g)) {
                return Some(positions);
            }
        }
    })
}

/// Whether `bytes` hold what is surely a card number: 15 to 19 digits, unbroken or grouped, passing the Luhn
/// check. Nothing like it is stored outside the vault: a field holding one is refused.
pub fn holds_card_number(bytes: &[u8]) -> bool {
    card_shaped_runs(bytes).any(|run| {
        REFUSED_DIGITS.contains(&run.len()) && luhn_sum(run.iter().map(|&p| bytes[p])).is_multiple_of(10)
    })
}

/// Whether any string of a JSON document holds a card number ([`holds_card_number`]), escapes decoded (a digit
/// written `\u0034` is a digit). Numbers are not looked at: coordinates and amounts are digits too. Bytes that
/// are not JSON are scanned as far as they go.
pub fn json_strings_hold_card_number(json: &[u8]) -> bool {
    let mut text = Vec::new();
    let mut i = 0;
    while i < json.len() {
        if json[i] != b'"' {
            i += 1;
            continue;
        }
        text.clear();
        i += 1;
        while i < json.len() && json[i] != b'"' {
            if json[i] == b'\\' {
                let escaped = json.get(i + 1).copied().unwrap_or(b'"');
                if escaped == b'u' {
                    let code = json
                        .get(i + 2..i + 6)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u32::from_str_radix(h, 16).ok());
                    text.push(match code.and_then(char::from_u32) {
                        Some(c @ ('0'..='9' | ' ' | '-')) => c as u8,
                        _ => b'_',
                    });
                    i += 6;
                } else {
                    text.push(b'_');
                    i += 2;
                }
            } else {
                text.push(json[i]);
                i += 1;
            }
        }
        i += 1;
        if holds_card_number(&text) {
            return true;
        }
    }
    false
}

/// `bytes` with every run that looks like a card number (13 to 19 digits, unbroken or in groups of 3 to 6
/// between single spaces or dashes, passing the Luhn check) masked with `*` but for its last four digits; `None` when there is none.
/// Longer digit runs are not card numbers and are left alone. A false positive (a Luhn-valid 16-digit id) is
/// masked too: losing an id in a dead-letter copy is cheaper than keeping a card number.
pub fn mask_card_numbers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut masked: Option<Vec<u8>> = None;
    for positions in card_shaped_runs(bytes) {
        if PAN_DIGITS.contains(&positions.len())
            && luhn_sum(positions.iter().map(|&p| bytes[p])).is_multiple_of(10)
        {
            let out = masked.get_or_insert_with(|| bytes.to_vec());
            for &p in &positions[..positions.len() - SHOWN_LAST] {
                out[p] = b'*';
            }
        }
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
    fn a_card_number_in_any_json_string_is_found_but_not_a_barcode_or_a_coordinate() {
        for json in [
            r#"{"sku": "4242424242424242"}"#,
            r#"{"a": {"b": ["x", "card 4242 4242 4242 4242 here"]}}"#,
            r#"{"title": "5555-5555-5555-4444"}"#,
            r#"{"id": "\u0034242424242424242"}"#,
        ] {
            assert!(json_strings_hold_card_number(json.as_bytes()), "{json}");
        }
        for json in [
            r#"{"event_id": "0a1b2c3d-4e5f-4a7b-8466-655440000009"}"#,
            r#"{"ce_id": "a7b1867d-4242-4242-4242-597d285e79db"}"#,
            r#"{"id": "12345678-4242-4242-4242-424242424242"}"#,
            r#"{"sku": "4006381333931"}"#,
            r#"{"lat": 52.4242424242424242, "amount": 4242424242424242}"#,
            r#"{"id": "4242424242424241"}"#,
            r#"{"escaped": "\"4242\" 4242 4242 4242"}"#,
        ] {
            assert!(!json_strings_hold_card_number(json.as_bytes()), "{json}");
        }
    }

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

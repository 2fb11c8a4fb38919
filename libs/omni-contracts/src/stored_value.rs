//! Omni gift cards and store credit: stored value spent by a code. The code is the secret (80 random bits); what
//! orders keep, show and announce is its reference, a one-way digest, so reading an order, an event or a log line
//! gives nothing to spend. Payments stores only the reference (the code hashed) and the last four characters.

/// Every gift-card or store-credit reference starts with this.
pub const REFERENCE_PREFIX: &str = "sv_";
/// Characters of a code, without the dashes.
pub const CODE_LEN: usize = 16;
/// The characters a code draws from: upper-case base32 (letters and 2 to 7), so a code never passes for a card
/// number.
pub const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The code as issued, upper-cased and without dashes or spaces; `None` when it is not a code's shape. A code has
/// at least one letter: 16 digits (even of 2 to 7 only) would be a card number, and is never taken for a code.
pub fn normalize_code(code: &str) -> Option<String> {
    let normal: String = code
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (normal.len() == CODE_LEN
        && normal.bytes().all(|b| CODE_ALPHABET.contains(&b))
        && normal.bytes().any(|b| b.is_ascii_uppercase()))
    .then_some(normal)
}

/// The reference of a code (see the module docs): `sv_` + 24 characters of the SHA-256 of the normalized code.
/// `None` when `code` is not a code's shape.
pub fn reference(code: &str) -> Option<String> {
    use sha2::Digest;
    let normal = normalize_code(code)?;
    let digest = sha2::Sha256::new()
        .chain_update(b"omni-stored-value-v1:")
        .chain_update(normal.as_bytes())
        .finalize();
    let mut reference = String::with_capacity(REFERENCE_PREFIX.len() + 24);
    reference.push_str(REFERENCE_PREFIX);
    for byte in digest.iter().take(24) {
        reference.push(char::from(
            crate::card_data::TOKEN_ALPHABET[usize::from(byte % 32)],
        ));
    }
    Some(reference)
}

/// The last four characters of a code, which may be shown.
pub fn last4(code: &str) -> String {
    let normal = normalize_code(code).unwrap_or_default();
    normal[normal.len().saturating_sub(4)..].to_owned()
}

/// Whether `candidate` has the exact form of a stored-value reference.
pub fn is_reference(candidate: &str) -> bool {
    candidate.strip_prefix(REFERENCE_PREFIX).is_some_and(|digest| {
        digest.len() == 24
            && digest
                .bytes()
                .all(|b| crate::card_data::TOKEN_ALPHABET.contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_read_in_any_case_with_or_without_dashes_and_its_reference_tells_nothing_of_it() {
        let code = "ABCD-EFGH-2345-WXYZ";
        assert_eq!(
            normalize_code("abcd efgh 2345 wxyz").as_deref(),
            Some("ABCDEFGH2345WXYZ")
        );
        let r = reference(code).unwrap();
        assert_eq!(reference("abcdefgh2345wxyz").unwrap(), r);
        assert!(is_reference(&r) && !r.contains("ABCD") && !r.to_uppercase().contains("WXYZ"));
        assert_eq!(last4(code), "WXYZ");
        assert_eq!(reference("4242424242424242"), None, "a card number is not a code");
        assert_eq!(reference("4242-4242-4242-4242"), None);
        assert_eq!(reference("ABCD-EFGH-2345-WXY"), None);
    }
}

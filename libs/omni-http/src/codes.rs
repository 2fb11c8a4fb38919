//! Codes customers are sent and type back (pickup codes, return codes): letters that read back unambiguously (no
//! 0/O, 1/I/L), drawn from the thread's CSPRNG. Only their SHA-256 is stored; what is typed is trimmed and
//! upper-cased before it is compared.

use rand::Rng;
use sha2::{Digest, Sha256};

/// The letters of a code.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A new code of `letters` letters from [`ALPHABET`] (about 5 bits each).
pub fn new_code(letters: usize) -> String {
    let mut rng = rand::rng();
    (0..letters)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// What is stored of a code: its SHA-256, hex, of the trimmed, upper-cased text.
pub fn digest(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_ascii_uppercase().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_however_it_is_typed_and_only_its_digest_is_kept() {
        let code = new_code(10);
        assert_eq!(code.len(), 10);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        assert_eq!(
            digest(&code),
            digest(&format!("  {}\n", code.to_ascii_lowercase()))
        );
        assert_ne!(digest(&code), code);
        assert_ne!(new_code(10), new_code(10));
    }
}

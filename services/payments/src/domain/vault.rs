//! The vault's cryptography, with no I/O: envelope encryption with AES-256-GCM.
//!
//! - The **key-encryption key** ([`Kek`]) comes from the `payments.key_encryption_key` secret. It never
//!   encrypts card data; it only wraps data keys.
//! - **Data keys** ([`DataKey`]) are 32 random bytes each, numbered by version, stored wrapped by the KEK. The
//!   newest is active and seals new cards; retired keys only open what they sealed.
//! - A card is sealed with a fresh random 96-bit nonce under the active data key. The token and the key version
//!   are bound in as associated data, so a ciphertext copied onto another row or version does not open.
//! - **Tokens** ([`new_token`]) are random, `tok_` + 24 base32 characters from a CSPRNG: never derived from the
//!   card number, never digits only (so never Luhn-valid card-shaped numbers).

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use rand::RngCore;
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretBox};

use super::card::{Card, Expiry, Pan};

/// Bytes in an AES-256 key.
pub const KEY_LEN: usize = 32;
/// Bytes in an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
use omni_contracts::card_data::TOKEN_ALPHABET;
pub use omni_contracts::card_data::{TOKEN_PREFIX, TOKEN_RANDOM_LEN};

/// Why a cryptographic step failed. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The configured KEK is not base64 of 32 bytes.
    #[error("invalid configuration: `payments.key_encryption_key` must be base64 of 32 bytes")]
    InvalidKek,
    /// A wrapped data key does not open under this KEK (another KEK, or a damaged row).
    #[error("data key version {version} cannot be unwrapped with the configured key-encryption key")]
    Unwrap {
        /// The data key's version.
        version: i32,
    },
    /// A sealed card does not open (damaged row, or a row moved to another token or key).
    #[error("the vault entry {token} cannot be decrypted with data key version {version}")]
    Open {
        /// The token of the entry.
        token: String,
        /// The data key version it names.
        version: i32,
    },
    /// The cipher refused to encrypt (never expected).
    #[error("encryption failed")]
    Seal,
}

/// Lenient base64 (padding optional), standard alphabet.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn b64(bytes: &[u8]) -> String {
    general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    general_purpose::STANDARD.decode(text).ok()
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // ThreadRng: a CSPRNG (ChaCha12) seeded and periodically reseeded from the operating system.
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
}

/// The key-encryption key. Its `Debug` is redacted and its bytes are wiped on drop.
pub struct Kek(SecretBox<[u8; KEY_LEN]>);

impl Kek {
    /// Parses the configured secret: base64 (padding optional) of exactly 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, CryptoError> {
        let raw = Zeroizing::new(
            BASE64_ANY_PADDING
                .decode(encoded.trim())
                .map_err(|_| CryptoError::InvalidKek)?,
        );
        let mut key: [u8; KEY_LEN] = raw.as_slice().try_into().map_err(|_| CryptoError::InvalidKek)?;
        let kek = Self::from_bytes(key);
        key.zeroize();
        Ok(kek)
    }

    /// A KEK from raw bytes (tests and tools).
    pub fn from_bytes(mut key: [u8; KEY_LEN]) -> Self {
        let kek = Self(SecretBox::new(Box::new(key)));
        key.zeroize();
        kek
    }

    /// A new random KEK, base64-encoded, as `omni dev` would configure.
    pub fn generate_base64() -> String {
        let mut key = random_bytes::<KEY_LEN>();
        let encoded = b64(&key);
        key.zeroize();
        encoded
    }

    /// Wraps a data key for storage: base64 of nonce || ciphertext || tag.
    pub fn wrap(&self, key: &DataKey) -> Result<String, CryptoError> {
        let nonce = random_bytes::<NONCE_LEN>();
        let aad = wrap_aad(key.version);
        let sealed = cipher(self.0.expose_secret())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key.key.expose_secret(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut stored = Vec::with_capacity(NONCE_LEN + sealed.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(b64(&stored))
    }

    /// Unwraps a stored data key; fails if it was wrapped under another KEK, for another version, or damaged.
    pub fn unwrap_key(&self, version: i32, wrapped: &str) -> Result<DataKey, CryptoError> {
        let fail = || CryptoError::Unwrap { version };
        let stored = unb64(wrapped).ok_or_else(fail)?;
        if stored.len() <= NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let aad = wrap_aad(version);
        let plain = Zeroizing::new(
            cipher(self.0.expose_secret())
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| fail())?,
        );
        let key: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| fail())?;
        Ok(DataKey {
            version,
            key: SecretBox::new(Box::new(key)),
        })
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

fn wrap_aad(version: i32) -> String {
    format!("omni.payments.data_key.v{version}")
}

fn seal_aad(token: &str, version: i32) -> String {
    format!("omni.payments.card.{token}.v{version}")
}

/// A data key: seals cards while active, only opens them once retired.
pub struct DataKey {
    version: i32,
    key: SecretBox<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("version", &self.version)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// A card as stored: which key sealed it, the nonce and the ciphertext (both base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCard {
    /// The data key version that sealed it.
    pub key_version: i32,
    /// base64 of the 12-byte nonce.
    pub nonce: String,
    /// base64 of ciphertext || tag.
    pub ciphertext: String,
}

impl DataKey {
    /// A new random key with this version.
    pub fn generate(version: i32) -> Self {
        Self {
            version,
            key: SecretBox::new(Box::new(random_bytes::<KEY_LEN>())),
        }
    }

    /// The version.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// Seals a card's number and expiry for `token`. The plaintext buffer is wiped afterwards.
    pub fn seal(&self, token: &str, card: &Card) -> Result<SealedCard, CryptoError> {
        let nonce = random_bytes::<NONCE_LEN>();
        let plain = Zeroizing::new(format!(
            "{}|{:02}|{:04}",
            card.pan.expose(),
            card.expiry.month(),
            card.expiry.year()
        ));
        let aad = seal_aad(token, self.version);
        let sealed = cipher(self.key.expose_secret())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        Ok(SealedCard {
            key_version: self.version,
            nonce: b64(&nonce),
            ciphertext: b64(&sealed),
        })
    }

    /// Opens a card sealed for `token` under this key.
    pub fn open(&self, token: &str, sealed: &SealedCard) -> Result<Card, CryptoError> {
        let fail = || CryptoError::Open {
            token: token.to_owned(),
            version: sealed.key_version,
        };
        if sealed.key_version != self.version {
            return Err(fail());
        }
        let nonce = unb64(&sealed.nonce)
            .filter(|n| n.len() == NONCE_LEN)
            .ok_or_else(fail)?;
        let ciphertext = unb64(&sealed.ciphertext).ok_or_else(fail)?;
        let aad = seal_aad(token, self.version);
        let plain = Zeroizing::new(
            cipher(self.key.expose_secret())
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| fail())?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| fail())?;
        let mut parts = text.split('|');
        let (Some(number), Some(month), Some(year), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail());
        };
        let pan = Pan::parse(number).map_err(|_| fail())?;
        let month: u8 = month.parse().map_err(|_| fail())?;
        let year: u16 = year.parse().map_err(|_| fail())?;
        Ok(Card {
            pan,
            expiry: Expiry::stored(month, year),
        })
    }
}

/// A new random vault token: `tok_` + 24 characters of lower-case base32.
pub fn new_token() -> String {
    loop {
        let bytes = random_bytes::<TOKEN_RANDOM_LEN>();
        // 256 is a multiple of 32, so `b % 32` is uniform.
        let random: String = bytes
            .iter()
            .map(|b| char::from(TOKEN_ALPHABET[usize::from(b % 32)]))
            .collect();
        // Only 6 of 32 symbols are digits, so an all-digit draw is astronomically rare; refuse it anyway so no
        // token's random part could ever pass for a card number.
        if random.bytes().any(|b| b.is_ascii_lowercase()) {
            return format!("{TOKEN_PREFIX}{random}");
        }
    }
}

/// Whether a string has the shape of a vault token (used to refuse junk before touching the database).
pub fn is_token(candidate: &str) -> bool {
    omni_contracts::card_data::is_vault_token(candidate)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use omni_contracts::api::TokenizeCard;

    use super::*;
    use crate::domain::card::luhn_valid;
    use crate::domain::sandbox::{VISA_APPROVED, VISA_DECLINED};

    fn card(number: &str) -> Card {
        let request = TokenizeCard {
            number: number.into(),
            exp_month: 4,
            exp_year: 2031,
            cvc: None,
            customer_id: None,
        };
        Card::from_request(&request, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()).unwrap()
    }

    #[test]
    fn tokens_are_random_prefixed_and_never_luhn_valid_digits() {
        let tokens: std::collections::HashSet<String> = (0..2_000).map(|_| new_token()).collect();
        assert_eq!(tokens.len(), 2_000, "tokens repeat");
        for token in &tokens {
            assert!(is_token(token), "{token}");
            assert!(!token.bytes().all(|b| b.is_ascii_digit()));
            assert!(!luhn_valid(token));
            let random = &token[TOKEN_PREFIX.len()..];
            assert!(random.bytes().any(|b| b.is_ascii_lowercase()), "{token}");
            assert!(!luhn_valid(random));
        }
    }

    #[test]
    fn a_card_number_is_never_mistaken_for_a_token() {
        assert!(!is_token(VISA_APPROVED));
        assert!(!is_token(&format!("tok_{VISA_APPROVED}")));
        assert!(!is_token(&format!(
            "{TOKEN_PREFIX}{}",
            "1".repeat(TOKEN_RANDOM_LEN)
        )));
    }

    #[test]
    fn a_sealed_card_opens_back_to_the_same_number_and_expiry() {
        let key = DataKey::generate(1);
        let sealed = key.seal("tok_a", &card("4242 4242 4242 4242")).unwrap();
        assert_eq!(sealed.key_version, 1);
        assert!(!sealed.ciphertext.contains("4242"));
        let opened = key.open("tok_a", &sealed).unwrap();
        assert_eq!(opened.pan.expose(), VISA_APPROVED);
        assert_eq!((opened.expiry.month(), opened.expiry.year()), (4, 2031));
    }

    #[test]
    fn sealing_the_same_card_twice_gives_different_ciphertexts() {
        let key = DataKey::generate(1);
        let a = key.seal("tok_a", &card(VISA_APPROVED)).unwrap();
        let b = key.seal("tok_a", &card(VISA_APPROVED)).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn a_ciphertext_moved_to_another_token_does_not_open() {
        let key = DataKey::generate(1);
        let sealed = key.seal("tok_a", &card(VISA_APPROVED)).unwrap();
        assert_eq!(
            key.open("tok_b", &sealed).unwrap_err(),
            CryptoError::Open {
                token: "tok_b".into(),
                version: 1
            }
        );
    }

    #[test]
    fn a_card_sealed_before_rotation_still_opens_with_its_retired_key() {
        let kek = Kek::from_bytes([7; KEY_LEN]);
        let old = DataKey::generate(1);
        let wrapped_old = kek.wrap(&old).unwrap();
        let sealed_old = old.seal("tok_old", &card(VISA_DECLINED)).unwrap();
        drop(old);

        let new = DataKey::generate(2);
        let sealed_new = new.seal("tok_new", &card(VISA_APPROVED)).unwrap();
        assert_eq!(sealed_new.key_version, 2);
        assert!(
            new.open("tok_old", &sealed_old).is_err(),
            "the new key must not open the old card"
        );

        let retired = kek.unwrap_key(1, &wrapped_old).unwrap();
        assert_eq!(
            retired.open("tok_old", &sealed_old).unwrap().pan.expose(),
            VISA_DECLINED
        );
    }

    #[test]
    fn a_data_key_does_not_unwrap_under_another_kek_or_version() {
        let kek = Kek::from_bytes([1; KEY_LEN]);
        let wrapped = kek.wrap(&DataKey::generate(3)).unwrap();
        assert!(kek.unwrap_key(3, &wrapped).is_ok());
        let other = Kek::from_bytes([2; KEY_LEN]);
        assert_eq!(
            other.unwrap_key(3, &wrapped).unwrap_err(),
            CryptoError::Unwrap { version: 3 }
        );
        assert_eq!(
            kek.unwrap_key(4, &wrapped).unwrap_err(),
            CryptoError::Unwrap { version: 4 }
        );
        assert_eq!(
            kek.unwrap_key(3, "not base64!").unwrap_err(),
            CryptoError::Unwrap { version: 3 }
        );
    }

    #[test]
    fn the_kek_must_be_base64_of_exactly_32_bytes() {
        assert!(Kek::from_base64(&Kek::generate_base64()).is_ok());
        let unpadded = Kek::generate_base64().trim_end_matches('=').to_owned();
        assert!(Kek::from_base64(&unpadded).is_ok());
        assert_eq!(Kek::from_base64("").unwrap_err(), CryptoError::InvalidKek);
        assert_eq!(Kek::from_base64("c2hvcnQ=").unwrap_err(), CryptoError::InvalidKek);
        assert_eq!(
            Kek::from_base64("not base64 at all").unwrap_err(),
            CryptoError::InvalidKek
        );
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let kek = Kek::from_bytes([9; KEY_LEN]);
        assert_eq!(format!("{kek:?}"), "Kek([redacted])");
        let shown = format!("{:?}", DataKey::generate(5));
        assert!(
            shown.contains("version: 5") && shown.contains("[redacted]"),
            "{shown}"
        );
    }
}

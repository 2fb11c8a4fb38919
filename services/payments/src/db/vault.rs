//! Tokenized cards: sealed under the active data key, opened only for a PSP call, every opening audited.

use diesel::prelude::*;
use omni_contracts::OrderId;
use omni_contracts::api::CardToken;
use omni_db::DbConnection;

use super::data_keys;
use super::schema::vault_cards;
use crate::domain::card::Card;
use crate::domain::vault::{Kek, SealedCard, is_token, new_token};
use crate::{Error, Result};

/// The principal every detokenization is audited under. Only the payments service itself detokenizes: no
/// route, event or other principal can reach [`detokenize`].
pub const DETOKENIZE_PRINCIPAL: &str = "payments-service";
/// The audit action of a detokenization.
pub const DETOKENIZE_ACTION: &str = "payments.detokenize";

#[derive(Queryable, Selectable)]
#[diesel(table_name = vault_cards)]
struct VaultRow {
    key_version: i32,
    nonce: String,
    ciphertext: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = vault_cards)]
struct TokenRow {
    token: String,
    brand: String,
    first6: String,
    last4: String,
    exp_month: i32,
    exp_year: i32,
}

/// Seals a card under the active data key and stores it under a new random token. The CVC is never passed in,
/// so it cannot be stored.
pub fn tokenize(conn: &mut DbConnection, kek: &Kek, card: &Card) -> Result<CardToken> {
    let key = data_keys::active(conn, kek)?;
    let token = new_token();
    let sealed = key.seal(&token, card)?;
    let shown = CardToken {
        token: token.clone(),
        brand: card.pan.brand().as_str().to_owned(),
        first6: card.pan.first6().to_owned(),
        last4: card.pan.last4().to_owned(),
        exp_month: card.expiry.month(),
        exp_year: card.expiry.year(),
    };
    diesel::insert_into(vault_cards::table)
        .values((
            vault_cards::token.eq(&token),
            vault_cards::key_version.eq(sealed.key_version),
            vault_cards::nonce.eq(&sealed.nonce),
            vault_cards::ciphertext.eq(&sealed.ciphertext),
            vault_cards::brand.eq(&shown.brand),
            vault_cards::first6.eq(&shown.first6),
            vault_cards::last4.eq(&shown.last4),
            vault_cards::exp_month.eq(i32::from(shown.exp_month)),
            vault_cards::exp_year.eq(i32::from(shown.exp_year)),
            vault_cards::created_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(shown)
}

/// The displayable parts of a tokenized card (no decryption, not audited).
pub fn describe(conn: &mut DbConnection, token: &str) -> Result<Option<CardToken>> {
    if !is_token(token) {
        return Ok(None);
    }
    let row = vault_cards::table
        .find(token)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| {
        let corrupt = |field: &str| Error::Corrupt {
            what: "vault entry",
            reason: format!("{field} out of range"),
        };
        Ok(CardToken {
            token: r.token,
            brand: r.brand,
            first6: r.first6,
            last4: r.last4,
            exp_month: u8::try_from(r.exp_month).map_err(|_| corrupt("exp_month"))?,
            exp_year: u16::try_from(r.exp_year).map_err(|_| corrupt("exp_year"))?,
        })
    })
    .transpose()
}

/// Why a card is being detokenized, for the audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Authorizing an order's amount on the PSP.
    Authorize(OrderId),
}

/// The result of a detokenization.
#[derive(Debug)]
pub enum Detokenized {
    /// The card, for one PSP call.
    Card(Card),
    /// No such token (or not token-shaped).
    Unknown,
    /// The entry exists but does not decrypt (damaged, or moved to another row).
    Unreadable,
}

/// Opens the card behind a token, with its data key (active or retired), and records the attempt in the audit
/// log in the caller's transaction under [`DETOKENIZE_PRINCIPAL`]. The audit entry names the token, never
/// card data; a string that is not token-shaped is not even written (it might be a card number).
pub fn detokenize(conn: &mut DbConnection, kek: &Kek, token: &str, purpose: Purpose) -> Result<Detokenized> {
    let Purpose::Authorize(order_id) = purpose;
    let audit = |conn: &mut DbConnection, subject: &str, outcome: &str, key_version: Option<i32>| {
        let detail = serde_json::json!({
            "purpose": "authorize",
            "order_id": order_id.to_string(),
            "outcome": outcome,
            "key_version": key_version,
        });
        omni_db::audit::record(conn, DETOKENIZE_PRINCIPAL, DETOKENIZE_ACTION, subject, &detail)
    };
    if !is_token(token) {
        audit(conn, "[malformed token]", "unknown", None)?;
        return Ok(Detokenized::Unknown);
    }
    let Some(row) = vault_cards::table
        .find(token)
        .select(VaultRow::as_select())
        .first(conn)
        .optional()?
    else {
        audit(conn, token, "unknown", None)?;
        return Ok(Detokenized::Unknown);
    };
    let key = data_keys::by_version(conn, kek, row.key_version)?;
    let sealed = SealedCard {
        key_version: row.key_version,
        nonce: row.nonce,
        ciphertext: row.ciphertext,
    };
    match key.open(token, &sealed) {
        Ok(card) => {
            audit(conn, token, "found", Some(row.key_version))?;
            Ok(Detokenized::Card(card))
        }
        Err(e) => {
            tracing::error!(token, data_key.version = row.key_version, error = %e, "A vault entry does not decrypt.");
            audit(conn, token, "unreadable", Some(row.key_version))?;
            Ok(Detokenized::Unreadable)
        }
    }
}

/// The data key version each token was sealed with (for tests and re-encryption tooling).
pub fn key_version(conn: &mut DbConnection, token: &str) -> Result<Option<i32>> {
    Ok(vault_cards::table
        .find(token)
        .select(vault_cards::key_version)
        .first(conn)
        .optional()?)
}

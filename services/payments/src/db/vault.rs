//! Tokenized cards: sealed under the active data key, opened only for a PSP call, every opening audited.

use diesel::prelude::*;
use omni_contracts::api::{CardSummary, CardToken, Payer};
use omni_contracts::card_data::{is_method_reference, method_reference};
use omni_contracts::{CustomerId, OrderId};
use omni_db::DbConnection;

use super::data_keys;
use super::schema::vault_cards;
use crate::domain::card::Card;
use crate::domain::vault::{Kek, SealedCard, new_token};
use crate::error::{Error, Result};

/// The principal every detokenization is audited under. Only the payments service itself detokenizes: no
/// route, event or other principal can reach [`detokenize`].
pub const DETOKENIZE_PRINCIPAL: &str = "payments-service";
/// The audit action of a detokenization.
pub const DETOKENIZE_ACTION: &str = "payments.detokenize";

#[derive(Queryable, Selectable)]
#[diesel(table_name = vault_cards)]
struct VaultRow {
    token: String,
    key_version: i32,
    nonce: String,
    ciphertext: String,
    owner: String,
    customer_id: Option<String>,
    brand: String,
    last4: String,
    exp_month: i32,
    exp_year: i32,
}

impl VaultRow {
    /// What may be shown of the card.
    fn summary(&self) -> Result<CardSummary> {
        let corrupt = |field: &str| Error::Corrupt {
            what: "vault entry",
            reason: format!("{field} out of range"),
        };
        Ok(CardSummary {
            brand: self.brand.clone(),
            last4: self.last4.clone(),
            exp_month: u8::try_from(self.exp_month).map_err(|_| corrupt("exp_month"))?,
            exp_year: u16::try_from(self.exp_year).map_err(|_| corrupt("exp_year"))?,
        })
    }

    /// Whether the card may pay an order placed by `payer` for `customer`: the payer tokenized it, and, if it
    /// was tokenized for a customer, the order is that customer's. A token from before owners were recorded
    /// (owner '') pays nothing.
    fn pays_for(&self, payer: &Payer, customer: Option<&CustomerId>) -> bool {
        let customer_matches = match &self.customer_id {
            Some(bound) => customer.is_some_and(|c| c.as_str() == bound),
            None => true,
        };
        !self.owner.is_empty() && self.owner == payer.as_str() && customer_matches
    }
}

/// Seals a card under the active data key and stores it under a new random token, bound to `owner` (and to
/// `customer` when given) and findable by its payment-method reference. The CVC is never passed in, so it cannot
/// be stored.
pub fn tokenize(
    conn: &mut DbConnection,
    kek: &Kek,
    card: &Card,
    owner: &Payer,
    customer: Option<&CustomerId>,
) -> Result<CardToken> {
    let key = data_keys::active(conn, kek)?;
    let token = new_token();
    let sealed = key.seal(&token, card)?;
    let shown = CardToken {
        reference: method_reference(&token),
        token: token.clone(),
        customer_id: customer.cloned(),
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
            vault_cards::reference.eq(&shown.reference),
            vault_cards::owner.eq(owner.as_str()),
            vault_cards::customer_id.eq(customer.map(CustomerId::as_str)),
        ))
        .execute(conn)?;
    Ok(shown)
}

/// Why a card is being detokenized, for the binding check and the audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose<'a> {
    /// Authorizing the amount of an order placed by `payer` (for `customer`, when the channel named one).
    Authorize {
        /// The order.
        order_id: OrderId,
        /// Who placed it.
        payer: &'a Payer,
        /// Its customer.
        customer: Option<&'a CustomerId>,
    },
}

/// The result of a detokenization.
#[derive(Debug)]
pub enum Detokenized {
    /// The card, for one PSP call, and what may be shown of it.
    Card(Card, CardSummary),
    /// No card has this reference (or it is not reference-shaped).
    Unknown,
    /// The card was tokenized by someone else than the order's payer (or for another customer): it is not
    /// opened.
    NotThePayers(CardSummary),
    /// The entry exists but does not decrypt (damaged, or moved to another row).
    Unreadable(CardSummary),
}

/// Opens the card behind a payment-method reference, with its data key (active or retired), if the order's
/// payer owns it, and records the attempt in the audit log in the caller's transaction under
/// [`DETOKENIZE_PRINCIPAL`]. The audit entry names the reference and the payer, never the token or card data; a
/// string that is not reference-shaped is not even written (it might be a card number).
pub fn detokenize(
    conn: &mut DbConnection,
    kek: &Kek,
    reference: &str,
    purpose: Purpose<'_>,
) -> Result<Detokenized> {
    let Purpose::Authorize {
        order_id,
        payer,
        customer,
    } = purpose;
    let audit = |conn: &mut DbConnection, subject: &str, outcome: &str, key_version: Option<i32>| {
        let detail = serde_json::json!({
            "purpose": "authorize",
            "order_id": order_id.to_string(),
            "payer": payer.as_str(),
            "outcome": outcome,
            "key_version": key_version,
        });
        omni_db::audit::record(conn, DETOKENIZE_PRINCIPAL, DETOKENIZE_ACTION, subject, &detail)
    };
    if !is_method_reference(reference) {
        audit(conn, "[malformed reference]", "unknown", None)?;
        return Ok(Detokenized::Unknown);
    }
    let Some(row) = vault_cards::table
        .filter(vault_cards::reference.eq(reference))
        .select(VaultRow::as_select())
        .first(conn)
        .optional()?
    else {
        audit(conn, reference, "unknown", None)?;
        return Ok(Detokenized::Unknown);
    };
    let summary = row.summary()?;
    if !row.pays_for(payer, customer) {
        tracing::warn!(order.id = %order_id, payer = payer.as_str(), payment_method = reference,
            "A card was offered for an order its owner did not place; not opened.");
        audit(conn, reference, "not_the_payers", None)?;
        return Ok(Detokenized::NotThePayers(summary));
    }
    let key = data_keys::by_version(conn, kek, row.key_version)?;
    let sealed = SealedCard {
        key_version: row.key_version,
        nonce: row.nonce,
        ciphertext: row.ciphertext,
    };
    match key.open(&row.token, &sealed) {
        Ok(card) => {
            audit(conn, reference, "found", Some(row.key_version))?;
            Ok(Detokenized::Card(card, summary))
        }
        Err(e) => {
            tracing::error!(payment_method = reference, data_key.version = row.key_version, error = %e, "A vault entry does not decrypt.");
            audit(conn, reference, "unreadable", Some(row.key_version))?;
            Ok(Detokenized::Unreadable(summary))
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

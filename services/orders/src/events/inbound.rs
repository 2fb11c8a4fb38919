//! Partner marketplace intake: each partner publishes on a topic of its own, `omni.orders.inbound.<partner>.v1`,
//! that only it may write to (Kafka ACLs); each partner order is taken exactly once.
//!
//! A message is checked in this order, and the first failure sends it to `omni.orders.inbound.dlq.v1` with the
//! reason in `omni_dlq_reason` and its bytes untouched (the partition moves on): CloudEvents headers
//! (`ce_type` = `omni.partner_order.submitted`, a `ce_id`), size, JSON, the published schema
//! (`docs/schemas/partner-order.v1.schema.json`), the sender (the partner whose topic carried it: the body and
//! `ce_source` must name it; the shared `omni.orders.inbound.v1` names no sender, so everything on it is refused),
//! the partner (registered and enabled), the total, the partner's bounds (tiers, lines; a promise sooner than
//! allowed is moved to the earliest allowed), the catalog (known SKUs; a pickup or curbside store that offers it). A redelivered message (same `ce_id`) changes
//! nothing; a partner order sent again (same partner and partner order id, any `ce_id`) is acknowledged with
//! `omni.order.duplicate_received` naming the first order, and never makes a second one.

use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::accept::PartnerRef;
use crate::app::intake::{Checked, take_all};
use crate::domain::intake::{PartnerStanding, check_partner_order};

/// The CloudEvents type of a partner order.
pub const SUBMITTED: &str = "omni.partner_order.submitted";

/// Where a partner publishes, for refusals.
const OWN_TOPIC: &str = "`omni.orders.inbound.<partner>.v1` (docs/schemas/partner-intake.md)";

/// Takes a partner order; a malformed or invalid one goes to the DLQ with the reason.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let checked = check(&state, &incoming)?;
    Ok(take_all(&state, vec![checked]).await?)
}

/// Takes the partner orders already waiting, in one transaction. Any message that fails a check fails the
/// batch, and the consumer hands each message to [`handle`] instead (which dead-letters only the bad one).
pub async fn handle_batch(state: State, batch: Vec<Incoming>) -> Result<(), HandlerError> {
    let checked = batch
        .iter()
        .map(|incoming| check(&state, incoming))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(take_all(&state, checked).await?)
}

/// The checks that need no database: headers, size, JSON, schema, partner, total.
fn check(state: &State, incoming: &Incoming) -> Result<Checked, HandlerError> {
    match incoming.header("ce_type") {
        Some(SUBMITTED) => {}
        Some(other) => {
            return Err(HandlerError::Permanent(format!(
                "header ce_type: `{other}` is not `{SUBMITTED}`"
            )));
        }
        None => {
            return Err(HandlerError::Permanent(format!(
                "header ce_type: missing (CloudEvents binary mode, `{SUBMITTED}`)"
            )));
        }
    }
    let event_id = incoming.event_id().to_owned();
    if event_id.is_empty()
        || event_id.len() > 256
        || omni_contracts::card_data::holds_card_number(event_id.as_bytes())
    {
        return Err(HandlerError::Permanent(
            "header ce_id: required, 1 to 256 characters, nothing like a card number".into(),
        ));
    }
    let partner_order =
        crate::domain::partner_schema::parse(&incoming.payload, state.settings.max_message_bytes)
            .map_err(|e| HandlerError::Permanent(e.0))?;
    // Nothing card-like is stored: tenders are vault tokens, and no other field may carry a card number.
    if omni_contracts::card_data::json_strings_hold_card_number(&incoming.payload) {
        return Err(HandlerError::Permanent(
            "a field holds what looks like a card number; a partner order carries vault tokens only".into(),
        ));
    }
    // Who sent it is the partner whose own topic carried it (only it may write there), never what the message
    // says: the body must name that partner, and `ce_source`, when it names a partner, too.
    let Some(sender) = incoming.sender_partner.as_deref() else {
        return Err(HandlerError::Permanent(format!(
            "topic: `{}` does not say which partner sent this; each partner publishes on its own topic, {}",
            incoming.topic_name(),
            OWN_TOPIC
        )));
    };
    if sender != partner_order.partner_id.as_str() {
        return Err(HandlerError::Permanent(format!(
            "partner_id: `{}` is not the partner whose topic carried it (`{sender}`)",
            partner_order.partner_id
        )));
    }
    if let Some(claimed) = incoming
        .header("ce_source")
        .and_then(|s| s.strip_prefix("/partners/"))
        && claimed != sender
    {
        return Err(HandlerError::Permanent(format!(
            "header ce_source: names another partner than `/partners/{sender}`, whose topic carried it"
        )));
    }
    let standing = PartnerStanding::of(state.settings.partner(sender));
    let (request, total_minor) = check_partner_order(&partner_order, &standing, chrono::Utc::now())
        .map_err(|e| HandlerError::Permanent(e.0))?;
    Ok(Checked {
        event_id,
        partner: PartnerRef {
            partner_id: partner_order.partner_id,
            partner_order_id: partner_order.partner_order_id,
        },
        request,
        total_minor,
    })
}

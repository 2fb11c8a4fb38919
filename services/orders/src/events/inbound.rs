//! Partner marketplace intake on `omni.orders.inbound.v1`: each partner order is taken exactly once.
//!
//! A message is checked in this order, and the first failure sends it to `omni.orders.inbound.dlq.v1` with the
//! reason in `omni_dlq_reason` and its bytes untouched (the partition moves on): CloudEvents headers
//! (`ce_type` = `omni.partner_order.submitted`, a `ce_id`), size, JSON, the published schema
//! (`docs/schemas/partner-order.v1.schema.json`), the partner (registered and enabled), the total, the
//! catalog (known SKUs; a pickup or curbside store that offers it). A redelivered message (same `ce_id`) changes
//! nothing; a partner order sent again (same partner and partner order id, any `ce_id`) is acknowledged with
//! `omni.order.duplicate_received` naming the first order, and never makes a second one.

use omni_contracts::events::{OrderDuplicateReceived, OrderEvent};
use omni_contracts::{Envelope, PartnerId};
use omni_kafka::{HandlerError, Incoming};

use super::accept::{AcceptError, PartnerRef, accept, check_catalog};
use crate::State;
use crate::db::orders;
use crate::domain::intake::{PartnerStanding, check_partner_order};

/// The CloudEvents type of a partner order.
pub const SUBMITTED: &str = "omni.partner_order.submitted";

/// A partner order that passed every check that needs no database.
struct Checked {
    event_id: String,
    partner: PartnerRef,
    request: omni_contracts::api::NewOrder,
}

/// Takes a partner order; a malformed or invalid one goes to the DLQ with the reason.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let checked = check(&state, &incoming)?;
    take_all(&state, vec![checked]).await
}

/// Takes the partner orders already waiting, in one transaction. Any message that fails a check fails the
/// batch, and the consumer hands each message to [`handle`] instead (which dead-letters only the bad one).
pub async fn handle_batch(state: State, batch: Vec<Incoming>) -> Result<(), HandlerError> {
    let checked = batch
        .iter()
        .map(|incoming| check(&state, incoming))
        .collect::<Result<Vec<_>, _>>()?;
    take_all(&state, checked).await
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
    if event_id.is_empty() || event_id.len() > 256 {
        return Err(HandlerError::Permanent(
            "header ce_id: required, 1 to 256 characters".into(),
        ));
    }
    let partner_order =
        crate::domain::partner_schema::parse(&incoming.payload, state.settings.max_message_bytes)
            .map_err(HandlerError::Permanent)?;
    // A sender that names itself (`ce_source` = `/partners/<id>`) may send only its own orders.
    if let Some(sender) = incoming
        .header("ce_source")
        .and_then(|s| s.strip_prefix("/partners/"))
        && sender != partner_order.partner_id.as_str()
    {
        return Err(HandlerError::Permanent(format!(
            "partner_id: `{}` does not match the sender `/partners/{sender}` (ce_source)",
            partner_order.partner_id
        )));
    }
    let standing = match state.settings.partner(partner_order.partner_id.as_str()) {
        None => PartnerStanding::Unknown,
        Some(p) if !p.enabled => PartnerStanding::Disabled,
        Some(_) => PartnerStanding::Enabled,
    };
    let (request, _) = check_partner_order(&partner_order, standing).map_err(HandlerError::Permanent)?;
    Ok(Checked {
        event_id,
        partner: PartnerRef {
            partner_id: partner_order.partner_id,
            partner_order_id: partner_order.partner_order_id,
        },
        request,
    })
}

/// Records checked partner orders in one transaction, in order: a redelivery (same `ce_id`) changes nothing, a
/// resend (same partner order) is acknowledged, anything else is checked against the catalog and accepted.
async fn take_all(state: &State, checked: Vec<Checked>) -> Result<(), HandlerError> {
    let outcome = state
        .db
        .transaction(move |conn| -> Result<(bool, u64), AcceptError> {
            let (mut wrote, mut taken) = (false, 0);
            for order in checked {
                if !omni_db::inbox::claim(conn, "orders.intake", &order.event_id)? {
                    continue;
                }
                wrote = true;
                let partner = order.partner;
                if let Some(first) =
                    orders::find_by_partner(conn, &partner.partner_id, &partner.partner_order_id)?
                {
                    acknowledge_duplicate(conn, &partner.partner_id, &partner.partner_order_id, &first)?;
                    continue;
                }
                check_catalog(conn, &order.request)?;
                accept(conn, order.request, Some(partner))?;
                taken += 1;
            }
            Ok((wrote, taken))
        })
        .await;
    match outcome {
        Ok((true, taken)) => {
            state
                .orders_total
                .with_label_values(&["marketplace", "accepted"])
                .inc_by(taken);
            state.changed();
            Ok(())
        }
        Ok((false, _)) => Ok(()),
        Err(AcceptError::Invalid(reason)) => Err(HandlerError::Permanent(reason)),
        // Two deliveries of one partner order racing: the unique index stops the second; its retry finds the
        // first and acknowledges it as a duplicate.
        Err(AcceptError::Db(e)) => Err(HandlerError::Transient(e.to_string())),
    }
}

fn acknowledge_duplicate(
    conn: &mut omni_db::DbConnection,
    partner_id: &PartnerId,
    partner_order_id: &str,
    first: &orders::OrderRow,
) -> Result<(), AcceptError> {
    let first = first.to_order()?;
    tracing::info!(order.id = %first.id, partner.id = %partner_id, partner_order_id, "Duplicate partner order acknowledged with the first order.");
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new(
            "orders",
            OrderEvent::DuplicateReceived(OrderDuplicateReceived {
                order_id: first.id,
                partner_id: partner_id.clone(),
                partner_order_id: partner_order_id.to_owned(),
                status: first.status,
            }),
        )
        .for_partner(Some(partner_id)),
    )?;
    Ok(())
}

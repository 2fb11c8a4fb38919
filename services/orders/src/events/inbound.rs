//! Partner marketplace intake on `omni.orders.inbound.v1`: each partner order is taken exactly once.
//!
//! A message is checked in this order, and the first failure sends it to `omni.orders.inbound.dlq.v1` with the
//! reason in `omni_dlq_reason` and its bytes untouched (the partition moves on): CloudEvents headers
//! (`ce_type` = `omni.partner_order.submitted`, a `ce_id`), size, JSON, the published schema
//! (`docs/schemas/partner-order.v1.schema.json`), the partner (registered and enabled), the total, the
//! catalog (known SKUs; a pickup or curbside store that offers it). A redelivered message (same `ce_id`) changes
//! nothing; a partner order sent again (same partner and partner order id, any `ce_id`) is acknowledged with
//! `omni.order.duplicate_received` naming the first order, and never makes a second one.

use std::collections::{HashMap, HashSet};

use omni_contracts::Envelope;
use omni_contracts::api::Order;
use omni_contracts::events::{OrderDuplicateReceived, OrderEvent};
use omni_kafka::{HandlerError, Incoming};

use super::accept::{AcceptError, PartnerRef, new_order};
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
    total_minor: i64,
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
    let (request, total_minor) =
        check_partner_order(&partner_order, standing).map_err(HandlerError::Permanent)?;
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

/// Records checked partner orders in one transaction, in order, with a fixed number of statements whatever
/// their number: a redelivery (same `ce_id`) changes nothing, a resend (same partner order, here or in an earlier
/// transaction) is acknowledged with the first order, anything else is checked against the catalog and accepted.
///
/// The earlier orders are found by the insert itself (`ON CONFLICT DO NOTHING` on the partner's order id): only
/// the resends it skipped are looked up, one by one, so the common case costs no lookup at all.
async fn take_all(state: &State, checked: Vec<Checked>) -> Result<(), HandlerError> {
    let outcome = state
        .db
        .transaction(move |conn| -> Result<(bool, u64), AcceptError> {
            let event_ids: Vec<&str> = checked.iter().map(|o| o.event_id.as_str()).collect();
            let mut fresh = omni_db::inbox::claim_many(conn, "orders.intake", &event_ids)?;
            // A `ce_id` repeated within the batch counts once: the first.
            let fresh: Vec<Checked> = checked
                .into_iter()
                .filter(|o| fresh.remove(&o.event_id))
                .collect();
            if fresh.is_empty() {
                return Ok((false, 0));
            }
            let catalog = crate::db::catalog::known_for(conn, fresh.iter().map(|o| &o.request))?;
            // The first order of each partner order in the batch, once known (stored now or before).
            let mut first_orders: HashMap<PartnerKey, Order> = HashMap::new();
            let mut candidates: Vec<Order> = Vec::new();
            let mut candidate_partners: Vec<PartnerRef> = Vec::new();
            let mut resends: Vec<PartnerRef> = Vec::new();
            let mut in_batch: HashSet<PartnerKey> = HashSet::new();
            for order in fresh {
                let key = partner_key(&order.partner);
                if !in_batch.insert(key.clone()) {
                    resends.push(order.partner);
                    continue;
                }
                if let Err(reason) = catalog.check(&order.request) {
                    // A resend of an order taken before is acknowledged whatever the catalog says now.
                    let first = first_order(conn, &order.partner)?.ok_or(AcceptError::Invalid(reason))?;
                    first_orders.insert(key, first);
                    resends.push(order.partner);
                    continue;
                }
                candidate_partners.push(order.partner.clone());
                candidates.push(new_order(order.request, Some(order.partner), order.total_minor));
            }
            let stored = orders::insert_new(conn, &candidates)?;
            let mut taken = 0;
            for (candidate, partner) in candidates.into_iter().zip(candidate_partners) {
                if stored.contains(&candidate.id) {
                    tracing::info!(order.id = %candidate.id, partner.id = %partner.partner_id, partner_order_id = %partner.partner_order_id, total_minor = candidate.total_minor, "Partner order accepted.");
                    taken += 1;
                    first_orders.insert(partner_key(&partner), candidate);
                } else {
                    // Taken in an earlier transaction (or a concurrent one that committed first).
                    let first = first_order(conn, &partner)?.ok_or_else(first_order_missing)?;
                    acknowledge_duplicate(conn, &partner, &first)?;
                    first_orders.insert(partner_key(&partner), first);
                }
            }
            for partner in resends {
                let first = first_orders
                    .get(&partner_key(&partner))
                    .ok_or_else(first_order_missing)?;
                acknowledge_duplicate(conn, &partner, first)?;
            }
            Ok((true, taken))
        })
        .await;
    match outcome {
        Ok((true, taken)) => {
            state
                .orders_total
                .with_label_values(&["marketplace", "accepted"])
                .inc_by(taken);
            state.orders_arrived();
            Ok(())
        }
        Ok((false, _)) => Ok(()),
        Err(AcceptError::Invalid(reason)) => Err(HandlerError::Permanent(reason)),
        // Two deliveries of one partner order racing do not fail: the second insert waits for the first and
        // acknowledges it as a duplicate.
        Err(AcceptError::Db(e)) => Err(HandlerError::Transient(e.to_string())),
    }
}

/// A partner order's identity: `(partner id, partner order id)`.
type PartnerKey = (String, String);

fn partner_key(partner: &PartnerRef) -> PartnerKey {
    (partner.partner_id.to_string(), partner.partner_order_id.clone())
}

/// The order stored earlier under this partner order id.
fn first_order(conn: &mut omni_db::DbConnection, partner: &PartnerRef) -> Result<Option<Order>, AcceptError> {
    orders::find_by_partner(conn, &partner.partner_id, &partner.partner_order_id)?
        .map(|row| row.to_order())
        .transpose()
        .map_err(AcceptError::Db)
}

/// A row that cannot be missing is: the transaction is retried.
fn first_order_missing() -> AcceptError {
    AcceptError::Db(omni_db::Error::Inconsistent(
        "partner intake: the first order is missing after the insert".into(),
    ))
}

fn acknowledge_duplicate(
    conn: &mut omni_db::DbConnection,
    partner: &PartnerRef,
    first: &Order,
) -> Result<(), AcceptError> {
    let (partner_id, partner_order_id) = (&partner.partner_id, partner.partner_order_id.as_str());
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

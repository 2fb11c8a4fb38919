//! Partner intake's use case: checked partner orders stored in one transaction, each exactly once; a resend is
//! acknowledged with the first order (`omni.order.duplicate_received`). The checks that need no database are the
//! consumer's (`events::inbound`).

use std::collections::{HashMap, HashSet};

use omni_contracts::Envelope;
use omni_contracts::api::{Order, Payer};
use omni_contracts::events::{OrderDuplicateReceived, OrderEvent};

use crate::app::State;
use crate::app::accept::{PartnerRef, new_order};
use crate::db::orders;
use crate::error::AcceptError;

/// A partner order that passed every check that needs no database.
#[derive(Debug)]
pub struct Checked {
    /// The `ce_id` it arrived in.
    pub event_id: String,
    /// Who sent it, and its own order id.
    pub partner: PartnerRef,
    /// The order.
    pub request: omni_contracts::api::NewOrder,
    /// Its total, as checked.
    pub total_minor: i64,
}

/// Records checked partner orders in one transaction, in order, with a fixed number of statements whatever
/// their number: a redelivery (same `ce_id`) changes nothing, a resend (same partner order, here or in an earlier
/// transaction) is acknowledged with the first order, anything else is checked against the catalog and accepted.
///
/// The earlier orders are found by the insert itself (`ON CONFLICT DO NOTHING` on the partner's order id): only
/// the resends it skipped are looked up, one by one, so the common case costs no lookup at all. Each order keeps
/// the `ce_id` it arrived in, so a redelivery is told from a resend by the first order itself; only resends are
/// claimed in the inbox (so each is acknowledged once), and the common case writes no inbox row.
pub async fn take_all(state: &State, checked: Vec<Checked>) -> Result<(), AcceptError> {
    let outcome = state
        .db
        .transaction(move |conn| -> Result<u64, AcceptError> {
            // A `ce_id` repeated within the batch counts once: the first.
            let first_arrivals: Vec<bool> = {
                let mut seen = HashSet::with_capacity(checked.len());
                checked.iter().map(|o| seen.insert(o.event_id.as_str())).collect()
            };
            let mut first_arrivals = first_arrivals.into_iter();
            let mut fresh = checked;
            fresh.retain(|_| first_arrivals.next().unwrap_or(false));
            let catalog = crate::db::catalog::known_for(conn, fresh.iter().map(|o| &o.request))?;
            // Which messages name a partner order an earlier message of the batch named.
            let repeats: Vec<bool> = {
                let mut named = HashSet::with_capacity(fresh.len());
                fresh
                    .iter()
                    .map(|o| !named.insert((o.partner.partner_id.as_str(), o.partner.partner_order_id.as_str())))
                    .collect()
            };
            let batch_repeats = repeats.contains(&true);
            // The first order of each partner order named again, once known (stored now or before).
            let mut first_orders: HashMap<PartnerKey, FirstOrder> = HashMap::new();
            let mut candidates: Vec<Candidate> = Vec::with_capacity(fresh.len());
            // Messages naming a partner order taken before (or earlier in the batch): `(partner, ce_id)`.
            let mut again: Vec<(PartnerRef, String)> = Vec::new();
            for (order, repeat) in fresh.into_iter().zip(repeats) {
                if repeat {
                    again.push((order.partner, order.event_id));
                    continue;
                }
                if let Err(reason) = catalog.check(&order.request) {
                    // A resend of an order taken before is acknowledged whatever the catalog says now.
                    let first = first_order(conn, &order.partner)?.ok_or(AcceptError::Invalid(reason))?;
                    first_orders.insert(partner_key(&order.partner), first);
                    again.push((order.partner, order.event_id));
                    continue;
                }
                candidates.push(Candidate {
                    order: new_order(
                        order.request.accepted(),
                        Some(order.partner.clone()),
                        order.total_minor,
                        Payer::partner(&order.partner.partner_id),
                    ),
                    partner: order.partner,
                    event_id: order.event_id,
                });
            }
            let stored = orders::insert_new(
                conn,
                candidates.iter().map(|c| (&c.order, Some(c.event_id.as_str()))),
            )?;
            let mut taken = 0;
            for Candidate { order, partner, event_id } in candidates {
                if stored.contains(&order.id) {
                    tracing::debug!(order.id = %order.id, partner.id = %partner.partner_id, partner_order_id = %partner.partner_order_id, total_minor = order.total_minor, "Partner order accepted.");
                    taken += 1;
                    // Kept only for a later message of the batch naming the same partner order.
                    if batch_repeats {
                        first_orders.insert(partner_key(&partner), FirstOrder { order, event_id: Some(event_id) });
                    }
                } else {
                    // Taken in an earlier transaction (or a concurrent one that committed first).
                    let first = first_order(conn, &partner)?.ok_or_else(first_order_missing)?;
                    first_orders.insert(partner_key(&partner), first);
                    again.push((partner, event_id));
                }
            }
            // The message the first order arrived in, delivered again, changes nothing; any other is a resend,
            // acknowledged once (its `ce_id` claimed in the inbox; orders taken before the first order kept its
            // `ce_id` had theirs claimed there too).
            let resends: Vec<(PartnerRef, String)> = again
                .into_iter()
                .map(|(partner, event_id)| {
                    let first = first_orders.get(&partner_key(&partner)).ok_or_else(first_order_missing)?;
                    Ok((first.event_id.as_deref() != Some(event_id.as_str())).then_some((partner, event_id)))
                })
                .filter_map(Result::transpose)
                .collect::<Result<_, AcceptError>>()?;
            let event_ids: Vec<&str> = resends.iter().map(|(_, event_id)| event_id.as_str()).collect();
            let unacknowledged = omni_db::inbox::claim_many(conn, "orders.intake", &event_ids)?;
            for (partner, event_id) in &resends {
                if unacknowledged.contains(event_id) {
                    let first = first_orders.get(&partner_key(partner)).ok_or_else(first_order_missing)?;
                    acknowledge_duplicate(conn, partner, &first.order)?;
                }
            }
            Ok(taken)
        })
        .await;
    // Two deliveries of one partner order racing do not fail: the second insert waits for the first and
    // acknowledges it as a duplicate.
    let taken = outcome?;
    if taken > 0 {
        // One line per batch: at tens of thousands of orders a second, a line per order costs more than checking
        // it. Each order is on `omni.orders.v1` once sent on, and at debug level here.
        tracing::info!(orders = taken, "Partner orders accepted.");
        state
            .orders_total
            .with_label_values(&["marketplace", "accepted"])
            .inc_by(taken);
        state.orders_arrived();
    }
    Ok(())
}

/// A partner order about to be stored: the new order, who sent it and the `ce_id` it arrived in.
struct Candidate {
    order: Order,
    partner: PartnerRef,
    event_id: String,
}

/// The order a partner order made, and the `ce_id` of the message it arrived in (unknown for orders taken
/// before that was kept, or taken over HTTP).
struct FirstOrder {
    order: Order,
    event_id: Option<String>,
}

/// A partner order's identity: `(partner id, partner order id)`.
type PartnerKey = (String, String);

fn partner_key(partner: &PartnerRef) -> PartnerKey {
    (partner.partner_id.to_string(), partner.partner_order_id.clone())
}

/// The order stored earlier under this partner order id.
fn first_order(
    conn: &mut omni_db::DbConnection,
    partner: &PartnerRef,
) -> Result<Option<FirstOrder>, AcceptError> {
    let Some(row) = orders::find_by_partner(conn, &partner.partner_id, &partner.partner_order_id)? else {
        return Ok(None);
    };
    Ok(Some(FirstOrder {
        order: row.to_order()?,
        event_id: row.intake_event_id,
    }))
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

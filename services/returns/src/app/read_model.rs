//! The read model returns are checked against, each event recorded once in one transaction: the orders (lines,
//! prices, channel, with the return policy's snapshot taken when they are accepted), what left for the customer
//! (fulfillment's `completed`), and the catalog's SKU tags (for final-sale items). Once something of an order was
//! delivered and the order is known, it is issued its return code (`omni.return.code_issued`, to the customer).

use omni_contracts::api::OrderStatus;
use omni_contracts::events::{CatalogEvent, FulfillmentCompleted, OrderEvent, ReturnCodeIssued, ReturnEvent};
use omni_contracts::{Envelope, OrderId};

use crate::db::{deliveries, order_views, return_codes, sku_tags};
use crate::domain::policy::ReturnPolicy;
use crate::error::ReadModelError;

/// Records one order event (once per `event_id`) in the caller's transaction; an accepted order keeps `policy`'s
/// snapshot for its SKUs.
pub fn record(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    event: &OrderEvent,
    policy: &ReturnPolicy,
) -> Result<(), ReadModelError> {
    if !omni_db::inbox::claim(conn, "returns.orders", event_id)? {
        return Ok(());
    }
    match event {
        OrderEvent::Accepted(a) => {
            let lines = serde_json::to_string(&a.order.request.lines).map_err(|source| {
                ReadModelError::Unstorable {
                    order_id: a.order.id,
                    source,
                }
            })?;
            let mut tags = Vec::new();
            for line in &a.order.request.lines {
                tags.push((line.sku.clone(), sku_tags::of(conn, &line.sku)?));
            }
            let snapshot = policy.snapshot(
                a.order.request.channel,
                tags.iter().map(|(sku, tags)| (sku, tags.as_slice())),
            );
            let snapshot = serde_json::to_string(&snapshot).map_err(|source| ReadModelError::Unstorable {
                order_id: a.order.id,
                source,
            })?;
            order_views::insert_accepted(conn, &a.order, &lines, &snapshot)?;
            issue_code(conn, a.order.id)?;
        }
        OrderEvent::Reserved(r) => {
            order_views::update_status(conn, r.order_id, OrderStatus::Reserved, Some(&r.location_id))?
        }
        OrderEvent::PaymentAuthorized(p) => {
            order_views::update_status(conn, p.order_id, OrderStatus::PaymentAuthorized, None)?
        }
        OrderEvent::Released(r) => {
            order_views::update_status(conn, r.order_id, OrderStatus::Released, Some(&r.location_id))?
        }
        OrderEvent::Fulfilled(f) => {
            order_views::update_status(conn, f.order_id, OrderStatus::Fulfilled, Some(&f.location_id))?
        }
        OrderEvent::Completed(c) => {
            order_views::update_status(conn, c.order_id, OrderStatus::Completed, None)?
        }
        OrderEvent::Failed(f) => {
            order_views::update_status(conn, f.order_id, OrderStatus::Failed, None)?;
            crate::app::exchange::replacement_ended(conn, f.order_id, &f.reason)?;
        }
        // Still accepted: routing chooses another node.
        OrderEvent::RerouteRequested(_) => {}
        // One part of a split order left; the order stays released until every part has.
        OrderEvent::PartDelivered(_) => {}
        OrderEvent::AwaitingPayment(a) => {
            order_views::update_status(conn, a.order_id, OrderStatus::AwaitingPayment, None)?
        }
        OrderEvent::Cancelled(c) => {
            order_views::update_status(conn, c.order_id, OrderStatus::Cancelled, None)?;
            crate::app::exchange::replacement_ended(conn, c.order_id, &format!("cancelled by {}", c.by))?;
        }
        OrderEvent::CancelRequested(c) => {
            order_views::update_status(conn, c.order_id, OrderStatus::Cancelling, None)?
        }
        // An acknowledgement for the partner; the order did not change.
        OrderEvent::DuplicateReceived(_) => {}
    }
    Ok(())
}

/// Records what one fulfillment delivered (once per `event_id`), at `at`.
pub fn record_delivery(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    completed: &FulfillmentCompleted,
    at: chrono::NaiveDateTime,
) -> Result<(), ReadModelError> {
    if !omni_db::inbox::claim(conn, "returns.fulfillment", event_id)? {
        return Ok(());
    }
    deliveries::record(
        conn,
        completed.order_id,
        completed.fulfillment_id,
        &completed.location_id,
        &completed.delivered,
        at,
    )?;
    issue_code(conn, completed.order_id)?;
    Ok(())
}

/// Letters of a return code (about 50 bits).
const RETURN_CODE_LETTERS: usize = 10;

/// Issues the order its return code, once: when the order is known and something of it was delivered (whichever
/// of the two returns learns last). Only the code's digest is kept; the code goes to the customer in
/// `omni.return.code_issued`, in the caller's transaction.
fn issue_code(conn: &mut omni_db::DbConnection, order: OrderId) -> Result<(), ReadModelError> {
    if order_views::find(conn, order)?.is_none() || return_codes::digest_of(conn, order)?.is_some() {
        return Ok(());
    }
    if deliveries::of_order(conn, order)?.1.is_none() {
        return Ok(());
    }
    let code = omni_http::codes::new_code(RETURN_CODE_LETTERS);
    return_codes::keep(conn, order, &omni_http::codes::digest(&code))?;
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new(
            "returns",
            ReturnEvent::CodeIssued(ReturnCodeIssued {
                order_id: order,
                return_code: code,
            }),
        ),
    )?;
    Ok(())
}

/// Keeps a SKU's tags from the catalog.
pub fn record_catalog(conn: &mut omni_db::DbConnection, event: &CatalogEvent) -> Result<(), ReadModelError> {
    match event {
        CatalogEvent::SkuUpserted(sku) => sku_tags::upsert(conn, &sku.sku, &sku.tags)?,
        CatalogEvent::LocationUpserted(_) => {}
    }
    Ok(())
}

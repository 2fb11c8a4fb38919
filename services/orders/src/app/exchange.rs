//! A return's replacement order (issue 23, ADR 0010), each step once per returns event in the caller's
//! transaction:
//!
//! - **held** (`omni.return.exchange_requested`): the order is stored for the customer, channel and currency of the
//!   order returned from, in status `held`: the dispatcher does not send it on. One the catalog refuses is stored
//!   `failed` and announced, so returns withdraws the exchange.
//! - **released** (`exchange_released`): the returned units came; the store credit they are worth joins its tenders
//!   (first in charge order) and it becomes `accepted`, sent on like any order.
//! - **withdrawn** (`exchange_cancelled`): still held, it is `cancelled` (nothing was held or authorized for it).

use omni_contracts::Envelope;
use omni_contracts::api::{AcceptedRequest, ExchangeFor, Order, OrderStatus, Payer, PaymentMethod};
use omni_contracts::events::{
    ExchangeCancelled, ExchangeReleased, ExchangeRequested, OrderCancelled, OrderEvent, OrderFailed,
};
use omni_db::DbConnection;

use crate::app::accept::{PartnerRef, new_order};
use crate::app::saga::Moved;
use crate::db::orders;
use crate::domain::saga::Change;
use crate::error::SagaFailure;

/// Stores the replacement order, held; the channel and new state when it was stored.
pub fn hold(conn: &mut DbConnection, asked: &ExchangeRequested) -> Result<Moved, SagaFailure> {
    if orders::find(conn, asked.replacement_order_id)?.is_some() {
        return Ok(None);
    }
    let Some(original) = orders::find(conn, asked.order_id)? else {
        tracing::warn!(order.id = %asked.order_id, r#return.id = %asked.return_id, "An exchange names an order orders does not know; no replacement made.");
        return Ok(None);
    };
    let original = original.to_order()?;
    let request = AcceptedRequest {
        channel: original.request.channel,
        customer: original.request.customer.clone(),
        currency: original.request.currency,
        lines: asked.lines.clone(),
        delivery: asked.delivery.clone(),
        tenders: asked.tenders.clone(),
        promise_by: None,
        preorder: false,
        placed_at: None,
    };
    let refusal = check(conn, &request, asked)?;
    let total_minor = request.total_minor().unwrap_or(i64::MAX);
    // A partner's replacement is the partner's too (it sees and cancels it), under no id of its own.
    let partner = original.partner_id.clone().map(|partner_id| PartnerRef {
        partner_id,
        partner_order_id: String::new(),
    });
    let mut order = new_order(
        request,
        partner,
        total_minor,
        Payer::parse(&asked.placed_by).unwrap_or_default(),
    );
    order.id = asked.replacement_order_id;
    order.partner_order_id = None;
    order.status = if refusal.is_some() {
        OrderStatus::Failed
    } else {
        OrderStatus::Held
    };
    order.failure_reason = refusal.clone();
    orders::insert_new(conn, [(&order, None)])?;
    orders::set_exchange_for(
        conn,
        order.id,
        &ExchangeFor {
            return_id: asked.return_id,
            order_id: asked.order_id,
            credit_minor: asked.credit_minor,
        },
    )?;
    if let Some(reason) = refusal {
        tracing::info!(order.id = %order.id, r#return.id = %asked.return_id, reason, "Replacement order refused.");
        announce(
            conn,
            &order,
            OrderEvent::Failed(OrderFailed {
                order_id: order.id,
                reason,
            }),
        )?;
    } else {
        tracing::info!(order.id = %order.id, r#return.id = %asked.return_id, "Replacement order held until the returned units come.");
    }
    Ok(Some((
        order.request.channel.as_str().to_owned(),
        order.status.as_str().to_owned(),
    )))
}

/// Sends a held replacement on with its credit; a replacement no longer held (cancelled meanwhile) stays as it is.
pub fn release(conn: &mut DbConnection, released: &ExchangeReleased) -> Result<Moved, SagaFailure> {
    let Some(row) = orders::find(conn, released.replacement_order_id)? else {
        return Err(SagaFailure::UnknownOrder(released.replacement_order_id));
    };
    if row.status != OrderStatus::Held {
        tracing::info!(order.id = %row.id, status = row.status.as_str(), "Replacement released, but it is no longer held; left as it is.");
        return Ok(None);
    }
    let order = row.to_order()?;
    let mut request = order.request.clone();
    if let Some(credit) = released.credit.as_ref().filter(|_| released.credit_minor > 0) {
        request.tenders.insert(
            0,
            PaymentMethod::StoreCredit {
                reference: credit.reference.clone(),
                last4: credit.last4.clone(),
                amount_minor: Some(released.credit_minor),
            },
        );
    }
    orders::apply(
        conn,
        order.id,
        &Change {
            status: Some(OrderStatus::Accepted),
            request: Some(request),
            ..Change::default()
        },
    )?;
    tracing::info!(order.id = %order.id, r#return.id = %released.return_id, "Replacement order released: the returned units came.");
    Ok(Some((row.channel, OrderStatus::Accepted.as_str().to_owned())))
}

/// Cancels a held replacement whose exchange was withdrawn.
pub fn withdraw(conn: &mut DbConnection, cancelled: &ExchangeCancelled) -> Result<Moved, SagaFailure> {
    let Some(row) = orders::find(conn, cancelled.replacement_order_id)? else {
        return Ok(None);
    };
    if row.status != OrderStatus::Held {
        return Ok(None);
    }
    let order = row.to_order()?;
    let reason = format!("exchange withdrawn: {}", cancelled.reason);
    orders::apply(
        conn,
        order.id,
        &Change {
            status: Some(OrderStatus::Cancelled),
            failure_reason: Some(reason.clone()),
            ..Change::default()
        },
    )?;
    announce(
        conn,
        &order,
        OrderEvent::Cancelled(OrderCancelled {
            order_id: order.id,
            by: format!("returns ({reason})"),
        }),
    )?;
    Ok(Some((row.channel, OrderStatus::Cancelled.as_str().to_owned())))
}

/// Why orders refuses the replacement (the catalog does not know a SKU or the store, its tenders do not pay what
/// the credit leaves), if it does.
fn check(
    conn: &mut DbConnection,
    request: &AcceptedRequest,
    asked: &ExchangeRequested,
) -> Result<Option<String>, SagaFailure> {
    let catalog = crate::db::catalog::known_for(conn, [request])?;
    if let Err(refused) = catalog.check(request) {
        return Ok(Some(refused.to_string()));
    }
    let Some(total) = request.total_minor() else {
        return Ok(Some("lines: the total overflows".into()));
    };
    let paid: i64 = request
        .tenders
        .iter()
        .map(|t| t.amount_minor().unwrap_or(0))
        .sum::<i64>()
        + asked.credit_minor;
    Ok((paid != total || asked.credit_minor < 0).then(|| {
        format!(
            "tenders: the credit ({}) and the tenders pay {paid}, the replacement costs {total}",
            asked.credit_minor
        )
    }))
}

fn announce(conn: &mut DbConnection, order: &Order, event: OrderEvent) -> Result<(), SagaFailure> {
    omni_kafka::outbox::enqueue(
        conn,
        &Envelope::new("orders", event).for_partner(order.partner_id.as_ref()),
    )?;
    Ok(())
}

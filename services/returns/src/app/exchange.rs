//! A return's exchange (issue 23, ADR 0010): the replacement order is asked of orders when the return is approved
//! (`omni.return.exchange_requested`: orders holds it), and released when the units are in and the credit they
//! are worth is issued as store credit (`exchange_released`: orders adds the credit to its tenders and sends it
//! on). A return that ends without its units, a replacement cancelled or failed while held, or units worth less
//! than the credit the replacement counts on withdraw it (`exchange_cancelled`), and the return refunds instead.
//! Every step runs in the caller's transaction, under the order's lock where the return's state is decided.

use omni_contracts::events::{
    ExchangeCancelled, ExchangeReleased, ExchangeRequested, PaymentEvent, ReturnEvent, StoreCreditRequested,
};
use omni_contracts::returns::{ExchangeStatus, Return, ReturnStatus, StoreCreditRef};
use omni_contracts::{Envelope, Money, OrderId, ReturnId};
use omni_db::DbConnection;

use crate::app::announce;
use crate::db::returns;
use crate::domain::exchange::{self, OnReceipt};
use crate::error::ReturnError;

/// The prefix of the store credit issue ids an exchange's credit is asked of payments with: `exchange-<return id>`.
pub const CREDIT_PREFIX: &str = "exchange-";

/// Asks orders for the replacement order of an approved return's exchange (held until the units come).
pub fn request(conn: &mut DbConnection, r: &Return) -> Result<(), ReturnError> {
    let Some(exchange) = &r.exchange else {
        return Ok(());
    };
    announce(
        conn,
        ReturnEvent::ExchangeRequested(ExchangeRequested {
            return_id: r.id,
            order_id: r.order_id,
            replacement_order_id: exchange.order_id,
            lines: exchange.lines.clone(),
            delivery: exchange.delivery.clone(),
            credit_minor: exchange.credit_minor,
            tenders: exchange.tenders.clone(),
            placed_by: exchange.placed_by.as_str().to_owned(),
        }),
    )
}

/// Withdraws a held exchange, saying why; `tell_orders` when orders holds the replacement (it was asked for, and
/// orders did not end it itself). A released or cancelled exchange stays as it is.
fn withdraw(conn: &mut DbConnection, r: &Return, reason: &str, tell_orders: bool) -> omni_db::Result<()> {
    let Some(exchange) = &r.exchange else {
        return Ok(());
    };
    if exchange.status != ExchangeStatus::Held {
        return Ok(());
    }
    let mut cancelled = exchange.clone();
    cancelled.status = ExchangeStatus::Cancelled;
    cancelled.cancelled_reason = Some(reason.to_owned());
    returns::keep_exchange(conn, r.id, &cancelled)?;
    tracing::info!(r#return.id = %r.id, order.id = %exchange.order_id, reason, "Exchange withdrawn; the return refunds instead.");
    if tell_orders {
        omni_kafka::outbox::enqueue(
            conn,
            &Envelope::new(
                "returns",
                ReturnEvent::ExchangeCancelled(ExchangeCancelled {
                    return_id: r.id,
                    order_id: r.order_id,
                    replacement_order_id: exchange.order_id,
                    reason: reason.to_owned(),
                }),
            ),
        )?;
    }
    Ok(())
}

/// The return ended without its units (declined, cancelled, expired): its held exchange is withdrawn, and orders is
/// told unless the return never got past `requested` (the replacement was never asked for).
pub fn end_with_return(conn: &mut DbConnection, r: &Return, reason: &str) -> omni_db::Result<()> {
    withdraw(conn, r, reason, r.status != ReturnStatus::Requested)
}

/// The replacement order ended by itself while held (cancelled by its customer or staff, or refused by orders):
/// its exchange is withdrawn, and the return will refund instead.
pub fn replacement_ended(conn: &mut DbConnection, order_id: OrderId, why: &str) -> omni_db::Result<()> {
    let Some(found) = returns::by_exchange_order(conn, order_id)? else {
        return Ok(());
    };
    omni_db::lock_transaction(conn, &format!("returns.order.{}", found.order_id))?;
    let Some(found) = returns::find(conn, found.id)? else {
        return Ok(());
    };
    withdraw(
        conn,
        &found,
        &format!("the replacement order ended: {why}"),
        false,
    )
}

/// What a return whose units are in refunds beside its exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToRefund {
    /// Everything the units are worth: no exchange goes on (none, withdrawn before, or withdrawn now).
    All,
    /// What they are worth beyond the exchange's credit, which is asked of payments as store credit (the exchange
    /// is released when it is issued; a credit of 0 releases it now).
    Rest(i64),
}

/// The units of a return with a held exchange are in, worth `received`: either its credit is asked of payments and
/// the rest is to be refunded, or the exchange is withdrawn and all of `received` is.
pub fn on_receipt(conn: &mut DbConnection, r: &Return, received: Money) -> Result<ToRefund, ReturnError> {
    let Some(exchange) = r.exchange.as_ref().filter(|e| e.status == ExchangeStatus::Held) else {
        return Ok(ToRefund::All);
    };
    match exchange::on_receipt(exchange, received.amount_minor) {
        OnReceipt::Short { reason } => {
            withdraw(conn, r, &reason, true)?;
            Ok(ToRefund::All)
        }
        OnReceipt::Release {
            credit_minor,
            rest_minor,
        } => {
            if credit_minor == 0 {
                release(conn, r, None)?;
            } else {
                omni_kafka::outbox::enqueue(
                    conn,
                    &Envelope::new(
                        "returns",
                        PaymentEvent::StoreCreditRequested(StoreCreditRequested {
                            order_id: r.order_id,
                            issue_id: format!("{CREDIT_PREFIX}{}", r.id),
                            amount: Money {
                                amount_minor: credit_minor,
                                currency: received.currency,
                            },
                            reason: format!("exchange for order {}", exchange.order_id),
                        }),
                    ),
                )?;
            }
            Ok(ToRefund::Rest(rest_minor))
        }
    }
}

/// Payments issued the exchange's credit: kept on the return, and the held exchange released (a withdrawn one
/// leaves the credit with the customer, whose code payments sent them). What the return settled for, if it did now.
pub fn credit_issued(
    conn: &mut DbConnection,
    id: ReturnId,
    credit: StoreCreditRef,
) -> Result<Option<Money>, ReturnError> {
    let Some(found) = returns::find(conn, id)? else {
        return Ok(None);
    };
    returns::keep_store_credit(conn, id, &credit)?;
    if found
        .exchange
        .as_ref()
        .is_some_and(|e| e.status == ExchangeStatus::Held)
    {
        release(conn, &found, Some(credit))?;
    }
    settle_if_done(conn, id)
}

/// Payments refused the exchange's credit (it would pay back more than the order paid): the replacement is
/// withdrawn; the return stays graded for a manager.
pub fn credit_refused(conn: &mut DbConnection, id: ReturnId, reason: &str) -> Result<(), ReturnError> {
    let Some(found) = returns::find(conn, id)? else {
        return Ok(());
    };
    Ok(withdraw(
        conn,
        &found,
        &format!("payments refused the exchange's credit: {reason}"),
        true,
    )?)
}

/// The refund of what the units were worth beyond the credit was made: kept, and the return settled if the
/// exchange is released. What it settled for, if it did.
pub fn rest_refunded(
    conn: &mut DbConnection,
    id: ReturnId,
    refunded: Money,
) -> Result<Option<Money>, ReturnError> {
    let Some(found) = returns::find(conn, id)? else {
        return Ok(None);
    };
    let Some(mut kept) = found.exchange.clone() else {
        return Ok(None);
    };
    kept.rest_refunded_minor = Some(refunded.amount_minor);
    returns::keep_exchange(conn, id, &kept)?;
    settle_if_done(conn, id)
}

/// Settles a graded return whose exchange is released and whose rest is refunded (or was nothing): what the
/// units were worth, credit and rest, if it settled now.
pub fn settle_if_done(conn: &mut DbConnection, id: ReturnId) -> Result<Option<Money>, ReturnError> {
    let Some(found) = returns::find(conn, id)? else {
        return Ok(None);
    };
    let Some(exchange) = &found.exchange else {
        return Ok(None);
    };
    if exchange::settled(exchange, found.refund_minor) != Some(true) {
        return Ok(None);
    }
    let currency = crate::db::order_views::find(conn, found.order_id)?
        .ok_or(ReturnError::UnknownOrder(found.order_id))?
        .currency;
    let worth = Money {
        amount_minor: found.refund_minor,
        currency,
    };
    Ok(crate::app::settlement::settle(conn, id, worth, None)?.then_some(worth))
}

fn release(conn: &mut DbConnection, r: &Return, credit: Option<StoreCreditRef>) -> Result<(), ReturnError> {
    let Some(exchange) = &r.exchange else {
        return Ok(());
    };
    let mut released = exchange.clone();
    released.status = ExchangeStatus::Released;
    returns::keep_exchange(conn, r.id, &released)?;
    tracing::info!(r#return.id = %r.id, order.id = %exchange.order_id, credit_minor = exchange.credit_minor, "Exchange released: the replacement order goes on.");
    announce(
        conn,
        ReturnEvent::ExchangeReleased(ExchangeReleased {
            return_id: r.id,
            order_id: r.order_id,
            replacement_order_id: exchange.order_id,
            credit,
            credit_minor: exchange.credit_minor,
        }),
    )
}

//! Return authorizations (DESIGN §7): opening one (checked against the order's policy snapshot and what it can
//! still return, under the order's lock, so two returns racing for the last unit cannot both be taken), and
//! receiving its units graded at a store: a restock puts the unit back on sale there (a `return_restock` stock
//! movement for allocation) in the same transaction as the return's events (outbox), and the refund of the received
//! units is asked of payments (`omni.payment.refund_requested`, answered by `refunded`, which settles the return).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use omni_contracts::api::{MovementKind, OrderLine, Payer, StockMovement};
use omni_contracts::events::{
    InventoryEvent, PaymentEvent, RefundRequested, ReturnApproved, ReturnEvent, ReturnReceived,
    ReturnRequested, ReturnUnitGraded, ReturnUnitRestocked, StoreCreditRequested,
};
use omni_contracts::returns::{
    Declined, NewReturn, RefundTo, Return, ReturnLine, ReturnMethod, ReturnStatus, ReturnUnit, UnitReceipt,
};
use omni_contracts::{Envelope, LocationId, Money, MovementId, OrderId, Quantity, ReturnId, Sku};
use omni_db::DbConnection;

use crate::app::exchange;
use crate::app::settlement::settle;
use crate::app::{State, announce};
use crate::db::{deliveries, order_views, returns};
use crate::domain::policy::{Decline, PolicySnapshot, Verdict};
use crate::domain::refund::unit_refund;
use crate::domain::returnable;
use crate::error::ReturnError;
use crate::metrics::Outcome;

/// The prefix of the refund (and store credit issue) ids returns asks payments for: `return-<return id>`.
pub const REFUND_PREFIX: &str = "return-";

/// What opening a return did.
#[derive(Debug, Clone)]
pub enum Opened {
    /// A new return.
    Created(Return),
    /// Its request id was seen before: the return it made.
    Again(Return),
}

/// Who asks for a return.
#[derive(Debug, Clone)]
pub struct Asker {
    /// The principal's name (audit, events).
    pub name: String,
    /// Whether they are a store manager (who approves what the policy leaves to one, and may override refunds).
    pub manager: bool,
    /// Whose card tokens pay what an exchange's replacement costs beyond the returned units.
    pub payer: Payer,
}

/// Opens a return asked by `by` at `now`; with units and an in-store method, receives them at once (the counter's
/// instant return). A return the policy leaves to a store manager is approved at once when `by` is one, and
/// otherwise waits for the decision (`requested`, its units not received yet). Refusals change nothing.
pub async fn open(
    state: &State,
    asked: NewReturn,
    by: Asker,
    now: DateTime<Utc>,
) -> Result<Opened, ReturnError> {
    check_request_id(&asked.request_id)?;
    if asked.lines.is_empty() {
        return Err(ReturnError::Invalid("lines: name at least one line".into()));
    }
    match (asked.refund_to, &asked.exchange) {
        (RefundTo::Exchange, None) => {
            return Err(ReturnError::Invalid(
                "exchange: refund_to \"exchange\" needs the replacement (exchange.lines, exchange.delivery)"
                    .into(),
            ));
        }
        (RefundTo::OriginalTenders | RefundTo::StoreCredit, Some(_)) => {
            return Err(ReturnError::Invalid(
                "refund_to: a return with an exchange is refunded toward it (\"exchange\")".into(),
            ));
        }
        _ => {}
    }
    let instant = !asked.units.is_empty();
    if instant && asked.method == ReturnMethod::ByMail {
        return Err(ReturnError::Invalid(
            "units: a return by mail is received at the returns desk (POST /v1/returns/{id}/receipts), not when \
             it is asked"
                .into(),
        ));
    }
    let items_within = state.items_within;
    let Asker {
        name: by,
        manager,
        payer,
    } = by;
    let opened = state
        .db
        .transaction(move |conn| -> Result<Opened, ReturnError> {
            if let Some(known) = returns::by_request(conn, &asked.request_id)? {
                return if known.order_id == asked.order_id {
                    Ok(Opened::Again(known))
                } else {
                    Err(ReturnError::RequestIdReused(asked.request_id))
                };
            }
            omni_db::lock_transaction(conn, &format!("returns.order.{}", asked.order_id))?;
            let order =
                order_views::find(conn, asked.order_id)?.ok_or(ReturnError::UnknownOrder(asked.order_id))?;
            let snapshot: PolicySnapshot = order
                .policy
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .ok_or(ReturnError::UnknownOrder(asked.order_id))?;
            let (delivered, delivered_at) = deliveries::of_order(conn, asked.order_id)?;
            let Some(delivered_at) = delivered_at else {
                return Err(ReturnError::Declined(Decline {
                    rule: "not_delivered",
                    reason: "nothing of the order was shipped or handed over yet: cancel it instead".into(),
                }));
            };
            let lines_sold = order_lines(&order)?;
            let refund_minor: i64 = asked
                .lines
                .iter()
                .map(|l| {
                    unit_refund(&lines_sold, order.total_minor, &l.sku).unwrap_or(0)
                        * i64::from(l.quantity.get())
                })
                .sum();
            let verdict = snapshot
                .allows(&asked.lines, delivered_at.and_utc(), now, refund_minor)
                .map_err(ReturnError::Declined)?;
            if let Some(asked) = &asked.exchange {
                for (i, line) in asked.lines.iter().enumerate() {
                    if !crate::db::sku_tags::is_known(conn, &line.sku)? {
                        return Err(ReturnError::Invalid(format!(
                            "exchange.lines[{i}].sku: `{}` is not in the catalog (or returns has not learnt it yet)",
                            line.sku
                        )));
                    }
                }
            }
            let exchange = asked
                .exchange
                .as_ref()
                .map(|e| crate::domain::exchange::plan(e, refund_minor, OrderId::generate(), &payer))
                .transpose()
                .map_err(|e| ReturnError::Invalid(e.0))?;
            let held = returns::held_units(conn, asked.order_id, None)?;
            returnable::fits(&asked.lines, &delivered, &held).map_err(ReturnError::Declined)?;
            if instant {
                let lines: Vec<(Sku, u32)> = asked
                    .lines
                    .iter()
                    .map(|l| (l.sku.clone(), l.quantity.get()))
                    .collect();
                units_match(&lines, &asked.units)?;
            }

            let id = ReturnId::generate();
            // Approved (by the policy, or by the manager asking): at the counter the units are received below;
            // otherwise they are to come. Left to a manager: it waits for the decision.
            let referral = match verdict {
                Verdict::Approved => None,
                Verdict::NeedsManager(referral) => Some(referral),
            };
            let waits = referral.is_some() && !manager;
            let status = match (waits, instant) {
                (true, _) => ReturnStatus::Requested,
                (false, true) => ReturnStatus::Approved,
                (false, false) => ReturnStatus::AwaitingItems,
            };
            let lines: Vec<ReturnLine> = asked
                .lines
                .iter()
                .map(|l| ReturnLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity.get(),
                    reason: l.reason,
                    received: 0,
                })
                .collect();
            let created = Return {
                id,
                request_id: asked.request_id.clone(),
                order_id: asked.order_id,
                status,
                method: asked.method.clone(),
                refund_to: asked.refund_to,
                lines: lines.clone(),
                units: Vec::new(),
                refund_minor: 0,
                declined: None,
                store_credit: None,
                awaiting_manager: referral.as_ref().filter(|_| waits).map(|r| Declined {
                    rule: r.rule.to_owned(),
                    reason: r.reason.clone(),
                }),
                requested_by: by.clone(),
                // Waiting for its items, or for a manager's decision: it lapses if neither comes in time.
                expires_at: matches!(status, ReturnStatus::AwaitingItems | ReturnStatus::Requested)
                    .then(|| now + items_within),
                created_at: now,
                updated_at: now,
                exchange,
            };
            returns::insert(conn, &created)?;
            omni_db::audit::record(
                conn,
                &by,
                "return.opened",
                &id.to_string(),
                &serde_json::json!({
                    "order_id": asked.order_id,
                    "request_id": asked.request_id,
                    "lines": created.lines,
                    "method": asked.method,
                    "exchange": created.exchange,
                }),
            )?;
            announce(
                conn,
                ReturnEvent::Requested(ReturnRequested {
                    return_id: id,
                    order_id: asked.order_id,
                    lines,
                    method: asked.method.clone(),
                }),
            )?;
            if waits {
                let stored = returns::find(conn, id)?.ok_or(ReturnError::Vanished(id))?;
                return Ok(Opened::Created(stored));
            }
            if let Some(referral) = &referral {
                omni_db::audit::record(
                    conn,
                    &by,
                    "return.approved",
                    &id.to_string(),
                    &serde_json::json!({ "rule": referral.rule, "reason": referral.reason }),
                )?;
            }
            announce(
                conn,
                ReturnEvent::Approved(ReturnApproved {
                    return_id: id,
                    order_id: asked.order_id,
                    by: if referral.is_some() {
                        by.clone()
                    } else {
                        "policy".into()
                    },
                }),
            )?;
            exchange::request(conn, &created)?;
            if let (true, ReturnMethod::InStore { location_id }) = (instant, &asked.method) {
                receive_in(
                    conn,
                    &created,
                    &order,
                    &lines_sold,
                    location_id,
                    &asked.units,
                    &by,
                )?;
            }
            let stored = returns::find(conn, id)?.ok_or(ReturnError::Vanished(id))?;
            Ok(Opened::Created(stored))
        })
        .await;
    match &opened {
        Ok(Opened::Created(r)) => {
            state.relay.notify_one();
            state.metrics.count(Outcome::Opened);
            state.metrics.graded(r);
            if r.status == ReturnStatus::Settled {
                state.metrics.count(Outcome::Settled);
            }
        }
        Err(ReturnError::Declined(_)) => state.metrics.count(Outcome::Declined),
        _ => {}
    }
    opened
}

/// Receives the graded units of a return awaiting them (by mail, or brought to a store later) at `location_id`,
/// any store, by `by` (audited).
pub async fn receive(
    state: &State,
    id: ReturnId,
    location_id: LocationId,
    units: Vec<UnitReceipt>,
    by: String,
) -> Result<Return, ReturnError> {
    let received = state
        .db
        .transaction(move |conn| -> Result<Return, ReturnError> {
            let found = returns::find(conn, id)?.ok_or(ReturnError::UnknownReturn(id))?;
            omni_db::lock_transaction(conn, &format!("returns.order.{}", found.order_id))?;
            let found = returns::find(conn, id)?.ok_or(ReturnError::UnknownReturn(id))?;
            if found.status != ReturnStatus::AwaitingItems {
                return Err(ReturnError::NotReceivable(id, found.status));
            }
            let asked: Vec<(Sku, u32)> = found.lines.iter().map(|l| (l.sku.clone(), l.quantity)).collect();
            units_match(&asked, &units)?;
            let order =
                order_views::find(conn, found.order_id)?.ok_or(ReturnError::UnknownOrder(found.order_id))?;
            let lines = order_lines(&order)?;
            receive_in(conn, &found, &order, &lines, &location_id, &units, &by)?;
            returns::find(conn, id)?.ok_or(ReturnError::Vanished(id))
        })
        .await?;
    state.relay.notify_one();
    state.metrics.graded(&received);
    if received.status == ReturnStatus::Settled {
        state.metrics.count(Outcome::Settled);
    }
    Ok(received)
}

/// Grades and disposes of each unit, puts restocked units back on sale at `location_id`, and asks for the refund.
fn receive_in(
    conn: &mut DbConnection,
    r: &Return,
    order: &order_views::OrderView,
    lines: &[OrderLine],
    location_id: &LocationId,
    units: &[UnitReceipt],
    by: &str,
) -> Result<(), ReturnError> {
    let (total_minor, currency) = (order.total_minor, &order.currency);
    let mut came = 0;
    let mut refund = 0;
    for (n, receipt) in units.iter().enumerate() {
        let unit = u32::try_from(n).unwrap_or(u32::MAX);
        if receipt.disposition.received() {
            came += 1;
        }
        let refunded = receipt.disposition.received() || receipt.refund_override;
        let refund_minor = if refunded {
            unit_refund(lines, total_minor, &receipt.sku).unwrap_or(0)
        } else {
            0
        };
        if receipt.refund_override {
            omni_db::audit::record(
                conn,
                by,
                "return.refund_override",
                &r.id.to_string(),
                &serde_json::json!({ "unit": unit, "sku": receipt.sku, "refund_minor": refund_minor }),
            )?;
        }
        refund += refund_minor;
        returns::insert_unit(
            conn,
            r.id,
            &ReturnUnit {
                unit,
                sku: receipt.sku.clone(),
                grade: receipt.grade,
                disposition: receipt.disposition.clone(),
                location_id: location_id.clone(),
                refund_minor,
                refund_override: receipt.refund_override,
            },
        )?;
        announce(
            conn,
            ReturnEvent::UnitGraded(ReturnUnitGraded {
                return_id: r.id,
                order_id: r.order_id,
                unit,
                sku: receipt.sku.clone(),
                grade: receipt.grade,
                disposition: receipt.disposition.clone(),
                location_id: location_id.clone(),
            }),
        )?;
        if let Some(sku) = receipt.disposition.restocked_sku(&receipt.sku) {
            let movement_id = MovementId::generate();
            let movement = StockMovement {
                event_id: movement_id,
                location_id: location_id.clone(),
                sku: sku.clone(),
                kind: MovementKind::ReturnRestock,
                quantity: Quantity::new(1).map_err(|e| ReturnError::Invalid(e.to_string()))?,
            };
            omni_kafka::outbox::enqueue(
                conn,
                &Envelope::new("returns", InventoryEvent::Movement(movement)),
            )?;
            announce(
                conn,
                ReturnEvent::UnitRestocked(ReturnUnitRestocked {
                    return_id: r.id,
                    order_id: r.order_id,
                    unit,
                    sku: sku.clone(),
                    location_id: location_id.clone(),
                    movement_id,
                }),
            )?;
        }
    }
    announce(
        conn,
        ReturnEvent::Received(ReturnReceived {
            return_id: r.id,
            order_id: r.order_id,
            location_id: location_id.clone(),
            units: came,
        }),
    )?;
    returns::set_status(conn, r.id, ReturnStatus::Graded)?;
    omni_db::audit::record(
        conn,
        by,
        "return.received",
        &r.id.to_string(),
        &serde_json::json!({ "location_id": location_id, "units": units, "refund_minor": refund }),
    )?;
    let amount = Money {
        amount_minor: refund,
        currency: *currency,
    };
    // With an exchange going on, what the units are worth beyond its credit is refunded beside it; otherwise
    // (none, or withdrawn) all of it is.
    let (refund, exchanging) = match exchange::on_receipt(conn, r, amount)? {
        exchange::ToRefund::All => (refund, false),
        exchange::ToRefund::Rest(rest) => (rest, true),
    };
    if refund == 0 {
        if exchanging {
            exchange::settle_if_done(conn, r.id)?;
        } else {
            settle(conn, r.id, amount, None)?;
        }
        return Ok(());
    }
    let amount = Money {
        amount_minor: refund,
        currency: *currency,
    };
    let (id, reason) = (
        format!("{REFUND_PREFIX}{}", r.id),
        r.lines
            .iter()
            .map(|l| l.reason.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    let command = match r.refund_to {
        RefundTo::OriginalTenders | RefundTo::Exchange => PaymentEvent::RefundRequested(RefundRequested {
            order_id: r.order_id,
            refund_id: id,
            amount,
            reason,
        }),
        RefundTo::StoreCredit => PaymentEvent::StoreCreditRequested(StoreCreditRequested {
            order_id: r.order_id,
            issue_id: id,
            amount,
            reason,
        }),
    };
    omni_kafka::outbox::enqueue(conn, &Envelope::new("returns", command))?;
    Ok(())
}

fn order_lines(order: &order_views::OrderView) -> Result<Vec<OrderLine>, ReturnError> {
    serde_json::from_str(&order.lines)
        .map_err(|e| ReturnError::Corrupt(format!("order {} lines: {e}", order.order_id)))
}

/// The units received must be the return's, one per unit asked: as many of each SKU as its line; a refund is
/// overridden only for a unit that did not come.
fn units_match(asked: &[(Sku, u32)], units: &[UnitReceipt]) -> Result<(), ReturnError> {
    if units
        .iter()
        .any(|u| u.refund_override && u.disposition.received())
    {
        return Err(ReturnError::Invalid(
            "units: refund_override is for a missing unit only (a unit that came is refunded anyway)".into(),
        ));
    }
    let mut want: BTreeMap<&Sku, u32> = BTreeMap::new();
    for (sku, quantity) in asked {
        *want.entry(sku).or_default() += quantity;
    }
    let mut got: BTreeMap<&Sku, u32> = BTreeMap::new();
    for unit in units {
        *got.entry(&unit.sku).or_default() += 1;
    }
    if want != got {
        return Err(ReturnError::Invalid(format!(
            "units: one graded unit per returned unit, as the lines ask ({}); got {}",
            describe(&want),
            describe(&got)
        )));
    }
    Ok(())
}

fn describe(units: &BTreeMap<&Sku, u32>) -> String {
    units
        .iter()
        .map(|(sku, n)| format!("{n} × {sku}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_request_id(id: &str) -> Result<(), ReturnError> {
    let fine = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fine {
        Ok(())
    } else {
        Err(ReturnError::Invalid(
            "request_id: 1 to 64 of A-Z a-z 0-9 . _ -".into(),
        ))
    }
}

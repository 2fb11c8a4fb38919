//! Returns against real databases (SQLite and PostgreSQL): a property test of the return model (DESIGN §7) through
//! the app's own operations. For random orders, partly delivered, random returns are opened (at the counter with
//! their units graded at once, or to come by mail; those refunding over 30.00 wait for a manager), decided by a
//! manager, received (sometimes with units that do not match, sometimes a second time), cancelled and expired, in
//! random order. After every step, read back from the database:
//! - per SKU, what open returns ask plus what was received never exceeds what was delivered;
//! - the refunds of an order's units never exceed what it was paid, and a unit that did not come refunds nothing;
//! - each graded return has exactly one unit row (one grade, one disposition) per unit asked, and its lines count
//!   the units that came; a return not received has none;
//! - an exchange's credit and tenders pay exactly its replacement; it is held while the return is open, withdrawn
//!   when the return ends without its units or they are worth less than the credit, and a return settled with it
//!   released refunded exactly what came (credit and rest).
//!
//! Payments' answers (the credit issued, the rest or the refund made) are played by a step of their own.

use std::collections::BTreeMap;
use std::sync::Arc;

use omni_contracts::api::Order;
use omni_contracts::api::{Delivery, OrderLine, Tender, UnitPrice};
use omni_contracts::events::HoldLine;
use omni_contracts::returns::{
    Disposition, ExchangeRequest, ExchangeStatus, Grade, NewReturn, RefundTo, ReturnDecision,
    ReturnLineRequest, ReturnMethod, ReturnReason, ReturnStatus, StoreCreditRef, UnitReceipt,
};
use omni_contracts::{Currency, FulfillmentId, LocationId, Money, OrderId, Quantity, ReturnId, Sku};
use omni_db::testing::{Backend, TestDatabase};
use omni_returns::app::State;
use omni_returns::app::returns::{self, Opened};
use omni_returns::app::{exchange, lifecycle, settlement};
use omni_returns::db::{deliveries, order_views};
use omni_returns::metrics::ReturnMetrics;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::Notify;

/// Runs each scenario once per backend, as `<scenario>::on_sqlite` and `<scenario>::on_postgres`.
macro_rules! on_every_backend {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn on_sqlite() -> anyhow::Result<()> {
                super::$scenario(omni_db::testing::Backend::Sqlite).await
            }

            #[tokio::test]
            async fn on_postgres() -> anyhow::Result<()> {
                super::$scenario(omni_db::testing::Backend::Postgres).await
            }
        }
    )+};
}

on_every_backend!(returns_never_take_back_more_than_was_delivered_nor_refund_more_than_was_paid);

/// Orders tried, and steps per order.
const ORDERS: u64 = 80;
const STEPS: usize = 24;
const SKUS: [&str; 3] = ["TEE", "MUG", "CAP"];

fn sku(s: &str) -> anyhow::Result<Sku> {
    Ok(Sku::parse(s)?)
}

async fn returns_never_take_back_more_than_was_delivered_nor_refund_more_than_was_paid(
    backend: Backend,
) -> anyhow::Result<()> {
    let database = TestDatabase::create(backend)?;
    let db = database.migrated(omni_returns::MIGRATIONS).await?;
    let settings = omni_config::ReturnsSettings {
        window_days: 30,
        channel_window_days: BTreeMap::new(),
        final_sale_tags: vec![],
        items_within_seconds: 3_600,
        manager_grace_days: 0,
        // Returns refunding more than 30.00 wait for a manager (whom the steps below play at times).
        manager_approval_above_minor: 3_000,
        code_attempts_per_order: 5,
        code_attempts_per_client: 20,
        code_lockout_seconds: 900,
    };
    let metrics = ReturnMetrics::register(&prometheus::Registry::new())?;
    let state = State::new(db, Arc::new(Notify::new()), &settings, metrics, Arc::from([]));
    state
        .db
        .transaction(|conn| -> anyhow::Result<()> {
            for s in SKUS {
                omni_returns::db::sku_tags::upsert(conn, &sku(s)?, &[])?;
            }
            Ok(())
        })
        .await?;
    let mut tally: BTreeMap<&str, u32> = BTreeMap::new();
    for seed in 0..ORDERS {
        let mut rng = StdRng::seed_from_u64(seed);
        let order = placed_and_delivered(&state, &mut rng).await?;
        let mut opened: Vec<ReturnId> = Vec::new();
        for step in 0..STEPS {
            let what = rng.random_range(0..10);
            match what {
                0..=3 => {
                    let asked = asked_return(&mut rng, &order, format!("r-{seed}-{step}"))?;
                    match returns::open(&state, asked, clerk(), chrono::Utc::now()).await {
                        Ok(Opened::Created(r)) => {
                            *tally
                                .entry(if r.units.is_empty() {
                                    "asked by mail"
                                } else {
                                    "taken at the counter"
                                })
                                .or_default() += 1;
                            if r.exchange.is_some() {
                                *tally.entry("exchange asked").or_default() += 1;
                            }
                            opened.push(r.id);
                        }
                        _ => *tally.entry("refused").or_default() += 1,
                    }
                }
                4..=5 if !opened.is_empty() => {
                    let id = opened[rng.random_range(0..opened.len())];
                    let r = state
                        .db
                        .run(move |conn| omni_returns::db::returns::find(conn, id))
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("return {id} vanished"))?;
                    let mut units: Vec<UnitReceipt> = r
                        .lines
                        .iter()
                        .flat_map(|l| (0..l.quantity).map(|_| l.sku.clone()))
                        .map(|sku| graded(&mut rng, sku))
                        .collect::<anyhow::Result<_>>()?;
                    if rng.random_bool(0.2) {
                        units.pop();
                    }
                    let location = LocationId::parse("STORE-B")?;
                    let before = r.status;
                    let received = returns::receive(&state, id, location, units, "prop".into()).await;
                    if received.is_ok() {
                        assert_eq!(
                            before,
                            ReturnStatus::AwaitingItems,
                            "seed {seed}: received a {before:?} return"
                        );
                        *tally.entry("received").or_default() += 1;
                    } else {
                        *tally.entry("receipt refused").or_default() += 1;
                    }
                }
                6 if !opened.is_empty() => {
                    let id = opened[rng.random_range(0..opened.len())];
                    let decision = ReturnDecision {
                        approve: rng.random_bool(0.6),
                        reason: "property test".into(),
                    };
                    if lifecycle::decide(&state, id, decision, "manager".into())
                        .await
                        .is_ok()
                    {
                        *tally.entry("decided").or_default() += 1;
                    }
                }
                8 if !opened.is_empty() && rng.random_bool(0.5) => {
                    let id = opened[rng.random_range(0..opened.len())];
                    if let Some(settled) = payments_answer(&state, id).await? {
                        *tally.entry(settled).or_default() += 1;
                    }
                }
                7 if !opened.is_empty() => {
                    let id = opened[rng.random_range(0..opened.len())];
                    if lifecycle::cancel(&state, id, "prop".into()).await.is_ok() {
                        *tally.entry("cancelled").or_default() += 1;
                    }
                }
                _ if !opened.is_empty() => {
                    let id = opened[rng.random_range(0..opened.len())];
                    let later = chrono::Utc::now() + chrono::Duration::hours(2);
                    if state
                        .db
                        .transaction(move |conn| lifecycle::expire(conn, id, later))
                        .await?
                    {
                        *tally.entry("expired").or_default() += 1;
                    }
                }
                _ => {}
            }
            check(&state, &order, &opened, seed).await?;
        }
    }
    // Every kind of step happened, often enough to mean something.
    for kind in [
        "taken at the counter",
        "asked by mail",
        "refused",
        "received",
        "receipt refused",
        "cancelled",
        "expired",
        "decided",
        "exchange asked",
        "settled",
        "settled with its exchange",
    ] {
        let n = tally.get(kind).copied().unwrap_or(0);
        assert!(n >= 5, "only {n} steps {kind}: {tally:?}");
    }
    Ok(())
}

/// Payments' answers to a graded return, as its consumer applies them: an exchange's credit issued (then the rest
/// refunded, if any), or the refund made. How the return settled, if it did.
async fn payments_answer(state: &State, id: ReturnId) -> anyhow::Result<Option<&'static str>> {
    state
        .db
        .transaction(move |conn| -> anyhow::Result<Option<&'static str>> {
            let Some(r) = omni_returns::db::returns::find(conn, id)? else {
                return Ok(None);
            };
            if r.status != ReturnStatus::Graded {
                return Ok(None);
            }
            let euros = Currency::parse("EUR")?;
            let money = |amount_minor| Money {
                amount_minor,
                currency: euros,
            };
            match &r.exchange {
                Some(e) if e.status != ExchangeStatus::Cancelled => {
                    let credit = StoreCreditRef {
                        reference: format!("sv_{id}"),
                        last4: "ABCD".into(),
                    };
                    let mut settled = exchange::credit_issued(conn, id, credit)?.is_some();
                    let rest = r.refund_minor - e.credit_minor;
                    if rest > 0 {
                        settled |= exchange::rest_refunded(conn, id, money(rest))?.is_some();
                    }
                    Ok(settled.then_some("settled with its exchange"))
                }
                _ => Ok(settlement::settle(conn, id, money(r.refund_minor), None)?.then_some("settled")),
            }
        })
        .await
}

/// A store associate (not a manager).
fn clerk() -> returns::Asker {
    returns::Asker {
        name: "prop".into(),
        manager: false,
        payer: omni_contracts::api::Payer::principal("prop"),
    }
}

/// An order of the read model: what it is, what was delivered, what it cost.
struct Placed {
    id: OrderId,
    /// Its lines: the first this many of [`SKUS`].
    lines: usize,
    delivered: BTreeMap<Sku, u32>,
    total_minor: i64,
}

/// A web order of one to three lines, up to 10 % off, and some of each line delivered, in returns' read model.
async fn placed_and_delivered(state: &State, rng: &mut StdRng) -> anyhow::Result<Placed> {
    let id = OrderId::generate();
    let lines: Vec<(Sku, u32, i64)> = SKUS
        .iter()
        .take(rng.random_range(1..=SKUS.len()))
        .map(|s| Ok((sku(s)?, rng.random_range(1..=3), rng.random_range(100..5_000))))
        .collect::<anyhow::Result<_>>()?;
    let lines_count = lines.len();
    let gross: i64 = lines.iter().map(|(_, q, p)| i64::from(*q) * p).sum();
    let total_minor = gross - gross * rng.random_range(0..=10) / 100;
    let now = chrono::Utc::now();
    let order: Order = serde_json::from_value(json!({
        "id": id, "status": "completed", "partner_id": null, "partner_order_id": null,
        "channel": "web", "currency": "EUR",
        "lines": lines.iter().map(|(s, q, p)| json!({ "sku": s, "quantity": q, "unit_price_minor": p })).collect::<Vec<_>>(),
        "delivery": { "type": "ship", "lat": 52.5, "lon": 13.4 }, "tenders": [],
        "total_minor": total_minor, "location_id": null, "failure_reason": null,
        "created_at": now, "updated_at": now,
    }))?;
    let delivered: BTreeMap<Sku, u32> = lines
        .iter()
        .map(|(s, q, _)| {
            (
                s.clone(),
                if rng.random_bool(0.2) {
                    0
                } else {
                    rng.random_range(1..=*q)
                },
            )
        })
        .collect();
    let policy = state.policy.snapshot(
        order.request.channel,
        order.request.lines.iter().map(|l| (&l.sku, &[][..])),
    );
    let (lines_json, policy_json) = (
        serde_json::to_string(&order.request.lines)?,
        serde_json::to_string(&policy)?,
    );
    let shipped: Vec<HoldLine> = delivered
        .iter()
        .filter(|(_, q)| **q > 0)
        .map(|(s, q)| {
            Ok(HoldLine {
                sku: s.clone(),
                quantity: Quantity::new(i64::from(*q))?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let warehouse = LocationId::parse("WAREHOUSE")?;
    state
        .db
        .transaction(move |conn| -> omni_db::Result<()> {
            order_views::insert_accepted(conn, &order, &lines_json, &policy_json)?;
            if !shipped.is_empty() {
                deliveries::record(
                    conn,
                    id,
                    FulfillmentId::generate(),
                    &warehouse,
                    &shipped,
                    now.naive_utc(),
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(Placed {
        id,
        lines: lines_count,
        delivered,
        total_minor,
    })
}

/// One or two lines of the order's SKUs (a SKU twice at times), mostly one unit each, at the counter with
/// their units graded or by mail.
fn asked_return(rng: &mut StdRng, order: &Placed, request_id: String) -> anyhow::Result<NewReturn> {
    let lines: Vec<ReturnLineRequest> = (0..if rng.random_bool(0.8) { 1 } else { 2 })
        .map(|_| {
            Ok(ReturnLineRequest {
                sku: sku(SKUS[rng.random_range(0..order.lines.max(1))])?,
                quantity: Quantity::new(if rng.random_bool(0.8) { 1 } else { 2 })?,
                reason: ReturnReason::DoesNotFit,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let at_counter = rng.random_bool(0.5);
    let exchange = asked_exchange(rng)?;
    let units = if at_counter {
        lines
            .iter()
            .flat_map(|l| (0..l.quantity.get()).map(|_| l.sku.clone()))
            .map(|s| graded(rng, s))
            .collect::<anyhow::Result<_>>()?
    } else {
        Vec::new()
    };
    Ok(NewReturn {
        request_id,
        order_id: order.id,
        lines,
        method: if at_counter {
            ReturnMethod::InStore {
                location_id: LocationId::parse("STORE-B")?,
            }
        } else {
            ReturnMethod::ByMail
        },
        refund_to: if exchange.is_some() {
            RefundTo::Exchange
        } else {
            RefundTo::OriginalTenders
        },
        exchange,
        units,
    })
}

/// A replacement of one unit at times: cheap (the units pay it all, the rest is refunded) or dear (a card pays what
/// they do not).
fn asked_exchange(rng: &mut StdRng) -> anyhow::Result<Option<ExchangeRequest>> {
    if rng.random_bool(0.7) {
        return Ok(None);
    }
    let dear = rng.random_bool(0.3);
    Ok(Some(ExchangeRequest {
        lines: vec![OrderLine {
            sku: sku(SKUS[rng.random_range(0..SKUS.len())])?,
            quantity: Quantity::new(1)?,
            unit_price_minor: UnitPrice::new(if dear {
                rng.random_range(20_000..30_000)
            } else {
                rng.random_range(1..=80)
            })?,
        }],
        delivery: Delivery::Ship {
            lat: serde_json::from_value(json!(52.5))?,
            lon: serde_json::from_value(json!(13.4))?,
        },
        tenders: if dear {
            vec![Tender::card("tok_prop")]
        } else {
            Vec::new()
        },
    }))
}

/// A unit graded at random, any disposition.
fn graded(rng: &mut StdRng, sku: Sku) -> anyhow::Result<UnitReceipt> {
    let (grade, disposition) = match rng.random_range(0..5) {
        0 => (Grade::Resellable, Disposition::Restock),
        1 => (
            Grade::OpenBox,
            Disposition::RestockAs {
                sku: Sku::parse(&format!("{sku}-OB"))?,
            },
        ),
        2 => (Grade::Damaged, Disposition::WriteOff),
        3 => (Grade::Defective, Disposition::ReturnToVendor),
        _ => (Grade::Resellable, Disposition::Missing),
    };
    Ok(UnitReceipt {
        sku,
        grade,
        disposition,
        refund_override: false,
    })
}

/// The invariants, read back from the database.
async fn check(state: &State, order: &Placed, opened: &[ReturnId], seed: u64) -> anyhow::Result<()> {
    let ids = opened.to_vec();
    let found = state
        .db
        .run(move |conn| {
            ids.iter()
                .map(|id| omni_returns::db::returns::find(conn, *id))
                .collect::<omni_db::Result<Vec<_>>>()
        })
        .await?;
    let mut held: BTreeMap<Sku, u32> = BTreeMap::new();
    let mut refunded = 0;
    for r in found.into_iter().flatten() {
        let graded = matches!(r.status, ReturnStatus::Graded | ReturnStatus::Settled);
        let asked: u32 = r.lines.iter().map(|l| l.quantity).sum();
        if graded {
            assert_eq!(
                r.units.len() as u32,
                asked,
                "seed {seed}: one unit row per unit asked: {r:?}"
            );
        } else {
            assert!(
                r.units.is_empty(),
                "seed {seed}: units graded on a {:?} return",
                r.status
            );
        }
        for line in &r.lines {
            let came = r
                .units
                .iter()
                .filter(|u| u.sku == line.sku && u.disposition.received())
                .count() as u32;
            assert_eq!(line.received, came, "seed {seed}: {r:?}");
            // Open returns hold what they ask; settled ones what came.
            let holds = match r.status {
                s if !s.holds_units() => 0,
                ReturnStatus::Settled | ReturnStatus::Closed => line.received,
                _ => line.quantity,
            };
            *held.entry(line.sku.clone()).or_default() += holds;
        }
        for unit in &r.units {
            if !unit.disposition.received() {
                assert_eq!(
                    unit.refund_minor, 0,
                    "seed {seed}: a missing unit refunded: {r:?}"
                );
            }
            refunded += unit.refund_minor;
        }
        assert_eq!(
            r.refund_minor,
            r.units.iter().map(|u| u.refund_minor).sum::<i64>()
        );
        if let Some(e) = &r.exchange {
            let tenders: i64 = e.tenders.iter().filter_map(|t| t.amount_minor()).sum();
            assert_eq!(
                e.credit_minor + tenders,
                e.total_minor,
                "seed {seed}: the credit and tenders pay the replacement: {r:?}"
            );
            let ended = !r.status.holds_units();
            let graded = matches!(r.status, ReturnStatus::Graded | ReturnStatus::Settled);
            match e.status {
                ExchangeStatus::Held => assert!(
                    !ended && (!graded || r.refund_minor >= e.credit_minor),
                    "seed {seed}: a held exchange on a {:?} return: {r:?}",
                    r.status
                ),
                ExchangeStatus::Released => assert!(
                    graded && r.refund_minor >= e.credit_minor,
                    "seed {seed}: released before its units were in: {r:?}"
                ),
                ExchangeStatus::Cancelled => assert!(
                    ended || (graded && r.refund_minor < e.credit_minor),
                    "seed {seed}: withdrawn on an open return, or units worth the credit: {r:?}"
                ),
            }
            if r.status == ReturnStatus::Settled && e.status == ExchangeStatus::Released {
                assert_eq!(
                    e.credit_minor + e.rest_refunded_minor.unwrap_or(0),
                    r.refund_minor,
                    "seed {seed}: settled for other than what came: {r:?}"
                );
            }
        }
    }
    for (s, n) in &held {
        let delivered = order.delivered.get(s).copied().unwrap_or(0);
        assert!(
            *n <= delivered,
            "seed {seed}: {n} of {s} held by returns, {delivered} delivered"
        );
    }
    assert!(
        refunded <= order.total_minor,
        "seed {seed}: refunded {refunded} of an order paid {}",
        order.total_minor
    );
    Ok(())
}

//! Sending orders on, and the saga's clocks.
//!
//! - **Dispatch**: an accepted order waits until fewer than `orders.max_in_flight` orders are on their way to a
//!   hold; then the dispatcher announces it (`omni.order.accepted`, which routing acts on), closest promise date
//!   first (orders without one last, then oldest first). With no backlog an order goes on at once; with one,
//!   the orders that are due soonest go first.
//! - **Timeouts**: an order sent on that has no hold after `orders.reserve_timeout_seconds`, or a reserved order
//!   with no authorization after `orders.payment_timeout_seconds`, fails (`omni.order.failed`: allocation
//!   releases its hold, payments voids what it authorized). A reply arriving in time moves the order on first;
//!   the saga fails only an order still waiting in the step that timed out.

use std::time::Duration;

use chrono::Utc;
use omni_contracts::api::OrderStatus;
use omni_contracts::events::{OrderAccepted, OrderEvent};
use omni_contracts::{Envelope, OrderId};

use crate::app::State;
use crate::db::orders;
use crate::domain::saga::SagaInput;

/// Most orders sent on in one transaction.
const ROUND: i64 = 256;
/// How often the dispatcher looks when nobody woke it (replies freeing slots in another replica).
const POLL: Duration = Duration::from_millis(250);
/// How often the clocks are checked.
const TICK: Duration = Duration::from_secs(1);
/// Orders below which the table's statistics are left to autovacuum.
const STATISTICS_FLOOR: i64 = 10_000;
/// The columns of `orders` the dispatcher's and the clocks' queries filter and sort on.
const PLANNED_COLUMNS: &[&str] = &[
    "status",
    "dispatched_at",
    "promise_by",
    "created_at",
    "updated_at",
];
/// One dispatcher per orders schema at a time, across replicas.
const DISPATCH_LOCK: &str = "omni-orders:dispatcher";

/// What one dispatch round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Orders sent on.
    pub sent: usize,
    /// Whether every slot is taken now: until a slot frees, new orders wait without another round.
    pub full: bool,
}

/// Sends waiting orders on while there is room.
pub async fn dispatch_round(state: &State) -> omni_db::Result<Round> {
    let max_in_flight = i64::try_from(state.settings.max_in_flight).unwrap_or(i64::MAX);
    let round = state
        .db
        .transaction(move |conn| -> omni_db::Result<Round> {
            omni_db::lock_transaction(conn, DISPATCH_LOCK)?;
            let room = max_in_flight - orders::in_flight(conn)?;
            if room <= 0 {
                return Ok(Round { sent: 0, full: true });
            }
            let waiting = orders::waiting(conn, room.min(ROUND))?;
            for row in &waiting {
                let order = row.to_order()?;
                orders::mark_dispatched(conn, order.id)?;
                // The announcement continues the trace the order arrived with (HTTP request or partner message).
                let span = tracing::info_span!("order.dispatch", order.id = %order.id);
                if let Some(parent) = row.traceparent.as_deref() {
                    omni_kafka::trace::continue_from(&span, [("traceparent", parent)]);
                }
                let _entered = span.enter();
                let partner = order.partner_id.clone();
                omni_kafka::outbox::enqueue(
                    conn,
                    &Envelope::new("orders", OrderEvent::Accepted(OrderAccepted { order }))
                        .for_partner(partner.as_ref()),
                )?;
            }
            Ok(Round {
                sent: waiting.len(),
                full: waiting.len() as i64 == room,
            })
        })
        .await?;
    if round.sent > 0 {
        state.relay.notify_one();
    }
    Ok(round)
}

/// Fails the orders whose step took too long; returns how many.
pub async fn expire_round(state: &State) -> Result<usize, crate::error::SagaFailure> {
    let now = Utc::now();
    let waits = [
        (
            OrderStatus::Accepted,
            state.settings.reserve_timeout_seconds,
            "no hold within {} s (routing or allocation did not answer)",
        ),
        (
            OrderStatus::Reserved,
            state.settings.payment_timeout_seconds,
            "payment not authorized within {} s",
        ),
    ];
    let mut failed = 0;
    for (status, seconds, why) in waits {
        let before =
            (now - chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 2))).naive_utc();
        let stale = state
            .db
            .run(move |conn| orders::stale(conn, status, before, ROUND))
            .await?;
        for (id, updated_at) in stale {
            let Ok(order_id) = OrderId::parse(&id) else {
                continue;
            };
            let input = SagaInput::TimedOut {
                status,
                reason: why.replace("{}", &seconds.to_string()),
            };
            let key = format!("timeout:{id}:{}:{updated_at}", status.as_str());
            let moved = state
                .db
                .transaction(move |conn| crate::app::saga::advance(conn, &key, order_id, &input))
                .await?;
            state.count(moved);
            failed += 1;
        }
    }
    if failed > 0 {
        tracing::info!(orders = failed, "Orders failed: a saga step took too long.");
        state.changed();
    }
    Ok(failed)
}

/// Dispatches and checks the clocks until shutdown.
pub fn run(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut last_tick = tokio::time::Instant::now();
        // Every slot was taken at the last round: orders arriving alone do not start another one (a freed slot,
        // or the poll for replies another replica applied, does).
        let mut full = false;
        let mut last_round = tokio::time::Instant::now();
        loop {
            if !full || last_round.elapsed() >= POLL {
                last_round = tokio::time::Instant::now();
                match dispatch_round(&state).await {
                    Ok(round) if round.sent as i64 == ROUND && !round.full => continue,
                    Ok(round) => full = round.full,
                    Err(e) => {
                        full = false;
                        tracing::warn!(error = %e, "Dispatch failed; retrying.");
                    }
                }
            }
            if last_tick.elapsed() >= TICK {
                last_tick = tokio::time::Instant::now();
                // A burst into a new install outgrows autovacuum: without statistics the planner can count the
                // orders in flight through the whole backlog.
                let refreshed = state
                    .db
                    .run(|conn| {
                        omni_db::statistics::refresh_if_grown(
                            conn,
                            "orders",
                            PLANNED_COLUMNS,
                            STATISTICS_FLOOR,
                        )
                    })
                    .await;
                if let Err(e) = refreshed {
                    tracing::warn!(error = %e, "Statistics of orders not refreshed; retrying.");
                }
                if let Err(e) = expire_round(&state).await {
                    tracing::warn!(error = %e, "Saga timeouts not checked; retrying.");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = state.dispatch.notified() => full = false,
                _ = state.arrived.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

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
use omni_kafka::HandlerError;

use crate::State;
use crate::db::orders;
use crate::domain::saga::SagaInput;

/// Most orders sent on in one transaction.
const ROUND: i64 = 256;
/// How often the dispatcher looks when nobody woke it (replies freeing slots in another replica).
const POLL: Duration = Duration::from_millis(250);
/// How often the clocks are checked.
const TICK: Duration = Duration::from_secs(1);
/// One dispatcher per orders schema at a time, across replicas.
const DISPATCH_LOCK: &str = "omni-orders:dispatcher";

/// Sends waiting orders on while there is room; returns how many.
pub async fn dispatch_round(state: &State) -> omni_db::Result<usize> {
    let max_in_flight = i64::try_from(state.settings.max_in_flight).unwrap_or(i64::MAX);
    let sent = state
        .db
        .transaction(move |conn| -> omni_db::Result<usize> {
            omni_db::lock_transaction(conn, DISPATCH_LOCK)?;
            let room = max_in_flight - orders::in_flight(conn)?;
            if room <= 0 {
                return Ok(0);
            }
            let waiting = orders::waiting(conn, room.min(ROUND))?;
            for row in &waiting {
                let order = row.to_order()?;
                orders::mark_dispatched(conn, order.id)?;
                // The announcement continues the trace the order arrived with (HTTP request or partner message).
                let span = tracing::info_span!("order.dispatch", order.id = %order.id);
                if let Some(parent) = row.traceparent.clone() {
                    omni_kafka::trace::continue_from(&span, &[("traceparent".to_owned(), parent)]);
                }
                let _entered = span.enter();
                let partner = order.partner_id.clone();
                omni_kafka::outbox::enqueue(
                    conn,
                    &Envelope::new("orders", OrderEvent::Accepted(OrderAccepted { order }))
                        .for_partner(partner.as_ref()),
                )?;
            }
            Ok(waiting.len())
        })
        .await?;
    if sent > 0 {
        state.relay.notify_one();
    }
    Ok(sent)
}

/// Fails the orders whose step took too long; returns how many.
pub async fn expire_round(state: &State) -> Result<usize, HandlerError> {
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
                .transaction(move |conn| crate::events::saga::advance(conn, &key, order_id, &input))
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
        loop {
            match dispatch_round(&state).await {
                Ok(n) if n as i64 == ROUND => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "Dispatch failed; retrying."),
            }
            if last_tick.elapsed() >= TICK {
                last_tick = tokio::time::Instant::now();
                if let Err(e) = expire_round(&state).await {
                    tracing::warn!(error = %e, "Saga timeouts not checked; retrying.");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = state.dispatch.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

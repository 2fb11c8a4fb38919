//! The order saga: which event moves an order from which state to which, and what it announces.
//! accepted → reserved → payment_authorized → released → fulfilled → completed (once the payment is captured);
//! any failure → failed (holds released by allocation); a cancel before release → cancelled.
//! A hold refused at the chosen node sends the order back to routing without that node, up to
//! [`MAX_REROUTES`] times.

use omni_contracts::api::OrderStatus;
use omni_contracts::events::{FulfillmentEvent, PaymentEvent, ReservationEvent};

/// An event the saga reacts to.
#[derive(Debug, Clone)]
pub enum SagaInput {
    /// From `omni.reservations.v1`.
    Reservation(ReservationEvent),
    /// From `omni.payments.v1`.
    Payment(PaymentEvent),
    /// From `omni.fulfillment.v1`.
    Fulfillment(FulfillmentEvent),
    /// The order stayed in `status` longer than that step may take.
    TimedOut {
        /// The state it waited in.
        status: OrderStatus,
        /// What it waited for, for the failure reason.
        reason: String,
    },
}

/// How often an order whose hold was refused is routed again before it fails.
pub const MAX_REROUTES: u32 = 3;

/// What the saga does with an input in a given state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Record a detail without changing state (a sourcing decision).
    Note,
    /// Keep the authorization of an order that was routed again while payments was deciding (it stays valid
    /// for the new node).
    KeepAuthorization,
    /// Move to `reserved` and ask payments to authorize.
    Reserve,
    /// Move to `payment_authorized` and ask fulfillment to release.
    Authorize,
    /// Move to `released`.
    Release,
    /// Move to `fulfilled`: the node shipped it or handed it over.
    Fulfil,
    /// Move to `completed`: fulfilled and paid.
    Complete,
    /// Stay `accepted` and ask routing to choose again without `exclude`.
    Reroute {
        /// Why the node could not take it.
        reason: String,
        /// The node that refused.
        exclude: omni_contracts::LocationId,
    },
    /// Move to `failed` with a reason.
    Fail(String),
    /// A hold or an authorization arrived for a cancelled order: announce the cancellation again, so allocation
    /// releases the hold and payments voids the authorization.
    CancelAgain,
    /// Not for this state (a replay or a late event): ignore.
    Ignore,
}

/// The transition for `input` when the order is in `status` and was routed again `reroutes` times.
pub fn step(status: OrderStatus, reroutes: u32, input: &SagaInput) -> Step {
    use OrderStatus as S;
    match (status, input) {
        // Only a step that is still waiting times out: if the reply came meanwhile, the state moved on.
        (current, SagaInput::TimedOut { status, reason })
            if current == *status && matches!(current, S::Accepted | S::Reserved) =>
        {
            Step::Fail(reason.clone())
        }
        (_, SagaInput::TimedOut { .. }) => Step::Ignore,
        (S::Accepted, SagaInput::Fulfillment(FulfillmentEvent::Sourced(_))) => Step::Note,
        (S::Accepted, SagaInput::Fulfillment(FulfillmentEvent::Unsourceable(u))) => {
            let reasons: Vec<String> = u
                .candidates
                .iter()
                .map(|c| {
                    format!(
                        "{}: {}",
                        c.location_id,
                        c.reason.as_deref().unwrap_or("not eligible")
                    )
                })
                .collect();
            Step::Fail(if reasons.is_empty() {
                "no node can serve this delivery".into()
            } else {
                format!("no node can serve the order ({})", reasons.join("; "))
            })
        }
        (S::Accepted, SagaInput::Reservation(ReservationEvent::Held(_))) => Step::Reserve,
        (S::Accepted, SagaInput::Reservation(ReservationEvent::Rejected(r))) => {
            let short: Vec<String> = r
                .shortages
                .iter()
                .map(|s| format!("{} ({} asked, {} available)", s.sku, s.requested, s.available))
                .collect();
            let reason = format!("out of stock at {}: {}", r.location_id, short.join(", "));
            if reroutes < MAX_REROUTES {
                Step::Reroute {
                    reason,
                    exclude: r.location_id.clone(),
                }
            } else {
                Step::Fail(format!("{reason} (after {reroutes} other nodes)"))
            }
        }
        (S::Reserved | S::PaymentAuthorized, SagaInput::Reservation(ReservationEvent::Shortage(s))) => {
            let reason = format!(
                "shortage at {}: {} fell to {} on hand with {} held",
                s.location_id, s.sku, s.on_hand, s.reserved
            );
            if reroutes < MAX_REROUTES {
                Step::Reroute {
                    reason,
                    exclude: s.location_id.clone(),
                }
            } else {
                Step::Fail(format!("{reason} (after {reroutes} other nodes)"))
            }
        }
        // Holds are pinned once paid; one that lapses before is gone, and with it the order's claim on the stock.
        (S::Accepted | S::Reserved, SagaInput::Reservation(ReservationEvent::Expired(e))) => {
            Step::Fail(format!(
                "the hold at {} expired before the payment was authorized",
                e.location_id
            ))
        }
        (S::Reserved, SagaInput::Payment(PaymentEvent::Authorized(_))) => Step::Authorize,
        (S::Accepted, SagaInput::Payment(PaymentEvent::Authorized(_))) => Step::KeepAuthorization,
        (S::Cancelled, SagaInput::Reservation(ReservationEvent::Held(_)))
        | (S::Cancelled, SagaInput::Payment(PaymentEvent::Authorized(_))) => Step::CancelAgain,
        (S::Accepted, SagaInput::Payment(PaymentEvent::Declined(d))) => {
            Step::Fail(format!("payment declined: {}", d.reason))
        }
        (S::Reserved, SagaInput::Payment(PaymentEvent::Declined(d))) => {
            Step::Fail(format!("payment declined: {}", d.reason))
        }
        (S::PaymentAuthorized, SagaInput::Fulfillment(FulfillmentEvent::Released(_))) => Step::Release,
        (S::Released, SagaInput::Fulfillment(FulfillmentEvent::Completed(_))) => Step::Fulfil,
        (S::Fulfilled, SagaInput::Payment(PaymentEvent::Captured(_))) => Step::Complete,
        _ => Step::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omni_contracts::events::*;
    use omni_contracts::*;

    fn rejected() -> SagaInput {
        SagaInput::Reservation(ReservationEvent::Rejected(ReservationRejected {
            reservation_id: ReservationId::generate(),
            order_id: OrderId::generate(),
            location_id: LocationId::parse("S1").unwrap(),
            shortages: vec![Shortage {
                sku: Sku::parse("A").unwrap(),
                requested: 2,
                available: 1,
            }],
        }))
    }

    #[test]
    fn a_step_times_out_only_while_the_order_still_waits_in_it() {
        let timed_out = |status| SagaInput::TimedOut {
            status,
            reason: "no hold within 120 s".into(),
        };
        assert_eq!(
            step(OrderStatus::Accepted, 0, &timed_out(OrderStatus::Accepted)),
            Step::Fail("no hold within 120 s".into())
        );
        assert_eq!(
            step(OrderStatus::Reserved, 0, &timed_out(OrderStatus::Accepted)),
            Step::Ignore,
            "the hold came meanwhile"
        );
        assert_eq!(
            step(OrderStatus::Released, 0, &timed_out(OrderStatus::Released)),
            Step::Ignore,
            "released orders wait for their node, not for the saga"
        );
    }

    #[test]
    fn a_rejected_hold_sends_the_order_back_to_routing_without_that_node() {
        assert_eq!(
            step(OrderStatus::Accepted, 0, &rejected()),
            Step::Reroute {
                reason: "out of stock at S1: A (2 asked, 1 available)".into(),
                exclude: LocationId::parse("S1").unwrap(),
            }
        );
    }

    #[test]
    fn after_the_last_reroute_a_rejected_hold_fails_the_order_naming_what_was_short() {
        assert_eq!(
            step(OrderStatus::Accepted, MAX_REROUTES, &rejected()),
            Step::Fail("out of stock at S1: A (2 asked, 1 available) (after 3 other nodes)".into())
        );
    }

    fn shortage() -> SagaInput {
        SagaInput::Reservation(ReservationEvent::Shortage(StockShortage {
            location_id: LocationId::parse("S1").unwrap(),
            sku: Sku::parse("A").unwrap(),
            on_hand: 0,
            reserved: 1,
            short_units: 1,
            reservations: vec![],
            orders: vec![],
        }))
    }

    #[test]
    fn a_shortage_sends_a_held_or_paid_order_back_to_routing_but_not_a_released_one() {
        for status in [OrderStatus::Reserved, OrderStatus::PaymentAuthorized] {
            assert!(
                matches!(step(status, 0, &shortage()), Step::Reroute { exclude, .. } if exclude.as_str() == "S1"),
                "{status:?}"
            );
            assert!(matches!(step(status, MAX_REROUTES, &shortage()), Step::Fail(_)));
        }
        assert_eq!(step(OrderStatus::Released, 0, &shortage()), Step::Ignore);
    }

    #[test]
    fn a_hold_placed_after_a_cancellation_is_announced_again_for_release() {
        let held = SagaInput::Reservation(ReservationEvent::Held(ReservationHeld {
            reservation_id: ReservationId::generate(),
            order_id: OrderId::generate(),
            location_id: LocationId::parse("S1").unwrap(),
            lines: vec![],
            expires_at: chrono::Utc::now(),
        }));
        assert_eq!(step(OrderStatus::Cancelled, 0, &held), Step::CancelAgain);
        assert_eq!(step(OrderStatus::Cancelled, 0, &rejected()), Step::Ignore);
    }

    #[test]
    fn a_replayed_event_after_the_order_moved_on_is_ignored() {
        assert_eq!(step(OrderStatus::Released, 0, &rejected()), Step::Ignore);
    }
}

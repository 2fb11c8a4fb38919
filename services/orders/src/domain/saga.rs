//! The order saga: which event moves an order from which state to which, and what it announces.
//! accepted → reserved → payment_authorized → released; any failure → failed (holds released by allocation).

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
}

/// What the saga does with an input in a given state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Record a detail without changing state (a sourcing decision).
    Note,
    /// Move to `reserved` and ask payments to authorize.
    Reserve,
    /// Move to `payment_authorized` and ask fulfillment to release.
    Authorize,
    /// Move to `released`.
    Release,
    /// Move to `failed` with a reason.
    Fail(String),
    /// Not for this state (a replay or a late event): ignore.
    Ignore,
}

/// The transition for `input` when the order is in `status`.
pub fn step(status: OrderStatus, input: &SagaInput) -> Step {
    use OrderStatus as S;
    match (status, input) {
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
            Step::Fail(format!("out of stock at {}: {}", r.location_id, short.join(", ")))
        }
        (S::Reserved, SagaInput::Payment(PaymentEvent::Authorized(_))) => Step::Authorize,
        (S::Reserved, SagaInput::Payment(PaymentEvent::Declined(d))) => {
            Step::Fail(format!("payment declined: {}", d.reason))
        }
        (S::PaymentAuthorized, SagaInput::Fulfillment(FulfillmentEvent::Released(_))) => Step::Release,
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
    fn a_rejected_hold_fails_an_accepted_order_naming_what_was_short() {
        assert_eq!(
            step(OrderStatus::Accepted, &rejected()),
            Step::Fail("out of stock at S1: A (2 asked, 1 available)".into())
        );
    }

    #[test]
    fn a_replayed_event_after_the_order_moved_on_is_ignored() {
        assert_eq!(step(OrderStatus::Released, &rejected()), Step::Ignore);
    }
}

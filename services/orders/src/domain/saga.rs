//! The order saga: which event moves an order from which state to which, and what it announces.
//! accepted → reserved → payment_authorized → released → fulfilled → completed (once the payment is captured);
//! any failure → failed (holds released by allocation); a cancel before payment → cancelled; a cancel after it →
//! cancelling until the node stops the work (→ cancelled) or reports the goods left first (→ fulfilled); a
//! pickup nobody collected → cancelled by its node.
//! A hold refused at the chosen node sends the order back to routing without that node, up to
//! [`MAX_REROUTES`] times.
//!
//! [`step`] names the transition an input makes and carries what it needs from the input; [`SagaOrder::plan`]
//! turns it into what changes on the order and what the order announces. Both are pure: `app::saga` persists the
//! plan.

use omni_contracts::api::{AcceptedRequest, Order, OrderStatus};
use omni_contracts::events::*;
use omni_contracts::{FulfillmentId, LocationId, Money, PaymentIntentId, ReservationId};

use super::parts::{Part, PartState, Parts};
use super::payment_methods::with_reported_cards;

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

/// What the saga does with an input in a given state, with what it takes from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A card's authorization could not be renewed: the order awaits another payment.
    AwaitPayment {
        /// Why.
        reason: String,
    },
    /// Record the sourcing decision without changing state (its parts are learned by [`SagaOrder::decide`]).
    Note {
        /// The node chosen.
        location_id: LocationId,
        /// The fulfillment created there.
        fulfillment_id: FulfillmentId,
    },
    /// A part moved; the order waits for its other parts.
    Track {
        /// The part.
        part: FulfillmentId,
        /// Where it is now.
        state: PartState,
    },
    /// Keep the authorization of an order that was routed again while payments was deciding (it stays valid
    /// for the new node).
    KeepAuthorization(PaymentIntentId),
    /// Every part is held: move to `reserved` and ask payments to authorize (or, if an authorization stands
    /// from before a re-route, straight back to `payment_authorized`).
    Reserve {
        /// The hold placed last.
        reservation_id: ReservationId,
        /// Where it is held.
        location_id: LocationId,
        /// Its part, when the order's parts are known.
        part: Option<FulfillmentId>,
    },
    /// A part routed again after the order was released is held, and with it every part: ask fulfillment to
    /// release it (the order stays released; its authorization stands).
    ReleaseReplacement {
        /// The part held.
        part: FulfillmentId,
        /// Where.
        location_id: LocationId,
    },
    /// Move to `payment_authorized` and ask fulfillment to release.
    Authorize(PaymentIntentId),
    /// Every part is released: move to `released`.
    Release {
        /// The fulfillment released last.
        fulfillment_id: FulfillmentId,
        /// Its node.
        location_id: LocationId,
    },
    /// Every part left: move to `fulfilled`.
    Fulfil {
        /// The node of the part that left last.
        location_id: LocationId,
        /// How it left.
        how: HandedOver,
        /// That part.
        part: Option<FulfillmentId>,
    },
    /// Move to `completed`: fulfilled and paid.
    Complete,
    /// Ask routing to choose again without `exclude`: the whole order (back to `accepted`), or one part of it
    /// while its other parts go on (the order keeps its state).
    Reroute {
        /// Why the node could not take it.
        reason: String,
        /// The node that refused.
        exclude: LocationId,
        /// The part to route again; `None` for an order whose parts are not known (it has one).
        part: Option<FulfillmentId>,
        /// Whether the order stays where it is (other parts are with their nodes or left).
        keep_state: bool,
    },
    /// No node can take a part routed again, while the order's other parts are under way: its lines are not
    /// served, the others go on (and if they all left, the order is fulfilled).
    Drop {
        /// The part.
        part: FulfillmentId,
        /// Why, for the log and the order's note.
        reason: String,
        /// When every other part already left: the last one, to fulfil the order.
        fulfilled: Option<(LocationId, HandedOver)>,
    },
    /// Move to `failed` with a reason.
    Fail(String),
    /// A hold or an authorization arrived for a cancelled order: announce the cancellation again, so allocation
    /// releases the hold and payments voids the authorization.
    CancelAgain,
    /// Move to `cancelled`: the node stopped the work (the cancel asked for reached it in time, or the customer
    /// never collected the order). Allocation releases the hold, payments voids the authorization.
    Cancel {
        /// Why.
        reason: String,
    },
    /// Not for this state (a replay or a late event): ignore.
    Ignore,
}

/// The transition for `input` when the order is in `status` with `parts`, routed again `reroutes` times.
pub fn step(status: OrderStatus, reroutes: u32, parts: &[Part], input: &SagaInput) -> Step {
    use OrderStatus as S;
    let parts = Parts(parts);
    let open = !matches!(status, S::Failed | S::Cancelled | S::Fulfilled | S::Completed);
    match (status, input) {
        // Only a step that is still waiting times out: if the reply came meanwhile, the state moved on.
        (current, SagaInput::TimedOut { status, reason })
            if current == *status && matches!(current, S::Accepted | S::Reserved) =>
        {
            Step::Fail(reason.clone())
        }
        (_, SagaInput::TimedOut { .. }) => Step::Ignore,
        (_, SagaInput::Fulfillment(FulfillmentEvent::Sourced(s))) if open => Step::Note {
            location_id: s.location_id.clone(),
            fulfillment_id: s.fulfillment_id,
        },
        (_, SagaInput::Fulfillment(FulfillmentEvent::Unsourceable(u))) if open => {
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
            let reason = if reasons.is_empty() {
                "no node can serve this delivery".to_owned()
            } else {
                format!("no node can serve the order ({})", reasons.join("; "))
            };
            match u.part {
                // Other parts are with their nodes: they go on without this one.
                Some(part) if parts.others_under_way(part) => Step::Drop {
                    part,
                    reason,
                    fulfilled: parts
                        .all_completed_with(part)
                        .then(|| last_left(&parts, part))
                        .flatten(),
                },
                _ => Step::Fail(reason),
            }
        }
        (S::Accepted, SagaInput::Reservation(ReservationEvent::Held(h))) => {
            match parts.by_reservation(h.reservation_id) {
                Some(part) if !part.state.live() => Step::Ignore,
                Some(part) if !parts.all_held_with(part.fulfillment_id) => Step::Track {
                    part: part.fulfillment_id,
                    state: PartState::Held,
                },
                part => Step::Reserve {
                    reservation_id: h.reservation_id,
                    location_id: h.location_id.clone(),
                    part: part.map(|p| p.fulfillment_id),
                },
            }
        }
        // A part routed again (or units a store sent elsewhere) once the order was paid: released in turn as soon
        // as every part is held.
        (S::PaymentAuthorized | S::Released, SagaInput::Reservation(ReservationEvent::Held(h))) => {
            match parts.by_reservation(h.reservation_id) {
                Some(part) if part.state != PartState::Sourced => Step::Ignore,
                Some(part) if parts.all_held_with(part.fulfillment_id) => Step::ReleaseReplacement {
                    part: part.fulfillment_id,
                    location_id: h.location_id.clone(),
                },
                Some(part) => Step::Track {
                    part: part.fulfillment_id,
                    state: PartState::Held,
                },
                None => Step::Ignore,
            }
        }
        (
            S::Accepted | S::PaymentAuthorized | S::Released,
            SagaInput::Reservation(ReservationEvent::Rejected(r)),
        ) => {
            let short: Vec<String> = r
                .shortages
                .iter()
                .map(|s| format!("{} ({} asked, {} available)", s.sku, s.requested, s.available))
                .collect();
            let reason = format!("out of stock at {}: {}", r.location_id, short.join(", "));
            match parts.by_reservation(r.reservation_id) {
                Some(part) if part.state.live() => again_without(
                    &r.location_id,
                    reason,
                    reroutes,
                    Some(part.fulfillment_id),
                    &parts,
                ),
                // An order whose parts were never recorded has one: the whole order goes again.
                None if parts.0.is_empty() && status == S::Accepted => {
                    again_without(&r.location_id, reason, reroutes, None, &parts)
                }
                _ => Step::Ignore,
            }
        }
        (S::Reserved | S::PaymentAuthorized, SagaInput::Reservation(ReservationEvent::Shortage(s))) => {
            let reason = format!(
                "shortage at {}: {} fell to {} on hand with {} held",
                s.location_id, s.sku, s.on_hand, s.reserved
            );
            let part = parts
                .held_at(&s.location_id, &s.reservations)
                .map(|p| p.fulfillment_id);
            again_without(&s.location_id, reason, reroutes, part, &parts)
        }
        // Holds are pinned once paid; one that lapses before is gone, and with it the order's claim on the stock.
        (S::Accepted | S::Reserved, SagaInput::Reservation(ReservationEvent::Expired(e))) => {
            Step::Fail(format!(
                "the hold at {} expired before the payment was authorized",
                e.location_id
            ))
        }
        (S::Reserved, SagaInput::Payment(PaymentEvent::Authorized(a))) => {
            Step::Authorize(a.payment_intent_id)
        }
        (S::Accepted, SagaInput::Payment(PaymentEvent::Authorized(a))) => {
            Step::KeepAuthorization(a.payment_intent_id)
        }
        (S::Cancelled, SagaInput::Reservation(ReservationEvent::Held(_)))
        | (S::Cancelled, SagaInput::Payment(PaymentEvent::Authorized(_))) => Step::CancelAgain,
        (S::Accepted, SagaInput::Payment(PaymentEvent::Declined(d))) => {
            Step::Fail(format!("payment declined: {}", d.reason))
        }
        (S::Reserved, SagaInput::Payment(PaymentEvent::Declined(d))) => {
            Step::Fail(format!("payment declined: {}", d.reason))
        }
        (S::PaymentAuthorized, SagaInput::Fulfillment(FulfillmentEvent::Released(r))) => {
            if parts.all_released_with(r.fulfillment_id) {
                Step::Release {
                    fulfillment_id: r.fulfillment_id,
                    location_id: r.location_id.clone(),
                }
            } else {
                Step::Track {
                    part: r.fulfillment_id,
                    state: PartState::Released,
                }
            }
        }
        // A part routed again, released to its new node.
        (S::Released, SagaInput::Fulfillment(FulfillmentEvent::Released(r)))
            if parts.by_fulfillment(r.fulfillment_id).is_some() =>
        {
            Step::Track {
                part: r.fulfillment_id,
                state: PartState::Released,
            }
        }
        // The store will not do the work: that part is routed again without it (the authorization stands).
        (S::Released | S::PaymentAuthorized, SagaInput::Fulfillment(FulfillmentEvent::Refused(r))) => {
            let reason = format!("refused by {}: {}", r.location_id, r.reason);
            again_without(&r.location_id, reason, reroutes, Some(r.fulfillment_id), &parts)
        }
        // Every part left (a cancel that came too late included: the goods left before the node heard of it).
        (
            S::Released | S::Cancelling | S::AwaitingPayment,
            SagaInput::Fulfillment(FulfillmentEvent::Completed(c)),
        ) => {
            if parts.all_completed_with(c.fulfillment_id) {
                Step::Fulfil {
                    location_id: c.location_id.clone(),
                    how: c.how,
                    part: parts.by_fulfillment(c.fulfillment_id).map(|p| p.fulfillment_id),
                }
            } else {
                Step::Track {
                    part: c.fulfillment_id,
                    state: PartState::Completed,
                }
            }
        }
        // A part left while another is still on its way to a node.
        (
            S::Accepted | S::Reserved | S::PaymentAuthorized,
            SagaInput::Fulfillment(FulfillmentEvent::Completed(c)),
        ) if parts.by_fulfillment(c.fulfillment_id).is_some() => Step::Track {
            part: c.fulfillment_id,
            state: PartState::Completed,
        },
        (
            S::Released | S::Cancelling | S::AwaitingPayment,
            SagaInput::Fulfillment(FulfillmentEvent::Cancelled(c)),
        ) => Step::Cancel {
            reason: c.reason.clone(),
        },
        // A card's authorization could not be renewed: the order awaits another payment.
        (S::PaymentAuthorized | S::Released, SagaInput::Payment(PaymentEvent::ReauthorizationFailed(f))) => {
            Step::AwaitPayment {
                reason: f.reason.clone(),
            }
        }
        // The final capture completes the order (older capture events name no part and were always final); a
        // part's capture while others are under way changes nothing here.
        (S::Fulfilled, SagaInput::Payment(PaymentEvent::Captured(c)))
            if c.final_capture || c.fulfillment_id.is_none() =>
        {
            Step::Complete
        }
        _ => Step::Ignore,
    }
}

/// What an input tells of the order's parts: the plan a `sourced`, `held` or `rejected` names (the hold's event
/// echoes routing's plan, so whichever of them reaches orders first records it), and the part it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    /// The parts as known with the input.
    pub parts: Vec<Part>,
    /// Parts it made known.
    pub new: Vec<Part>,
    /// The part it says was replaced, when that is news.
    pub replaced: Option<FulfillmentId>,
}

/// The parts known once `input` is read.
pub fn learn(known: &[Part], input: &SagaInput) -> Learned {
    let (plan, replaces, this): (&[PlannedPart], Option<FulfillmentId>, Option<PlannedPart>) = match input {
        SagaInput::Fulfillment(FulfillmentEvent::Sourced(s)) => (
            &s.plan,
            s.replaces,
            Some(PlannedPart {
                fulfillment_id: s.fulfillment_id,
                reservation_id: s.reservation_id,
                location_id: s.location_id.clone(),
            }),
        ),
        SagaInput::Reservation(ReservationEvent::Held(h)) => (&h.plan, h.replaces, None),
        SagaInput::Reservation(ReservationEvent::Rejected(r)) => (&r.plan, r.replaces, None),
        _ => (&[], None, None),
    };
    let mut parts = known.to_vec();
    let mut new = Vec::new();
    // An older `sourced` names no plan: it is the order's only part.
    let alone = this.filter(|_| plan.is_empty());
    for planned in plan.iter().chain(alone.iter()) {
        if parts.iter().any(|p| p.fulfillment_id == planned.fulfillment_id) {
            continue;
        }
        let part = Part {
            fulfillment_id: planned.fulfillment_id,
            reservation_id: planned.reservation_id,
            location_id: planned.location_id.clone(),
            state: PartState::Sourced,
        };
        parts.push(part.clone());
        new.push(part);
    }
    let mut replaced = None;
    if let Some(old) = replaces
        && let Some(part) = parts.iter_mut().find(|p| p.fulfillment_id == old)
        && part.state != PartState::Replaced
    {
        part.state = PartState::Replaced;
        replaced = Some(old);
    }
    Learned { parts, new, replaced }
}

/// The node of a live part other than `except` that left (to name where a split order was fulfilled).
fn last_left(parts: &Parts<'_>, except: FulfillmentId) -> Option<(LocationId, HandedOver)> {
    parts
        .0
        .iter()
        .rev()
        .find(|p| p.fulfillment_id != except && p.state == PartState::Completed)
        .map(|p| (p.location_id.clone(), HandedOver::Shipped))
}

/// What the saga knows of an order when an input arrives.
#[derive(Debug, Clone)]
pub struct SagaOrder {
    /// The order as stored.
    pub order: Order,
    /// How often it was routed again.
    pub reroutes: u32,
    /// The nodes that refused its hold, in the order they refused.
    pub excluded: Vec<LocationId>,
    /// Its payment intent, once authorized.
    pub payment_intent_id: Option<PaymentIntentId>,
    /// Its parts, one per node that serves it (none recorded for orders sourced before parts were kept).
    pub parts: Vec<Part>,
}

/// What a step changes on the stored order (fields left `None` are unchanged).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Change {
    /// New status, if it changes.
    pub status: Option<OrderStatus>,
    /// Node, once known.
    pub location_id: Option<LocationId>,
    /// Hold, once placed.
    pub reservation_id: Option<ReservationId>,
    /// Fulfillment, once created.
    pub fulfillment_id: Option<FulfillmentId>,
    /// Payment intent, once authorized.
    pub payment_intent_id: Option<PaymentIntentId>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// A node that refused the hold, to exclude from routing from now on (counts a re-route).
    pub exclude: Option<LocationId>,
    /// The request again, when what it shows of its tenders changed.
    pub request: Option<AcceptedRequest>,
    /// Parts to record (a plan's parts, new ones ignored when already known).
    pub new_parts: Vec<Part>,
    /// Parts that moved.
    pub moved_parts: Vec<(FulfillmentId, PartState)>,
    /// Money payments reported moving (added to the order's sums).
    pub money: MoneyMoved,
}

/// Money payments reported moving on an order, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoneyMoved {
    /// Captured.
    pub captured: i64,
    /// Refunded.
    pub refunded: i64,
    /// Released without being captured.
    pub voided: i64,
}

impl MoneyMoved {
    /// What a payment event reports moving.
    pub fn reported(event: &PaymentEvent) -> Self {
        let sum = |tenders: &[TenderAmount], kind: &str| -> i64 {
            tenders
                .iter()
                .filter(|t| t.kind == kind)
                .map(|t| t.amount_minor)
                .sum()
        };
        match event {
            PaymentEvent::Captured(c) => Self {
                captured: c.amount.amount_minor,
                ..Self::default()
            },
            PaymentEvent::Voided(v) => Self {
                voided: v.amount.amount_minor,
                ..Self::default()
            },
            PaymentEvent::Refunded(r) => Self {
                refunded: sum(&r.tenders, "refund"),
                voided: sum(&r.tenders, "void"),
                ..Self::default()
            },
            _ => Self::default(),
        }
    }
}

impl Change {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Change::default()
    }
}

/// A step made concrete: what changes on the order and what it announces.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// What changes on the stored order.
    pub change: Change,
    /// The order event to publish, if any.
    pub announce: Option<OrderEvent>,
}

/// Why a step cannot be applied to the order as stored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SagaError {
    /// Payments authorized an order that has no node: the stored order contradicts the saga.
    #[error("order {0} was authorized without a node")]
    AuthorizedWithoutNode(omni_contracts::OrderId),
    /// A part routed again after release is to be released, but the order has no authorization.
    #[error("order {0} is released without an authorization")]
    ReleasedWithoutAuthorization(omni_contracts::OrderId),
}

impl SagaOrder {
    /// The value of what a completion says left, at the order's prices.
    fn delivered(&self, completed: &FulfillmentCompleted) -> Money {
        Money {
            amount_minor: super::parts::delivered_value(&self.order.request.lines, &completed.delivered),
            currency: self.order.request.currency,
        }
    }

    /// The step `input` takes and what it changes and announces, with what it tells of the order's parts.
    pub fn decide(mut self, input: &SagaInput) -> Result<(Step, Plan), SagaError> {
        let learned = learn(&self.parts, input);
        self.parts = learned.parts;
        let step = step(self.order.status, self.reroutes, &self.parts, input);
        let mut plan = self.plan(step.clone(), input)?;
        plan.change.new_parts = learned.new;
        if let Some(replaced) = learned.replaced {
            plan.change.moved_parts.insert(0, (replaced, PartState::Replaced));
        }
        Ok((step, plan))
    }

    /// What `step` (taken for `input`) changes on this order and announces. A payment report also fills in the
    /// card summaries the order shows, whatever the step.
    pub fn plan(mut self, step: Step, input: &SagaInput) -> Result<Plan, SagaError> {
        let mut change = Change::default();
        if let SagaInput::Payment(event) = input {
            change.money = MoneyMoved::reported(event);
        }
        if let SagaInput::Payment(
            PaymentEvent::Authorized(PaymentAuthorized { methods, .. })
            | PaymentEvent::Declined(PaymentDeclined { methods, .. }),
        ) = input
            && let Some(tenders) = with_reported_cards(&self.order.request.tenders, methods)
        {
            self.order.request.tenders = tenders;
            change.request = Some(self.order.request.clone());
        }
        let order_id = self.order.id;
        let announce = match step {
            Step::Ignore => None,
            Step::Note {
                location_id,
                fulfillment_id,
            } => {
                change.location_id = Some(location_id);
                change.fulfillment_id = Some(fulfillment_id);
                None
            }
            Step::Track { part, state } => {
                change.moved_parts.push((part, state));
                match input {
                    // A part left while others are under way: its value is captured now.
                    SagaInput::Fulfillment(FulfillmentEvent::Completed(c))
                        if state == PartState::Completed && !c.delivered.is_empty() =>
                    {
                        Some(OrderEvent::PartDelivered(OrderPartDelivered {
                            order_id,
                            fulfillment_id: c.fulfillment_id,
                            location_id: c.location_id.clone(),
                            amount: self.delivered(c),
                        }))
                    }
                    _ => None,
                }
            }
            Step::ReleaseReplacement { part, location_id } => {
                change.moved_parts.push((part, PartState::Held));
                let payment_intent_id = self
                    .payment_intent_id
                    .ok_or(SagaError::ReleasedWithoutAuthorization(order_id))?;
                Some(OrderEvent::PaymentAuthorized(OrderPaymentAuthorized {
                    order_id,
                    payment_intent_id,
                    location_id,
                }))
            }
            Step::Drop {
                part,
                reason,
                fulfilled,
            } => {
                change.moved_parts.push((part, PartState::Dropped));
                change.failure_reason = Some(format!("part not served: {reason}"));
                let nothing_more = Money {
                    amount_minor: 0,
                    currency: self.order.request.currency,
                };
                fulfilled.map(|(location_id, how)| {
                    change.status = Some(OrderStatus::Fulfilled);
                    // The parts that left were captured as they left; nothing more is delivered.
                    OrderEvent::Fulfilled(OrderFulfilled {
                        order_id,
                        location_id,
                        how,
                        delivered: Some(nothing_more),
                        fulfillment_id: None,
                    })
                })
            }
            Step::KeepAuthorization(payment_intent_id) => {
                change.payment_intent_id = Some(payment_intent_id);
                None
            }
            Step::AwaitPayment { reason } => {
                change.status = Some(OrderStatus::AwaitingPayment);
                change.failure_reason = Some(format!("awaiting payment: {reason}"));
                Some(OrderEvent::AwaitingPayment(OrderAwaitingPayment {
                    order_id,
                    reason,
                }))
            }
            Step::Cancel { reason } => {
                change.status = Some(OrderStatus::Cancelled);
                change.failure_reason = Some(reason.clone());
                Some(OrderEvent::Cancelled(OrderCancelled { order_id, by: reason }))
            }
            Step::CancelAgain => Some(OrderEvent::Cancelled(OrderCancelled {
                order_id,
                by: self
                    .order
                    .failure_reason
                    .clone()
                    .unwrap_or_else(|| "cancelled".into()),
            })),
            Step::Reserve {
                reservation_id,
                location_id,
                part,
            } => {
                if let Some(part) = part {
                    change.moved_parts.push((part, PartState::Held));
                }
                // Routed again after a shortage with its authorization granted: that stands (same order, same
                // amount), so the order goes straight back to being released at its new node.
                change.location_id = Some(location_id.clone());
                change.reservation_id = Some(reservation_id);
                Some(match self.payment_intent_id {
                    Some(payment_intent_id) => {
                        change.status = Some(OrderStatus::PaymentAuthorized);
                        OrderEvent::PaymentAuthorized(OrderPaymentAuthorized {
                            order_id,
                            payment_intent_id,
                            location_id,
                        })
                    }
                    None => {
                        change.status = Some(OrderStatus::Reserved);
                        OrderEvent::Reserved(OrderReserved {
                            order_id,
                            reservation_id,
                            location_id,
                            amount: Money {
                                amount_minor: self.order.total_minor,
                                currency: self.order.request.currency,
                            },
                            tenders: self.order.request.tenders.clone(),
                            payer: self.order.placed_by.clone(),
                            customer_id: self.order.request.customer.id.clone(),
                        })
                    }
                })
            }
            Step::Authorize(payment_intent_id) => {
                let location_id = self
                    .order
                    .location_id
                    .clone()
                    .ok_or(SagaError::AuthorizedWithoutNode(order_id))?;
                change.status = Some(OrderStatus::PaymentAuthorized);
                change.payment_intent_id = Some(payment_intent_id);
                Some(OrderEvent::PaymentAuthorized(OrderPaymentAuthorized {
                    order_id,
                    payment_intent_id,
                    location_id,
                }))
            }
            Step::Release {
                fulfillment_id,
                location_id,
            } => {
                change.moved_parts.push((fulfillment_id, PartState::Released));
                change.status = Some(OrderStatus::Released);
                Some(OrderEvent::Released(OrderReleased {
                    order_id,
                    fulfillment_id,
                    location_id,
                }))
            }
            Step::Fulfil {
                location_id,
                how,
                part,
            } => {
                if let Some(part) = part {
                    change.moved_parts.push((part, PartState::Completed));
                }
                change.status = Some(OrderStatus::Fulfilled);
                // What the last part delivered; an older completion that does not say leaves it to payments to
                // capture everything still authorized.
                let (delivered, fulfillment_id) = match input {
                    SagaInput::Fulfillment(FulfillmentEvent::Completed(c)) if !c.delivered.is_empty() => {
                        (Some(self.delivered(c)), Some(c.fulfillment_id))
                    }
                    SagaInput::Fulfillment(FulfillmentEvent::Completed(c)) => (None, Some(c.fulfillment_id)),
                    _ => (None, None),
                };
                Some(OrderEvent::Fulfilled(OrderFulfilled {
                    order_id,
                    location_id,
                    how,
                    delivered,
                    fulfillment_id,
                }))
            }
            Step::Complete => {
                change.status = Some(OrderStatus::Completed);
                Some(OrderEvent::Completed(OrderCompleted { order_id }))
            }
            Step::Reroute {
                reason,
                exclude,
                part,
                keep_state,
            } => {
                if !keep_state {
                    change.status = Some(OrderStatus::Accepted);
                }
                if let Some(part) = part {
                    change.moved_parts.push((part, PartState::Rerouting));
                }
                change.exclude = Some(exclude.clone());
                let mut excluded = self.excluded;
                excluded.push(exclude);
                Some(OrderEvent::RerouteRequested(OrderRerouteRequested {
                    order: self.order,
                    exclude: excluded,
                    reason,
                    attempt: self.reroutes + 1,
                    part,
                }))
            }
            Step::Fail(reason) => {
                change.status = Some(OrderStatus::Failed);
                change.failure_reason = Some(reason.clone());
                Some(OrderEvent::Failed(OrderFailed { order_id, reason }))
            }
        };
        Ok(Plan { change, announce })
    }
}

/// Routes the order (or its `part`) again without `node` (which could not take it, for `reason`), or fails it
/// once it has been routed again [`MAX_REROUTES`] times. A part goes alone, and the order keeps its state, when
/// other parts are with their nodes or left.
fn again_without(
    node: &LocationId,
    reason: String,
    reroutes: u32,
    part: Option<FulfillmentId>,
    parts: &Parts<'_>,
) -> Step {
    if reroutes < MAX_REROUTES {
        Step::Reroute {
            reason,
            exclude: node.clone(),
            part,
            keep_state: part.is_some_and(|p| parts.others_under_way(p)),
        }
    } else {
        Step::Fail(format!("{reason} (after {reroutes} other nodes)"))
    }
}

#[cfg(test)]
mod split_tests;

#[cfg(test)]
mod tests {
    use super::*;
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
            plan: vec![],
            replaces: None,
        }))
    }

    #[test]
    fn a_step_times_out_only_while_the_order_still_waits_in_it() {
        let timed_out = |status| SagaInput::TimedOut {
            status,
            reason: "no hold within 120 s".into(),
        };
        assert_eq!(
            step(OrderStatus::Accepted, 0, &[], &timed_out(OrderStatus::Accepted)),
            Step::Fail("no hold within 120 s".into())
        );
        assert_eq!(
            step(OrderStatus::Reserved, 0, &[], &timed_out(OrderStatus::Accepted)),
            Step::Ignore,
            "the hold came meanwhile"
        );
        assert_eq!(
            step(OrderStatus::Released, 0, &[], &timed_out(OrderStatus::Released)),
            Step::Ignore,
            "released orders wait for their node, not for the saga"
        );
    }

    #[test]
    fn a_rejected_hold_sends_the_order_back_to_routing_without_that_node() {
        assert_eq!(
            step(OrderStatus::Accepted, 0, &[], &rejected()),
            Step::Reroute {
                reason: "out of stock at S1: A (2 asked, 1 available)".into(),
                exclude: LocationId::parse("S1").unwrap(),
                part: None,
                keep_state: false,
            }
        );
    }

    #[test]
    fn after_the_last_reroute_a_rejected_hold_fails_the_order_naming_what_was_short() {
        assert_eq!(
            step(OrderStatus::Accepted, MAX_REROUTES, &[], &rejected()),
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
    fn a_store_refusing_a_released_order_sends_it_back_to_routing_without_that_store() {
        let fulfillment_id = FulfillmentId::generate();
        let refused = SagaInput::Fulfillment(FulfillmentEvent::Refused(FulfillmentRefused {
            order_id: OrderId::generate(),
            fulfillment_id,
            location_id: LocationId::parse("S1").unwrap(),
            reason: "no staff today".into(),
        }));
        assert_eq!(
            step(OrderStatus::Released, 0, &[], &refused),
            Step::Reroute {
                reason: "refused by S1: no staff today".into(),
                exclude: LocationId::parse("S1").unwrap(),
                part: Some(fulfillment_id),
                keep_state: false,
            }
        );
        assert!(matches!(
            step(OrderStatus::Released, MAX_REROUTES, &[], &refused),
            Step::Fail(_)
        ));
        assert_eq!(step(OrderStatus::Fulfilled, 0, &[], &refused), Step::Ignore);
    }

    #[test]
    fn a_shortage_sends_a_held_or_paid_order_back_to_routing_but_not_a_released_one() {
        for status in [OrderStatus::Reserved, OrderStatus::PaymentAuthorized] {
            assert!(
                matches!(step(status, 0, &[], &shortage()), Step::Reroute { exclude, .. } if exclude.as_str() == "S1"),
                "{status:?}"
            );
            assert!(matches!(
                step(status, MAX_REROUTES, &[], &shortage()),
                Step::Fail(_)
            ));
        }
        assert_eq!(step(OrderStatus::Released, 0, &[], &shortage()), Step::Ignore);
    }

    #[test]
    fn a_cancel_asked_of_a_paid_order_ends_as_its_node_decides() {
        let order_id = OrderId::generate();
        let s1 = LocationId::parse("S1").unwrap();
        let stopped = SagaInput::Fulfillment(FulfillmentEvent::Cancelled(FulfillmentCancelled {
            order_id,
            fulfillment_id: FulfillmentId::generate(),
            location_id: s1.clone(),
            reason: "cancelled by kim".into(),
        }));
        let left = SagaInput::Fulfillment(FulfillmentEvent::Completed(FulfillmentCompleted {
            order_id,
            fulfillment_id: FulfillmentId::generate(),
            location_id: s1.clone(),
            how: HandedOver::PickedUp,
            reservation_id: None,
            left: vec![],
            delivered: vec![],
        }));
        let released = SagaInput::Fulfillment(FulfillmentEvent::Released(FulfillmentReleased {
            order_id,
            fulfillment_id: FulfillmentId::generate(),
            location_id: s1.clone(),
        }));
        assert_eq!(
            step(OrderStatus::Cancelling, 0, &[], &stopped),
            Step::Cancel {
                reason: "cancelled by kim".into()
            }
        );
        // Too late: the goods left first.
        assert_eq!(
            step(OrderStatus::Cancelling, 0, &[], &left),
            Step::Fulfil {
                location_id: s1,
                how: HandedOver::PickedUp,
                part: None,
            }
        );
        // Released while the cancel was on its way: the node decides when the cancel reaches it.
        assert_eq!(step(OrderStatus::Cancelling, 0, &[], &released), Step::Ignore);
        assert_eq!(step(OrderStatus::Cancelling, 0, &[], &shortage()), Step::Ignore);
        // A pickup nobody collected: its node cancels a released order by itself.
        assert!(matches!(
            step(OrderStatus::Released, 0, &[], &stopped),
            Step::Cancel { .. }
        ));
        assert_eq!(step(OrderStatus::Fulfilled, 0, &[], &stopped), Step::Ignore);
    }

    #[test]
    fn a_hold_placed_after_a_cancellation_is_announced_again_for_release() {
        let held = SagaInput::Reservation(ReservationEvent::Held(ReservationHeld {
            reservation_id: ReservationId::generate(),
            order_id: OrderId::generate(),
            location_id: LocationId::parse("S1").unwrap(),
            lines: vec![],
            expires_at: chrono::Utc::now(),
            plan: vec![],
            replaces: None,
        }));
        assert_eq!(step(OrderStatus::Cancelled, 0, &[], &held), Step::CancelAgain);
        assert_eq!(step(OrderStatus::Cancelled, 0, &[], &rejected()), Step::Ignore);
    }

    #[test]
    fn a_replayed_event_after_the_order_moved_on_is_ignored() {
        assert_eq!(step(OrderStatus::Released, 0, &[], &rejected()), Step::Ignore);
    }

    /// The published pickup example as a stored order in `status`, placed at `S1` once it is held.
    pub(super) fn stored(status: OrderStatus) -> SagaOrder {
        use crate::domain::intake::{PartnerBounds, PartnerStanding, check_partner_order};
        let example = include_bytes!("../../../../docs/schemas/examples/pickup-in-store.json");
        let partner_order =
            crate::domain::partner_schema::parse(example, 1 << 20).expect("the example parses");
        let bounds = PartnerBounds {
            allowed_tiers: vec![api::CustomerTier::Standard, api::CustomerTier::Vip],
            ..PartnerBounds::default()
        };
        let (request, total_minor) = check_partner_order(
            &partner_order,
            &PartnerStanding::Enabled(bounds),
            partner_order.placed_at,
        )
        .expect("the example is valid");
        let now = chrono::Utc::now();
        SagaOrder {
            order: Order {
                id: OrderId::generate(),
                status,
                partner_id: Some(partner_order.partner_id.clone()),
                partner_order_id: Some(partner_order.partner_order_id.clone()),
                request: request.accepted(),
                placed_by: api::Payer::partner(&partner_order.partner_id),
                total_minor,
                location_id: (status != OrderStatus::Accepted).then(|| LocationId::parse("S1").unwrap()),
                failure_reason: None,
                payment: api::OrderPayment::default(),
                returns: api::OrderReturns::default(),
                exchange_for: None,
                created_at: now,
                updated_at: now,
            },
            reroutes: 0,
            excluded: vec![],
            payment_intent_id: None,
            parts: vec![],
        }
    }

    fn held_at(location: &str) -> SagaInput {
        SagaInput::Reservation(ReservationEvent::Held(ReservationHeld {
            reservation_id: ReservationId::generate(),
            order_id: OrderId::generate(),
            location_id: LocationId::parse(location).unwrap(),
            lines: vec![],
            expires_at: chrono::Utc::now(),
            plan: vec![],
            replaces: None,
        }))
    }

    #[test]
    fn a_hold_reserves_the_order_and_asks_payments_for_its_whole_amount() {
        let order = stored(OrderStatus::Accepted);
        let (total, input) = (order.order.total_minor, held_at("S2"));
        let step = step(OrderStatus::Accepted, 0, &[], &input);
        let plan = order.plan(step, &input).unwrap();
        assert_eq!(plan.change.status, Some(OrderStatus::Reserved));
        assert_eq!(
            plan.change.location_id.as_ref().map(LocationId::as_str),
            Some("S2")
        );
        assert!(plan.change.reservation_id.is_some());
        assert!(
            matches!(&plan.announce, Some(OrderEvent::Reserved(r)) if r.amount.amount_minor == total && r.location_id.as_str() == "S2"),
            "{:?}",
            plan.announce
        );
    }

    #[test]
    fn a_hold_for_an_order_routed_again_after_payment_keeps_its_authorization() {
        let mut order = stored(OrderStatus::Accepted);
        let intent = PaymentIntentId::generate();
        order.payment_intent_id = Some(intent);
        let input = held_at("S2");
        let plan = order
            .plan(step(OrderStatus::Accepted, 1, &[], &input), &input)
            .unwrap();
        assert_eq!(plan.change.status, Some(OrderStatus::PaymentAuthorized));
        assert!(
            matches!(&plan.announce, Some(OrderEvent::PaymentAuthorized(a)) if a.payment_intent_id == intent && a.location_id.as_str() == "S2"),
            "{:?}",
            plan.announce
        );
    }

    #[test]
    fn a_reroute_excludes_every_node_that_refused_so_far_and_counts_the_attempt() {
        let mut order = stored(OrderStatus::Accepted);
        order.reroutes = 1;
        order.excluded = vec![LocationId::parse("S0").unwrap()];
        let input = rejected();
        let plan = order
            .plan(step(OrderStatus::Accepted, 1, &[], &input), &input)
            .unwrap();
        assert_eq!(plan.change.status, Some(OrderStatus::Accepted));
        assert_eq!(plan.change.exclude.as_ref().map(LocationId::as_str), Some("S1"));
        let Some(OrderEvent::RerouteRequested(reroute)) = plan.announce else {
            panic!("a reroute is announced: {:?}", plan.announce);
        };
        let excluded: Vec<&str> = reroute.exclude.iter().map(LocationId::as_str).collect();
        assert_eq!((excluded, reroute.attempt), (vec!["S0", "S1"], 2));
    }

    #[test]
    fn an_authorization_for_an_order_without_a_node_is_refused_as_a_contradiction() {
        let mut order = stored(OrderStatus::Reserved);
        order.order.location_id = None;
        let id = order.order.id;
        let intent = PaymentIntentId::generate();
        assert_eq!(
            order.plan(
                Step::Authorize(intent),
                &SagaInput::TimedOut {
                    status: OrderStatus::Reserved,
                    reason: String::new(),
                }
            ),
            Err(SagaError::AuthorizedWithoutNode(id))
        );
    }

    #[test]
    fn an_ignored_input_changes_nothing_and_announces_nothing() {
        let input = rejected();
        let plan = stored(OrderStatus::Released).plan(Step::Ignore, &input).unwrap();
        assert!(plan.change.is_empty() && plan.announce.is_none());
    }
}

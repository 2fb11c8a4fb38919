//! A split order through the saga: it moves on only when every live part has, a part refused after release is
//! routed again alone while the others go on, and a part no node can take is dropped without failing the
//! parts already under way.

use omni_contracts::api::OrderStatus;
use omni_contracts::events::*;
use omni_contracts::*;

use super::*;

/// The order's state and parts as the store would keep them, applying each plan's change.
struct Replay {
    status: OrderStatus,
    parts: Vec<Part>,
    reroutes: u32,
    payment_intent_id: Option<PaymentIntentId>,
    order_id: OrderId,
}

impl Replay {
    fn new() -> Self {
        Self {
            status: OrderStatus::Accepted,
            parts: vec![],
            reroutes: 0,
            payment_intent_id: None,
            order_id: OrderId::generate(),
        }
    }

    /// The step this input takes, with its announcement; the change applied.
    fn feed(&mut self, input: SagaInput) -> (Step, Option<OrderEvent>) {
        let mut order = split_order(self.status);
        order.order.id = self.order_id;
        order.payment_intent_id = self.payment_intent_id;
        order.parts = self.parts.clone();
        order.reroutes = self.reroutes;
        let (step, plan) = order.decide(&input).unwrap();
        let change = plan.change;
        if let Some(status) = change.status {
            self.status = status;
        }
        if change.payment_intent_id.is_some() {
            self.payment_intent_id = change.payment_intent_id;
        }
        if change.exclude.is_some() {
            self.reroutes += 1;
        }
        for part in change.new_parts {
            if !self.parts.iter().any(|p| p.fulfillment_id == part.fulfillment_id) {
                self.parts.push(part);
            }
        }
        for (id, state) in change.moved_parts {
            if let Some(p) = self.parts.iter_mut().find(|p| p.fulfillment_id == id) {
                p.state = state;
            }
        }
        (step, plan.announce)
    }

    fn state_of(&self, part: &PlannedPart) -> PartState {
        self.parts
            .iter()
            .find(|p| p.fulfillment_id == part.fulfillment_id)
            .unwrap()
            .state
    }
}

fn split_order(status: OrderStatus) -> SagaOrder {
    let mut order = super::tests::stored(status);
    order.order.location_id = Some(LocationId::parse("S1").unwrap());
    order
}

fn planned(location: &str) -> PlannedPart {
    PlannedPart {
        fulfillment_id: FulfillmentId::generate(),
        reservation_id: ReservationId::generate(),
        location_id: LocationId::parse(location).unwrap(),
    }
}

fn sourced(
    order_id: OrderId,
    part: &PlannedPart,
    plan: &[PlannedPart],
    replaces: Option<FulfillmentId>,
) -> SagaInput {
    SagaInput::Fulfillment(FulfillmentEvent::Sourced(FulfillmentSourced {
        order_id,
        fulfillment_id: part.fulfillment_id,
        reservation_id: part.reservation_id,
        location_id: part.location_id.clone(),
        lines: vec![],
        channel: None,
        tier: Default::default(),
        segment: None,
        candidates: vec![],
        plans: vec![],
        plan: plan.to_vec(),
        replaces,
        rule: "lowest cost".into(),
    }))
}

/// The hold's event, echoing the plan it was placed for (`plan`, `replaces`) as allocation does.
fn held_in(
    order_id: OrderId,
    part: &PlannedPart,
    plan: &[PlannedPart],
    replaces: Option<FulfillmentId>,
) -> SagaInput {
    SagaInput::Reservation(ReservationEvent::Held(ReservationHeld {
        reservation_id: part.reservation_id,
        order_id,
        location_id: part.location_id.clone(),
        lines: vec![],
        expires_at: chrono::Utc::now(),
        plan: plan.to_vec(),
        replaces,
    }))
}

fn held(order_id: OrderId, part: &PlannedPart) -> SagaInput {
    held_in(order_id, part, &[], None)
}

fn released(order_id: OrderId, part: &PlannedPart) -> SagaInput {
    SagaInput::Fulfillment(FulfillmentEvent::Released(FulfillmentReleased {
        order_id,
        fulfillment_id: part.fulfillment_id,
        location_id: part.location_id.clone(),
    }))
}

fn completed(order_id: OrderId, part: &PlannedPart) -> SagaInput {
    SagaInput::Fulfillment(FulfillmentEvent::Completed(FulfillmentCompleted {
        order_id,
        fulfillment_id: part.fulfillment_id,
        location_id: part.location_id.clone(),
        how: HandedOver::Shipped,
        reservation_id: Some(part.reservation_id),
        left: vec![],
        delivered: vec![],
    }))
}

fn refused(order_id: OrderId, part: &PlannedPart) -> SagaInput {
    SagaInput::Fulfillment(FulfillmentEvent::Refused(FulfillmentRefused {
        order_id,
        fulfillment_id: part.fulfillment_id,
        location_id: part.location_id.clone(),
        reason: "no staff".into(),
    }))
}

fn authorized(order_id: OrderId) -> SagaInput {
    SagaInput::Payment(PaymentEvent::Authorized(PaymentAuthorized {
        payment_intent_id: PaymentIntentId::generate(),
        order_id,
        amount: Money {
            amount_minor: 100,
            currency: Currency::parse("EUR").unwrap(),
        },
        psp_reference: "psp-1".into(),
        methods: vec![],
    }))
}

/// Takes a two-part order to `released`, each part at its node.
fn released_in_two(replay: &mut Replay) -> (PlannedPart, PlannedPart) {
    let id = replay.order_id;
    let (a, b) = (planned("S1"), planned("S2"));
    let plan = [a.clone(), b.clone()];
    assert!(matches!(
        replay.feed(sourced(id, &a, &plan, None)).0,
        Step::Note { .. }
    ));
    assert!(matches!(
        replay.feed(sourced(id, &b, &plan, None)).0,
        Step::Note { .. }
    ));
    assert_eq!(replay.parts.len(), 2, "a replayed plan records each part once");
    // One hold is not enough: the order waits for the other.
    let (step, announce) = replay.feed(held(id, &a));
    assert!(
        matches!(step, Step::Track { .. }) && announce.is_none(),
        "{step:?}"
    );
    assert_eq!(replay.status, OrderStatus::Accepted);
    let (_, announce) = replay.feed(held(id, &b));
    assert!(matches!(announce, Some(OrderEvent::Reserved(_))), "{announce:?}");
    let (_, announce) = replay.feed(authorized(id));
    assert!(matches!(announce, Some(OrderEvent::PaymentAuthorized(_))));
    let (_, announce) = replay.feed(released(id, &a));
    assert!(announce.is_none());
    assert_eq!(replay.status, OrderStatus::PaymentAuthorized);
    let (_, announce) = replay.feed(released(id, &b));
    assert!(matches!(announce, Some(OrderEvent::Released(_))));
    assert_eq!(replay.status, OrderStatus::Released);
    (a, b)
}

#[test]
fn a_split_order_is_reserved_released_and_fulfilled_only_when_every_part_is() {
    let mut replay = Replay::new();
    let id = replay.order_id;
    let (a, b) = released_in_two(&mut replay);
    let (step, announce) = replay.feed(completed(id, &a));
    assert!(matches!(step, Step::Track { .. }) && announce.is_none());
    assert_eq!(
        replay.status,
        OrderStatus::Released,
        "one parcel left, the other has not"
    );
    let (_, announce) = replay.feed(completed(id, &b));
    assert!(matches!(announce, Some(OrderEvent::Fulfilled(_))));
    assert_eq!(replay.status, OrderStatus::Fulfilled);
    assert!(replay.parts.iter().all(|p| p.state == PartState::Completed));
}

#[test]
fn a_part_refused_after_release_is_routed_again_alone_and_released_when_held() {
    let mut replay = Replay::new();
    let id = replay.order_id;
    let (a, b) = released_in_two(&mut replay);
    replay.feed(completed(id, &a));
    // S2 will not do it: only its part goes back to routing; the order stays released.
    let (step, announce) = replay.feed(refused(id, &b));
    assert!(
        matches!(&step, Step::Reroute { part: Some(p), keep_state: true, .. } if *p == b.fulfillment_id),
        "{step:?}"
    );
    let Some(OrderEvent::RerouteRequested(again)) = announce else {
        panic!("{announce:?}")
    };
    assert_eq!(again.part, Some(b.fulfillment_id));
    assert_eq!(replay.status, OrderStatus::Released);
    assert_eq!(replay.state_of(&b), PartState::Rerouting);
    // Its replacement at S3: noted, the refused part replaced; held → released to S3 at once.
    let c = planned("S3");
    replay.feed(sourced(id, &c, &[], Some(b.fulfillment_id)));
    assert_eq!(replay.state_of(&b), PartState::Replaced);
    replay
        .payment_intent_id
        .get_or_insert_with(PaymentIntentId::generate);
    let (step, announce) = replay.feed(held(id, &c));
    assert!(matches!(step, Step::ReleaseReplacement { .. }), "{step:?}");
    assert!(matches!(announce, Some(OrderEvent::PaymentAuthorized(_))));
    replay.feed(released(id, &c));
    assert_eq!(replay.status, OrderStatus::Released);
    // The replaced part does not count: the order is fulfilled when S3's parcel leaves.
    let (_, announce) = replay.feed(completed(id, &c));
    assert!(matches!(announce, Some(OrderEvent::Fulfilled(_))), "{announce:?}");
}

#[test]
fn a_part_no_node_can_take_is_dropped_while_the_others_go_on() {
    let mut replay = Replay::new();
    let id = replay.order_id;
    let (a, b) = released_in_two(&mut replay);
    replay.feed(refused(id, &b));
    let unsourceable = SagaInput::Fulfillment(FulfillmentEvent::Unsourceable(OrderUnsourceable {
        order_id: id,
        candidates: vec![],
        part: Some(b.fulfillment_id),
    }));
    let (step, announce) = replay.feed(unsourceable.clone());
    assert!(matches!(step, Step::Drop { fulfilled: None, .. }), "{step:?}");
    assert!(announce.is_none());
    assert_eq!(replay.status, OrderStatus::Released);
    assert_eq!(replay.state_of(&b), PartState::Dropped);
    let (_, announce) = replay.feed(completed(id, &a));
    assert!(matches!(announce, Some(OrderEvent::Fulfilled(_))));

    // Nothing under way yet (the part's hold was refused before release): the whole order fails.
    let mut early = Replay::new();
    let (c, d) = (planned("S1"), planned("S2"));
    let plan = [c.clone(), d.clone()];
    early.feed(sourced(early.order_id, &c, &plan, None));
    early.feed(sourced(early.order_id, &d, &plan, None));
    let none = SagaInput::Fulfillment(FulfillmentEvent::Unsourceable(OrderUnsourceable {
        order_id: early.order_id,
        candidates: vec![],
        part: Some(d.fulfillment_id),
    }));
    assert!(matches!(early.feed(none).0, Step::Fail(_)));
}

#[test]
fn a_hold_refused_for_one_part_routes_that_part_again_and_keeps_the_other_hold() {
    let mut replay = Replay::new();
    let id = replay.order_id;
    let (a, b) = (planned("S1"), planned("S2"));
    let plan = [a.clone(), b.clone()];
    replay.feed(sourced(id, &a, &plan, None));
    replay.feed(sourced(id, &b, &plan, None));
    replay.feed(held(id, &a));
    let rejected = SagaInput::Reservation(ReservationEvent::Rejected(ReservationRejected {
        reservation_id: b.reservation_id,
        order_id: id,
        location_id: b.location_id.clone(),
        shortages: vec![],
        plan: plan.to_vec(),
        replaces: None,
    }));
    let (step, _) = replay.feed(rejected);
    assert!(
        matches!(&step, Step::Reroute { part: Some(p), keep_state: false, .. } if *p == b.fulfillment_id),
        "{step:?}"
    );
    assert_eq!(replay.state_of(&a), PartState::Held);
    let c = planned("S3");
    replay.feed(sourced(id, &c, &[], Some(b.fulfillment_id)));
    let (_, announce) = replay.feed(held(id, &c));
    assert!(
        matches!(announce, Some(OrderEvent::Reserved(_))),
        "both live parts held: {announce:?}"
    );
}

/// Holds and sourcing decisions travel on different topics: a hold may reach orders before its `sourced`. The
/// hold's event carries the plan, so the order waits for every part all the same, and a replacement held before
/// its `sourced` is released.
#[test]
fn holds_that_overtake_their_sourcing_decision_still_wait_for_every_part() {
    let mut replay = Replay::new();
    let id = replay.order_id;
    let (a, b) = (planned("S1"), planned("S2"));
    let plan = [a.clone(), b.clone()];
    let (step, announce) = replay.feed(held_in(id, &a, &plan, None));
    assert!(
        matches!(step, Step::Track { .. }) && announce.is_none(),
        "{step:?}"
    );
    assert_eq!(replay.parts.len(), 2, "the hold told of both parts");
    let (_, announce) = replay.feed(held_in(id, &b, &plan, None));
    assert!(matches!(announce, Some(OrderEvent::Reserved(_))));
    // The sourcing decisions come late: noted, nothing else.
    let (step, announce) = replay.feed(sourced(id, &a, &plan, None));
    assert!(matches!(step, Step::Note { .. }) && announce.is_none());
    assert_eq!(
        replay.state_of(&a),
        PartState::Held,
        "a late `sourced` does not undo the hold"
    );

    // After release, a replacement's hold before its `sourced`.
    let mut released = Replay::new();
    let id = released.order_id;
    let (c, d) = released_in_two(&mut released);
    released.feed(refused(id, &d));
    let e = planned("S3");
    let (step, announce) = released.feed(held_in(id, &e, std::slice::from_ref(&e), Some(d.fulfillment_id)));
    assert!(matches!(step, Step::ReleaseReplacement { .. }), "{step:?}");
    assert!(matches!(announce, Some(OrderEvent::PaymentAuthorized(_))));
    assert_eq!(released.state_of(&d), PartState::Replaced);
    released.feed(self::released(id, &e));
    released.feed(completed(id, &c));
    let (_, announce) = released.feed(completed(id, &e));
    assert!(matches!(announce, Some(OrderEvent::Fulfilled(_))));
}

/// Units a store could not fulfil (short on its shelf, rejected when it accepted) become a new part while its
/// own part goes on: the order waits for the new part too, and releases it once held, even while the order is
/// still waiting for its first parts to be released.
#[test]
fn units_sent_elsewhere_become_a_part_the_order_waits_for() {
    let mut replay = Replay::new();
    let id = replay.order_id;
    let (a, b) = released_in_two(&mut replay);
    let e = planned("S3");
    let (step, _) = replay.feed(sourced(id, &e, std::slice::from_ref(&e), None));
    assert!(matches!(step, Step::Note { .. }));
    assert_eq!(
        replay.state_of(&a),
        PartState::Released,
        "the store's own part goes on"
    );
    let (step, announce) = replay.feed(held(id, &e));
    assert!(matches!(step, Step::ReleaseReplacement { .. }), "{step:?}");
    assert!(matches!(announce, Some(OrderEvent::PaymentAuthorized(_))));
    // A duplicate of the hold's event asks for nothing more.
    assert_eq!(replay.feed(held(id, &e)).0, Step::Ignore);
    replay.feed(released(id, &e));
    replay.feed(completed(id, &a));
    let (_, announce) = replay.feed(completed(id, &b));
    assert!(announce.is_none(), "the new part has not left");
    let (_, announce) = replay.feed(completed(id, &e));
    assert!(matches!(announce, Some(OrderEvent::Fulfilled(_))));

    // Paid, not all released yet: the new part's hold is released as soon as it is in.
    let mut early = Replay::new();
    let id = early.order_id;
    let (c, d) = (planned("S1"), planned("S2"));
    let plan = [c.clone(), d.clone()];
    early.feed(sourced(id, &c, &plan, None));
    early.feed(sourced(id, &d, &plan, None));
    early.feed(held(id, &c));
    early.feed(held(id, &d));
    early.feed(authorized(id));
    early.feed(released(id, &c));
    let f = planned("S3");
    early.feed(sourced(id, &f, std::slice::from_ref(&f), None));
    let (step, _) = early.feed(held(id, &f));
    assert!(matches!(step, Step::ReleaseReplacement { .. }), "{step:?}");
    assert_eq!(early.status, OrderStatus::PaymentAuthorized);
    let (_, announce) = early.feed(released(id, &d));
    assert!(announce.is_none(), "the new part is not released yet");
    let (_, announce) = early.feed(released(id, &f));
    assert!(matches!(announce, Some(OrderEvent::Released(_))));
}

/// A completion that says which units left.
fn delivered(order_id: OrderId, part: &PlannedPart, units: i64) -> SagaInput {
    let SagaInput::Fulfillment(FulfillmentEvent::Completed(mut c)) = completed(order_id, part) else {
        unreachable!()
    };
    c.delivered = vec![HoldLine {
        sku: Sku::parse("SNEAKER-42").unwrap(),
        quantity: Quantity::new(units).unwrap(),
    }];
    SagaInput::Fulfillment(FulfillmentEvent::Completed(c))
}

fn captured(order_id: OrderId, part: Option<&PlannedPart>, final_capture: bool) -> SagaInput {
    SagaInput::Payment(PaymentEvent::Captured(PaymentCaptured {
        order_id,
        payment_intent_id: PaymentIntentId::generate(),
        amount: Money {
            amount_minor: 11_900,
            currency: Currency::parse("EUR").unwrap(),
        },
        fulfillment_id: part.map(|p| p.fulfillment_id),
        final_capture,
        tenders: vec![],
    }))
}

#[test]
fn each_part_that_leaves_announces_its_value_and_only_the_final_capture_completes_the_order() {
    let mut replay = Replay::new();
    let id = replay.order_id;
    let (a, b) = released_in_two(&mut replay);
    // The first parcel: its value (one unit at 119.00) is announced for payments to capture now.
    let (_, announce) = replay.feed(delivered(id, &a, 1));
    let Some(OrderEvent::PartDelivered(part)) = announce else {
        panic!("{announce:?}")
    };
    assert_eq!(
        (part.fulfillment_id, part.amount.amount_minor),
        (a.fulfillment_id, 11_900)
    );
    // The last: `fulfilled` carries what it delivered, for the final capture.
    let (_, announce) = replay.feed(delivered(id, &b, 1));
    let Some(OrderEvent::Fulfilled(fulfilled)) = announce else {
        panic!("{announce:?}")
    };
    assert_eq!(fulfilled.delivered.map(|m| m.amount_minor), Some(11_900));
    assert_eq!(fulfilled.fulfillment_id, Some(b.fulfillment_id));
    // The first part's capture does not complete the order; the final one does.
    let (step, _) = replay.feed(captured(id, Some(&a), false));
    assert_eq!(step, Step::Ignore);
    assert_eq!(replay.status, OrderStatus::Fulfilled);
    let (step, announce) = replay.feed(captured(id, Some(&b), true));
    assert_eq!(step, Step::Complete);
    assert!(matches!(announce, Some(OrderEvent::Completed(_))));
    // An older capture event (no part named) was always the final one.
    let mut older = Replay::new();
    older.status = OrderStatus::Fulfilled;
    assert_eq!(
        older.feed(captured(older.order_id, None, false)).0,
        Step::Complete
    );
}

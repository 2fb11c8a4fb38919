use chrono::{Duration, TimeZone};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn sku(code: &str) -> Sku {
    Sku::parse(code).unwrap()
}

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

/// Two tees and a cap, to be accepted by 12:30 and ready by 14:00.
fn task(method: Method) -> Task {
    Task::new(
        method,
        vec![(sku("TEE"), 2), (sku("CAP"), 1)],
        noon() + Duration::minutes(30),
        noon() + Duration::hours(2),
    )
}

/// Three days to collect, reminded a day before the end, ten minutes to reach a car.
fn windows() -> Windows {
    Windows {
        pickup: Duration::days(3),
        reminder_before: Duration::days(1),
        curbside_handover: Duration::minutes(10),
    }
}

fn kinds(task: &Task) -> Vec<TimerKind> {
    task.timers(&windows()).into_iter().map(|(k, _)| k).collect()
}

fn apply(task: &Task, action: Action) -> Applied {
    task.apply(&action, noon())
        .unwrap_or_else(|e| panic!("{} on {:?}: {e}", action.name(), task.state))
}

fn pick_all(task: &Task) -> Applied {
    let picks = task
        .lines
        .iter()
        .filter(|l| l.buckets.open > 0)
        .map(|l| PickedLine {
            sku: l.sku.clone(),
            picked: l.buckets.open,
            short: 0,
        })
        .collect();
    apply(task, Action::Pick(picks))
}

fn accepted(method: Method) -> Task {
    apply(
        &task(method),
        Action::Accept {
            rejected: vec![],
            reason: None,
        },
    )
    .task
}

fn packed(method: Method) -> Task {
    let picked = pick_all(&accepted(method)).task;
    apply(&picked, Action::Pack(vec![Parcel { weight_grams: 900 }])).task
}

#[test]
fn a_shipped_task_fulfils_every_unit_through_pick_pack_and_ship() {
    let packed = packed(Method::Ship);
    assert_eq!(packed.state, TaskState::Packed);
    let shipped = apply(
        &packed,
        Action::Ship {
            carrier: "DHL".into(),
            tracking: "00340434".into(),
        },
    );
    assert_eq!(shipped.task.state, TaskState::Shipped);
    assert_eq!(
        shipped.effects,
        vec![Effect::Fulfilled {
            units: vec![(sku("TEE"), 2), (sku("CAP"), 1)]
        }]
    );
    assert_eq!(shipped.task.held(), 0);
    assert_eq!(
        shipped.task.version, 5,
        "created, accepted, picked, packed, shipped"
    );
}

#[test]
fn a_short_pick_reroutes_the_missing_units_and_keeps_the_rest() {
    let accepted = accepted(Method::Ship);
    let picked = apply(
        &accepted,
        Action::Pick(vec![PickedLine {
            sku: sku("TEE"),
            picked: 1,
            short: 1,
        }]),
    );
    assert_eq!(picked.task.state, TaskState::Picking, "the cap is still open");
    assert_eq!(
        picked.effects,
        vec![Effect::Reroute {
            units: vec![(sku("TEE"), 1)],
            reason: "short at the store's shelf".into()
        }]
    );
    let done = pick_all(&picked.task);
    assert_eq!(done.task.state, TaskState::Picked);
    let tee = &done.task.lines[0].buckets;
    assert_eq!((tee.picked, tee.short, tee.open), (1, 1, 0));
}

#[test]
fn a_pick_that_finds_nothing_sends_the_whole_task_elsewhere() {
    let accepted = accepted(Method::Pickup);
    let picks = accepted
        .lines
        .iter()
        .map(|l| PickedLine {
            sku: l.sku.clone(),
            picked: 0,
            short: l.ordered,
        })
        .collect();
    let picked = apply(&accepted, Action::Pick(picks));
    assert_eq!(picked.task.state, TaskState::Rerouted);
    assert_eq!(picked.task.held(), 0);
}

#[test]
fn a_pickup_is_ready_then_handed_over_and_only_then_fulfilled() {
    let ready = apply(&packed(Method::Pickup), Action::Stage);
    assert_eq!(ready.task.state, TaskState::ReadyForPickup);
    assert_eq!(ready.effects, vec![Effect::ReadyForPickup]);
    assert_eq!(ready.task.held(), 3, "the staged units are still the store's");
    let handed = apply(&ready.task, Action::HandOver);
    assert_eq!(handed.task.state, TaskState::HandedOver);
    assert!(matches!(&handed.effects[..], [Effect::Fulfilled { units }] if units.len() == 2));
}

#[test]
fn curbside_hands_over_only_after_the_customer_arrived() {
    let ready = apply(&packed(Method::Curbside), Action::Stage).task;
    assert_eq!(
        ready.apply(&Action::HandOver, noon()),
        Err(TaskRefusal::OutOfOrder {
            state: TaskState::ReadyForPickup,
            action: "hand_over"
        })
    );
    let arrived = apply(
        &ready,
        Action::Arrive {
            bay: "2".into(),
            vehicle: "red estate".into(),
        },
    )
    .task;
    let running = apply(&arrived, Action::AssignRunner("kim".into())).task;
    assert_eq!(running.runner.as_deref(), Some("kim"));
    assert_eq!(
        apply(&running, Action::HandOver).task.state,
        TaskState::HandedOver
    );
}

#[test]
fn an_uncollected_pickup_gives_its_units_back_and_cancels_the_order() {
    let ready = apply(&packed(Method::Pickup), Action::Stage).task;
    let lapsed = apply(&ready, Action::PickupWindowLapsed);
    assert_eq!(lapsed.task.state, TaskState::Uncollected);
    assert_eq!(lapsed.task.held(), 0);
    assert!(lapsed.effects.contains(&Effect::ReleaseHeld));
    assert!(
        lapsed
            .effects
            .iter()
            .any(|e| matches!(e, Effect::CancelOrder { .. }))
    );
}

#[test]
fn rejected_units_are_rerouted_and_a_store_that_never_answers_loses_the_task() {
    let partly = apply(
        &task(Method::Ship),
        Action::Accept {
            rejected: vec![RejectedLine {
                sku: sku("CAP"),
                quantity: 1,
            }],
            reason: Some("damaged".into()),
        },
    );
    assert_eq!(partly.task.state, TaskState::Accepted);
    assert_eq!(
        partly.effects,
        vec![Effect::Reroute {
            units: vec![(sku("CAP"), 1)],
            reason: "damaged".into()
        }]
    );
    let late = task(Method::Ship).apply(
        &Action::Accept {
            rejected: vec![],
            reason: None,
        },
        noon() + Duration::hours(1),
    );
    assert!(matches!(late, Err(TaskRefusal::TooLate(_))));
    let lapsed = apply(&task(Method::Ship), Action::AcceptByLapsed);
    assert_eq!(lapsed.task.state, TaskState::Rerouted);
    assert!(matches!(&lapsed.effects[..], [Effect::Reroute { units, .. }] if units.len() == 2));
}

#[test]
fn actions_out_of_order_or_of_another_method_and_bad_quantities_change_nothing() {
    let accepted = accepted(Method::Pickup);
    let refusals = [
        (
            Action::Ship {
                carrier: "DHL".into(),
                tracking: "1".into(),
            },
            "wrong method",
        ),
        (
            Action::Pack(vec![Parcel { weight_grams: 100 }]),
            "pack before pick",
        ),
        (Action::HandOver, "hand over before ready"),
        (
            Action::Pick(vec![PickedLine {
                sku: sku("TEE"),
                picked: 3,
                short: 0,
            }]),
            "more than the line holds",
        ),
        (
            Action::Pick(vec![PickedLine {
                sku: sku("MUG"),
                picked: 1,
                short: 0,
            }]),
            "not a line of the task",
        ),
    ];
    for (action, why) in refusals {
        assert!(accepted.apply(&action, noon()).is_err(), "{why}");
    }
    let cancelled = apply(&accepted, Action::Cancel).task;
    assert!(
        cancelled.apply(&Action::Cancel, noon()).is_err(),
        "a final task takes nothing more"
    );
}

#[test]
fn a_manager_may_record_the_outcome_without_the_steps_but_only_of_the_tasks_method() {
    use omni_contracts::events::HandedOver;
    let shipped = apply(
        &accepted(Method::Ship),
        Action::CompletedByHand(HandedOver::Shipped),
    );
    assert_eq!(shipped.task.state, TaskState::Shipped);
    assert_eq!(
        shipped.effects,
        vec![Effect::Fulfilled {
            units: vec![(sku("TEE"), 2), (sku("CAP"), 1)]
        }]
    );
    assert!(matches!(
        task(Method::Pickup).apply(&Action::CompletedByHand(HandedOver::Shipped), noon()),
        Err(TaskRefusal::WrongMethod { .. })
    ));
    let collected = apply(
        &task(Method::Curbside),
        Action::CompletedByHand(HandedOver::PickedUp),
    );
    assert_eq!(collected.task.state, TaskState::HandedOver);
}

#[test]
fn units_sold_at_the_till_are_short_and_a_task_left_with_none_goes_elsewhere() {
    let picked = pick_all(&accepted(Method::Pickup)).task;
    // One of the two tees: the rest of the task stays (routing part of it elsewhere is the caller's to refuse).
    let part = apply(
        &picked,
        Action::SoldAtTill {
            sku: sku("TEE"),
            units: 1,
        },
    );
    assert_eq!(part.task.state, TaskState::Picked);
    assert_eq!(part.task.lines[0].buckets.short, 1);
    assert_eq!(part.task.lines[0].buckets.picked, 1);
    // Everything the task held: nothing left here.
    let whole = apply(
        &part.task,
        Action::SoldAtTill {
            sku: sku("TEE"),
            units: 1,
        },
    );
    let whole = apply(
        &whole.task,
        Action::SoldAtTill {
            sku: sku("CAP"),
            units: 1,
        },
    );
    assert_eq!(whole.task.state, TaskState::Rerouted);
    assert_eq!(whole.task.held(), 0);
    assert!(matches!(whole.effects[0], Effect::Reroute { .. }));
    assert!(matches!(
        whole.task.apply(
            &Action::SoldAtTill {
                sku: sku("CAP"),
                units: 1
            },
            noon()
        ),
        Err(TaskRefusal::OutOfOrder { .. })
    ));
}

#[test]
fn each_state_arms_its_own_timers() {
    let created = task(Method::Curbside);
    assert_eq!(kinds(&created), [TimerKind::AcceptBy, TimerKind::ReadyBy]);
    assert_eq!(created.deadline(&windows()), Some(created.accept_by));
    let accepted = accepted(Method::Curbside);
    assert_eq!(kinds(&accepted), [TimerKind::ReadyBy]);
    let ready = packed(Method::Curbside)
        .apply(&Action::Stage, noon())
        .unwrap()
        .task;
    assert_eq!(ready.ready_at, Some(noon()));
    assert_eq!(
        ready.timers(&windows()),
        [
            (TimerKind::PickupReminder, noon() + Duration::days(2)),
            (TimerKind::PickupWindow, noon() + Duration::days(3)),
        ]
    );
    assert_eq!(ready.deadline(&windows()), Some(noon() + Duration::days(3)));
    let arrived = ready
        .apply(
            &Action::Arrive {
                bay: "2".into(),
                vehicle: "red van".into(),
            },
            noon() + Duration::hours(1),
        )
        .unwrap()
        .task;
    assert_eq!(
        arrived.timers(&windows()),
        [(TimerKind::CurbsideHandover, noon() + Duration::minutes(70))]
    );
    let handed = arrived.apply(&Action::HandOver, noon()).unwrap().task;
    assert!(handed.timers(&windows()).is_empty());
    assert_eq!(handed.deadline(&windows()), None);
    // A reminder as long as the window itself would come at once: none.
    let no_reminder = Windows {
        reminder_before: Duration::days(3),
        ..windows()
    };
    assert_eq!(
        ready.timers(&no_reminder),
        [(TimerKind::PickupWindow, noon() + Duration::days(3))]
    );
}

#[test]
fn a_timer_fires_once_and_only_when_due() {
    let accepted = accepted(Method::Ship);
    assert_eq!(
        accepted.fire(TimerKind::ReadyBy, noon(), &windows()),
        Err(TaskRefusal::NotDue {
            action: "ready_by_passed",
            due: accepted.ready_by,
        })
    );
    let late = accepted
        .fire(TimerKind::ReadyBy, accepted.ready_by, &windows())
        .unwrap();
    assert_eq!(late.effects, [Effect::Breach(Breach::ReadyBy)]);
    assert_eq!(late.task.state, TaskState::Accepted);
    assert!(late.task.ready_late);
    assert!(kinds(&late.task).is_empty());
    assert!(matches!(
        late.task.fire(TimerKind::ReadyBy, accepted.ready_by, &windows()),
        Err(TaskRefusal::OutOfOrder { .. })
    ));
    // A timer of another state (accept-by on an accepted task) is stale: it changes nothing.
    assert!(matches!(
        accepted.fire(TimerKind::AcceptBy, noon() + Duration::hours(9), &windows()),
        Err(TaskRefusal::OutOfOrder { .. })
    ));
}

#[test]
fn an_uncollected_pickup_is_reminded_then_lapses() {
    let ready = apply(&packed(Method::Pickup), Action::Stage).task;
    let reminded = ready
        .fire(TimerKind::PickupReminder, noon() + Duration::days(2), &windows())
        .unwrap();
    assert_eq!(reminded.effects, [Effect::Remind]);
    assert_eq!(kinds(&reminded.task), [TimerKind::PickupWindow]);
    assert!(matches!(
        reminded
            .task
            .fire(TimerKind::PickupWindow, noon() + Duration::days(2), &windows()),
        Err(TaskRefusal::NotDue { .. })
    ));
    let lapsed = reminded
        .task
        .fire(TimerKind::PickupWindow, noon() + Duration::days(3), &windows())
        .unwrap();
    assert_eq!(lapsed.task.state, TaskState::Uncollected);
    assert_eq!(lapsed.task.held(), 0);
    assert!(lapsed.effects.contains(&Effect::ReleaseHeld));
}

#[test]
fn a_curbside_customer_kept_waiting_is_a_breach_reported_once() {
    let ready = apply(&packed(Method::Curbside), Action::Stage).task;
    let arrived = apply(
        &ready,
        Action::Arrive {
            bay: "1".into(),
            vehicle: "blue estate".into(),
        },
    )
    .task;
    let running = apply(&arrived, Action::AssignRunner("kim".into())).task;
    let waited = running
        .fire(
            TimerKind::CurbsideHandover,
            noon() + Duration::minutes(10),
            &windows(),
        )
        .unwrap();
    assert_eq!(waited.effects, [Effect::Breach(Breach::CurbsideHandover)]);
    assert_eq!(waited.task.state, TaskState::RunnerAssigned);
    assert!(kinds(&waited.task).is_empty());
    assert_eq!(
        apply(&waited.task, Action::HandOver).task.state,
        TaskState::HandedOver
    );
}

/// Every action, with arguments drawn from what the task holds (so that many are accepted) or beyond it.
fn random_action(rng: &mut StdRng, task: &Task) -> Action {
    let line = &task.lines[rng.random_range(0..task.lines.len())];
    let some = |rng: &mut StdRng, of: u32| rng.random_range(0..=of + 1);
    match rng.random_range(0..14) {
        0 => Action::Accept {
            rejected: if rng.random_bool(0.3) {
                vec![RejectedLine {
                    sku: line.sku.clone(),
                    quantity: some(rng, line.buckets.open),
                }]
            } else {
                vec![]
            },
            reason: None,
        },
        1 => Action::Reject {
            reason: "closed".into(),
        },
        2 | 3 => {
            let picked = some(rng, line.buckets.open);
            let short = some(rng, line.buckets.open.saturating_sub(picked));
            Action::Pick(vec![PickedLine {
                sku: line.sku.clone(),
                picked,
                short,
            }])
        }
        4 => Action::Pack(vec![Parcel {
            weight_grams: rng.random_range(0..80_000),
        }]),
        5 => Action::Ship {
            carrier: "DHL".into(),
            tracking: "1".into(),
        },
        6 => Action::Stage,
        7 => Action::Arrive {
            bay: "1".into(),
            vehicle: "van".into(),
        },
        8 => Action::AssignRunner("kim".into()),
        9 => Action::HandOver,
        10 => {
            if rng.random_bool(0.5) {
                Action::PickupWindowLapsed
            } else {
                Action::AcceptByLapsed
            }
        }
        12 => [
            Action::ReadyByPassed,
            Action::RemindCustomer,
            Action::HandoverSlaPassed,
            Action::SoldAtTill {
                sku: line.sku.clone(),
                units: some(rng, line.buckets.held()),
            },
        ][rng.random_range(0..4)]
        .clone(),
        // Rarely: it ends the task from almost any state, and the other ends must be reached too.
        11 if rng.random_bool(0.2) => Action::CompletedByHand(if rng.random_bool(0.5) {
            omni_contracts::events::HandedOver::Shipped
        } else {
            omni_contracts::events::HandedOver::PickedUp
        }),
        11 => Action::PickupWindowLapsed,
        // Rarely too, for the same reason.
        _ if rng.random_bool(0.3) => Action::Cancel,
        _ => Action::Stage,
    }
}

/// Over random sequences of actions on every method: the buckets of each line add up to what was ordered after
/// every step (none can go negative: they are unsigned and every move checks what it takes); a refused action
/// changes nothing; a final task holds no units; units are fulfilled only by a hand-over or a shipment, and then
/// every unit left is either fulfilled or given up.
#[test]
fn buckets_always_add_up_and_only_a_handover_or_shipment_fulfils() {
    let mut ended = std::collections::HashSet::new();
    for seed in 0..2_000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let method = [Method::Ship, Method::Pickup, Method::Curbside][rng.random_range(0..3)];
        let mut task = task(method);
        let mut trail = Vec::new();
        for _ in 0..40 {
            let action = random_action(&mut rng, &task);
            trail.push(action.name());
            if let Ok(applied) = task.apply(&action, noon()) {
                let fulfilled_now = applied
                    .effects
                    .iter()
                    .any(|e| matches!(e, Effect::Fulfilled { .. }));
                assert_eq!(
                    fulfilled_now,
                    matches!(
                        action,
                        Action::Ship { .. } | Action::HandOver | Action::CompletedByHand(_)
                    ),
                    "seed {seed}: {trail:?}"
                );
                assert_eq!(applied.task.version, task.version + 1, "seed {seed}: {trail:?}");
                task = applied.task;
            }
            for line in &task.lines {
                assert_eq!(
                    line.buckets.total(),
                    line.ordered,
                    "seed {seed}: {trail:?}: {line:?}"
                );
            }
            if task.state.is_final() {
                assert_eq!(task.held(), 0, "seed {seed}: {trail:?}: {:?}", task.state);
            }
            let fulfilled: u32 = task.lines.iter().map(|l| l.buckets.fulfilled()).sum();
            if fulfilled > 0 {
                assert!(
                    matches!(task.state, TaskState::Shipped | TaskState::HandedOver),
                    "seed {seed}: {trail:?}: fulfilled while {:?}",
                    task.state
                );
            }
        }
        ended.insert(task.state);
    }
    // The sequences reach every end, so the checks above ran on every path.
    for end in [
        TaskState::Shipped,
        TaskState::HandedOver,
        TaskState::Rerouted,
        TaskState::Uncollected,
        TaskState::Cancelled,
    ] {
        assert!(ended.contains(&end), "no sequence ended {end:?}: {ended:?}");
    }
}

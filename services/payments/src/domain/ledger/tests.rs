use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::*;

fn requested(id: &str, kind: Kind, amount: i64) -> Record {
    Record::Requested {
        id: id.into(),
        kind,
        amount,
    }
}

fn succeeded(id: &str, kind: Kind, amount: i64) -> Record {
    Record::Succeeded {
        id: id.into(),
        kind,
        amount,
    }
}

#[test]
fn an_authorization_captured_in_two_parts_and_partly_refunded() {
    let mut ledger = TenderLedger::default();
    for record in [
        requested("a", Kind::Authorize, 1000),
        succeeded("a", Kind::Authorize, 1000),
        requested("c1", Kind::Capture, 600),
        succeeded("c1", Kind::Capture, 600),
        requested("c2", Kind::Capture, 300),
        succeeded("c2", Kind::Capture, 300),
        requested("v", Kind::Void, 100),
        succeeded("v", Kind::Void, 100),
        requested("r", Kind::Refund, 250),
        succeeded("r", Kind::Refund, 250),
    ] {
        assert_eq!(ledger.record(record), Ok(Recorded::Applied));
        assert!(ledger.money.consistent(), "{:?}", ledger.money);
    }
    let m = ledger.money;
    assert_eq!(
        (
            m.authorized.settled,
            m.captured.settled,
            m.voided.settled,
            m.refunded.settled
        ),
        (1000, 900, 100, 250)
    );
    assert_eq!((m.capturable(), m.refundable()), (0, 650));
}

#[test]
fn a_request_beyond_what_is_left_is_refused_before_any_psp_call() {
    let mut ledger = TenderLedger::default();
    ledger.record(requested("a", Kind::Authorize, 1000)).unwrap();
    // Not authorized yet (pending): nothing may be captured for sure.
    assert_eq!(
        ledger.record(requested("c", Kind::Capture, 1)),
        Err(Refusal::OverCapture { asked: 1, left: 0 })
    );
    ledger.record(succeeded("a", Kind::Authorize, 1000)).unwrap();
    ledger.record(requested("c", Kind::Capture, 700)).unwrap();
    // The pending capture counts: only 300 more may be captured, or voided.
    assert_eq!(
        ledger.record(requested("c2", Kind::Capture, 301)),
        Err(Refusal::OverCapture {
            asked: 301,
            left: 300
        })
    );
    assert_eq!(
        ledger.record(requested("v", Kind::Void, 301)),
        Err(Refusal::OverVoid {
            asked: 301,
            left: 300
        })
    );
    // Refunds only of what is captured and settled.
    assert_eq!(
        ledger.record(requested("r", Kind::Refund, 1)),
        Err(Refusal::OverRefund { asked: 1, left: 0 })
    );
    assert_eq!(
        ledger.record(requested("x", Kind::Refund, 0)),
        Err(Refusal::NotPositive(0))
    );
    assert_eq!(
        ledger.record(requested("c", Kind::Capture, 5)),
        Err(Refusal::Reused("c".into())),
        "one idempotency key, one operation"
    );
}

#[test]
fn a_failed_operation_gives_its_pending_amount_back() {
    let mut ledger = TenderLedger::default();
    ledger.record(requested("a", Kind::Authorize, 500)).unwrap();
    ledger.record(succeeded("a", Kind::Authorize, 500)).unwrap();
    ledger.record(requested("c", Kind::Capture, 500)).unwrap();
    assert_eq!(ledger.money.capturable(), 0);
    let failed = Record::Failed {
        id: "c".into(),
        kind: Kind::Capture,
        amount: 500,
    };
    assert_eq!(ledger.record(failed.clone()), Ok(Recorded::Applied));
    assert_eq!(ledger.record(failed), Ok(Recorded::Duplicate));
    assert_eq!(ledger.money.capturable(), 500);
    assert_eq!(ledger.money.captured, Bucket::default());
}

#[test]
fn a_result_before_its_prerequisite_waits_and_a_duplicate_changes_nothing() {
    let mut ledger = TenderLedger::default();
    // A reconcile replays the PSP's record out of order: the capture before the authorization.
    assert_eq!(
        ledger.record(succeeded("c", Kind::Capture, 400)),
        Ok(Recorded::Waiting)
    );
    assert_eq!(
        ledger.money,
        TenderMoney::default(),
        "nothing shows until it is consistent"
    );
    assert_eq!(
        ledger.record(succeeded("c", Kind::Capture, 400)),
        Ok(Recorded::Duplicate)
    );
    assert_eq!(
        ledger.record(succeeded("a", Kind::Authorize, 400)),
        Ok(Recorded::Applied)
    );
    assert_eq!(ledger.waiting(), 0);
    assert_eq!(ledger.money.captured.settled, 400);
    // The reply of the request made before the webhook: a duplicate.
    assert_eq!(
        ledger.record(requested("c", Kind::Capture, 400)),
        Ok(Recorded::Duplicate)
    );
    assert_eq!(
        ledger.record(succeeded("a", Kind::Authorize, 400)),
        Ok(Recorded::Duplicate)
    );
    assert_eq!(
        ledger.money.captured,
        Bucket {
            settled: 400,
            pending: 0
        }
    );
}

/// One operation of a random valid history, as the PSP did it.
#[derive(Debug, Clone)]
struct Done {
    id: String,
    kind: Kind,
    amount: i64,
    ok: bool,
}

/// A random history a PSP could have: each operation asked only when it fits what is settled before it.
fn history(rng: &mut StdRng) -> (Vec<Done>, TenderMoney) {
    let mut truth = TenderMoney::default();
    let mut done = Vec::new();
    for n in 0..rng.random_range(1..25) {
        let kind = [Kind::Authorize, Kind::Capture, Kind::Refund, Kind::Void][rng.random_range(0..4)];
        let room = match kind {
            Kind::Authorize => 1_000,
            Kind::Capture | Kind::Void => truth.capturable(),
            Kind::Refund => truth.refundable(),
        };
        if room <= 0 {
            continue;
        }
        let amount = rng.random_range(1..=room);
        let ok = rng.random_bool(0.8);
        if ok {
            truth.bucket(kind).settled += amount;
        }
        done.push(Done {
            id: format!("op-{n}"),
            kind,
            amount,
            ok,
        });
    }
    (done, truth)
}

fn result_of(op: &Done) -> Record {
    if op.ok {
        succeeded(&op.id, op.kind, op.amount)
    } else {
        Record::Failed {
            id: op.id.clone(),
            kind: op.kind,
            amount: op.amount,
        }
    }
}

/// Requests recorded before their calls, results as they come back, and duplicates of any of them (retries,
/// webhooks) anywhere later: never refused, the invariants hold after every step, and the buckets end equal to
/// the PSP's record with nothing pending. Seeded random histories, so a failure names its seed.
#[test]
fn duplicated_records_never_move_money_twice() {
    for seed in 0..400u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (done, truth) = history(&mut rng);
        let mut ledger = TenderLedger::default();
        let mut delivered: Vec<Record> = Vec::new();
        for op in &done {
            for record in [requested(&op.id, op.kind, op.amount), result_of(op)] {
                delivered.push(record.clone());
                let outcome = ledger.record(record);
                assert!(outcome.is_ok(), "seed {seed}: {outcome:?}");
                assert!(ledger.money.consistent(), "seed {seed}: {:?}", ledger.money);
                if rng.random_bool(0.3) {
                    let again = delivered[rng.random_range(0..delivered.len())].clone();
                    assert_eq!(ledger.record(again), Ok(Recorded::Duplicate), "seed {seed}");
                }
            }
        }
        assert_eq!(ledger.money, truth, "seed {seed}");
        assert_eq!(ledger.waiting(), 0, "seed {seed}");
    }
}

/// The PSP's record replayed in any order (a reconcile), with duplicates: the invariants hold after every step,
/// and once everything arrived the buckets equal the PSP's record.
#[test]
fn results_in_any_order_end_equal_to_the_psps_record() {
    let mut waited = 0;
    for seed in 0..400u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (done, truth) = history(&mut rng);
        let mut results: Vec<Record> = done.iter().map(result_of).collect();
        let extra: Vec<Record> = results.iter().filter(|_| rng.random_bool(0.3)).cloned().collect();
        results.extend(extra);
        results.shuffle(&mut rng);
        let mut ledger = TenderLedger::default();
        for record in results {
            let outcome = ledger.record(record);
            assert!(outcome.is_ok(), "seed {seed}");
            waited += usize::from(outcome == Ok(Recorded::Waiting));
            assert!(ledger.money.consistent(), "seed {seed}: {:?}", ledger.money);
        }
        assert_eq!(ledger.money, truth, "seed {seed}");
        assert_eq!(ledger.waiting(), 0, "seed {seed}");
    }
    assert!(
        waited > 100,
        "the histories must put results before their prerequisites: {waited}"
    );
}

fn money(authorized: i64, captured: i64, refunded: i64) -> TenderMoney {
    TenderMoney {
        authorized: Bucket {
            settled: authorized,
            pending: 0,
        },
        captured: Bucket {
            settled: captured,
            pending: 0,
        },
        refunded: Bucket {
            settled: refunded,
            pending: 0,
        },
        voided: Bucket::default(),
    }
}

#[test]
fn a_refund_goes_to_the_last_charged_tender_first_and_voids_what_was_not_captured() {
    // A gift card charged first (captured whole), then a card (half captured).
    let tenders = [money(2000, 2000, 0), money(3000, 1500, 0)];
    let plan = plan_refund(&tenders, 4000, Uncaptured::Voidable).unwrap();
    assert_eq!(
        plan,
        [
            RefundStep {
                tender: 1,
                kind: Kind::Refund,
                amount: 1500
            },
            RefundStep {
                tender: 1,
                kind: Kind::Void,
                amount: 1500
            },
            RefundStep {
                tender: 0,
                kind: Kind::Refund,
                amount: 1000
            },
        ]
    );
    assert_eq!(
        plan_refund(&tenders, 5001, Uncaptured::Voidable),
        Err(RefundRefusal::TooMuch {
            asked: 5001,
            available: 5000
        }),
        "refused whole, never in part"
    );
    assert_eq!(
        plan_refund(&tenders, 0, Uncaptured::Voidable),
        Err(RefundRefusal::NotPositive(0))
    );
}

/// Whatever the tenders hold, a planned refund adds up to exactly what was asked, never takes more from a tender
/// than it can give back, and goes from the last charged tender to the first; or it is refused whole.
#[test]
fn a_split_refund_sums_exactly_to_what_was_asked_or_is_refused_whole() {
    for seed in 0..500u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let tenders: Vec<TenderMoney> = (0..rng.random_range(1..4))
            .map(|_| {
                let authorized = rng.random_range(0..5_000);
                let captured = rng.random_range(0..=authorized);
                money(authorized, captured, rng.random_range(0..=captured))
            })
            .collect();
        let available: i64 = tenders.iter().map(|t| t.refundable() + t.capturable()).sum();
        let asked = rng.random_range(1..=available.max(1) + 100);
        match plan_refund(&tenders, asked, Uncaptured::Voidable) {
            Ok(plan) => {
                assert_eq!(plan.iter().map(|s| s.amount).sum::<i64>(), asked, "seed {seed}");
                assert!(plan.windows(2).all(|w| w[0].tender >= w[1].tender), "seed {seed}");
                for (i, t) in tenders.iter().enumerate() {
                    let of = |kind| {
                        plan.iter()
                            .filter(|s| s.tender == i && s.kind == kind)
                            .map(|s| s.amount)
                            .sum::<i64>()
                    };
                    assert!(
                        of(Kind::Refund) <= t.refundable() && of(Kind::Void) <= t.capturable(),
                        "seed {seed}"
                    );
                }
            }
            Err(RefundRefusal::TooMuch { available: a, .. }) => {
                assert!(asked > available && a == available, "seed {seed}");
            }
            Err(other) => panic!("seed {seed}: {other:?}"),
        }
    }
}

#[test]
fn after_the_final_capture_a_refund_gives_back_captured_money_only() {
    // Two tenders: 4,000 all captured; 6,000 authorized of which 4,000 captured by the final capture, whose void of
    // the other 2,000 may not have run yet. A refund of 7,500 takes 4,000 back from the last charged and 3,500 from
    // the first, and never counts the 2,000 the final capture releases.
    let captured = |authorized, captured| TenderMoney {
        authorized: Bucket {
            settled: authorized,
            pending: 0,
        },
        captured: Bucket {
            settled: captured,
            pending: 0,
        },
        ..TenderMoney::default()
    };
    let tenders = [captured(4000, 4000), captured(6000, 4000)];
    let after = plan_refund(&tenders, 7500, Uncaptured::Released).unwrap();
    assert_eq!(
        after,
        vec![
            RefundStep {
                tender: 1,
                kind: Kind::Refund,
                amount: 4000
            },
            RefundStep {
                tender: 0,
                kind: Kind::Refund,
                amount: 3500
            },
        ]
    );
    assert_eq!(
        plan_refund(&tenders, 8001, Uncaptured::Released),
        Err(RefundRefusal::TooMuch {
            asked: 8001,
            available: 8000
        })
    );
    // Before the final capture, the uncaptured 2,000 is voided instead of refunding the first tender.
    let before = plan_refund(&tenders, 7500, Uncaptured::Voidable).unwrap();
    assert_eq!(
        before[1],
        RefundStep {
            tender: 1,
            kind: Kind::Void,
            amount: 2000
        }
    );
}

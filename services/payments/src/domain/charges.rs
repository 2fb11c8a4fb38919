//! How an amount is spread over an order's tenders (DESIGN §6): captures take from the tenders in charge order
//! (stored value first, then cards), each up to what it may still give; voids release whatever is held and not
//! taken; refunds go the other way ([`super::ledger::plan_refund`]). Pure.

use super::ledger::{Kind, TenderMoney, Uncaptured, plan_refund};

/// One PSP operation of a plan, on one tender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The tender's position in the order's payment plan.
    pub tender: usize,
    /// What it does.
    pub kind: Kind,
    /// How much, in minor units (above 0).
    pub amount: i64,
}

/// A capture of `amount`: from each tender in `charge_order`, as much as it may still capture, until the amount is
/// covered. Returns the steps and what could not be covered (0 when everything was: a delivery is never charged
/// beyond what was authorized for it).
pub fn plan_capture(money: &[TenderMoney], charge_order: &[usize], amount: i64) -> (Vec<Step>, i64) {
    let mut left = amount.max(0);
    let mut steps = Vec::new();
    for &tender in charge_order {
        let Some(m) = money.get(tender) else { continue };
        let take = left.min(m.capturable().max(0));
        if take > 0 {
            steps.push(Step {
                tender,
                kind: Kind::Capture,
                amount: take,
            });
            left -= take;
        }
    }
    (steps, left)
}

/// Voids of everything still held and not taken, on every tender.
pub fn plan_void_rest(money: &[TenderMoney]) -> Vec<Step> {
    money
        .iter()
        .enumerate()
        .filter(|(_, m)| m.capturable() > 0)
        .map(|(tender, m)| Step {
            tender,
            kind: Kind::Void,
            amount: m.capturable(),
        })
        .collect()
}

/// A refund of `amount`, last charged tender first, each capped at what it can give back (a void where nothing was
/// captured yet, while `uncaptured` allows it); refused whole when the tenders cannot give it back.
pub fn plan_refund_in_charge_order(
    money: &[TenderMoney],
    charge_order: &[usize],
    amount: i64,
    uncaptured: Uncaptured,
) -> Result<Vec<Step>, super::ledger::RefundRefusal> {
    let charged: Vec<TenderMoney> = charge_order
        .iter()
        .map(|&t| money.get(t).copied().unwrap_or_default())
        .collect();
    Ok(plan_refund(&charged, amount, uncaptured)?
        .into_iter()
        .map(|step| Step {
            tender: charge_order[step.tender],
            kind: step.kind,
            amount: step.amount,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::Bucket;

    fn held(authorized: i64, captured: i64) -> TenderMoney {
        TenderMoney {
            authorized: Bucket {
                settled: authorized,
                pending: 0,
            },
            captured: Bucket {
                settled: captured,
                pending: 0,
            },
            ..TenderMoney::default()
        }
    }

    fn step(tender: usize, kind: Kind, amount: i64) -> Step {
        Step { tender, kind, amount }
    }

    #[test]
    fn a_capture_takes_from_the_tenders_in_charge_order_up_to_what_each_holds() {
        // Tender 1 (a gift card, say) is charged first, then tender 0.
        let money = [held(3000, 0), held(1000, 0)];
        let (steps, short) = plan_capture(&money, &[1, 0], 2500);
        assert_eq!(
            steps,
            [step(1, Kind::Capture, 1000), step(0, Kind::Capture, 1500)]
        );
        assert_eq!(short, 0);
        let (steps, short) = plan_capture(&money, &[1, 0], 5000);
        assert_eq!(
            steps,
            [step(1, Kind::Capture, 1000), step(0, Kind::Capture, 3000)]
        );
        assert_eq!(short, 1000);
        assert_eq!(plan_capture(&money, &[1, 0], 0), (vec![], 0));
    }

    #[test]
    fn what_is_held_and_not_taken_is_voided_per_tender() {
        let money = [held(3000, 1500), held(1000, 1000), held(0, 0)];
        assert_eq!(plan_void_rest(&money), [step(0, Kind::Void, 1500)]);
    }

    #[test]
    fn a_refund_goes_back_last_charged_first_and_voids_where_nothing_was_taken() {
        // Charge order: tender 1 then tender 0; tender 0 has 500 captured of 3000.
        let money = [held(3000, 500), held(1000, 1000)];
        let steps = plan_refund_in_charge_order(&money, &[1, 0], 1200, Uncaptured::Voidable).unwrap();
        assert_eq!(steps, [step(0, Kind::Refund, 500), step(0, Kind::Void, 700)]);
        let steps = plan_refund_in_charge_order(&money, &[1, 0], 4000, Uncaptured::Voidable).unwrap();
        let total: i64 = steps.iter().map(|s| s.amount).sum();
        assert_eq!(total, 4000);
        assert!(plan_refund_in_charge_order(&money, &[1, 0], 4001, Uncaptured::Voidable).is_err());
    }
}

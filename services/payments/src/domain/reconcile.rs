//! The reconcile (DESIGN §6): each card tender's settled buckets compared with the PSP's own record of its
//! authorization. The ledger is read before and after the PSP is asked: a tender with an operation still pending,
//! or whose buckets moved meanwhile, is skipped (its result is on its way, or the PSP's answer may predate it);
//! anything else that differs is a difference to report. Pure.

use super::ledger::TenderMoney;
use super::psp::PspRecord;

/// How one tender's ledger and the PSP's record differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// The PSP does not know the authorization.
    UnknownToThePsp,
    /// The buckets differ: what the ledger says, and what the PSP says.
    Buckets {
        /// The ledger's settled buckets.
        ledger: PspRecord,
        /// The PSP's.
        psp: PspRecord,
    },
}

/// The ledger's settled buckets, as a PSP would state them.
pub fn settled(money: &TenderMoney) -> PspRecord {
    PspRecord {
        authorized: money.authorized.settled,
        captured: money.captured.settled,
        refunded: money.refunded.settled,
        voided: money.voided.settled,
    }
}

/// Whether anything is still pending on the tender.
pub fn in_flight(money: &TenderMoney) -> bool {
    [money.authorized, money.captured, money.refunded, money.voided]
        .iter()
        .any(|b| b.pending != 0)
}

/// Compares a tender's buckets, read `before` and `after` the PSP's record was asked for, with that record;
/// `None` when they agree, or the tender was in flight or moved meanwhile (the next run compares it). Money the
/// PSP moved is always recorded as asked before the call, so a ledger that did not change around the lookup and
/// has nothing pending has every operation the PSP can know of settled.
pub fn compare(before: &TenderMoney, psp: Option<PspRecord>, after: &TenderMoney) -> Option<Difference> {
    let money = before;
    if in_flight(money) || before != after {
        return None;
    }
    let ledger = settled(money);
    match psp {
        None => Some(Difference::UnknownToThePsp),
        Some(psp) if psp != ledger => Some(Difference::Buckets { ledger, psp }),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::Bucket;

    fn money(authorized: i64, captured: i64, pending_capture: i64) -> TenderMoney {
        TenderMoney {
            authorized: Bucket {
                settled: authorized,
                pending: 0,
            },
            captured: Bucket {
                settled: captured,
                pending: pending_capture,
            },
            ..TenderMoney::default()
        }
    }

    fn record(authorized: i64, captured: i64) -> PspRecord {
        PspRecord {
            authorized,
            captured,
            ..PspRecord::default()
        }
    }

    #[test]
    fn a_tender_agrees_differs_or_is_skipped_while_in_flight() {
        let still = |m: TenderMoney, psp| compare(&m, psp, &m);
        assert_eq!(still(money(1_000, 400, 0), Some(record(1_000, 400))), None);
        assert_eq!(
            still(money(1_000, 400, 0), Some(record(1_000, 800))),
            Some(Difference::Buckets {
                ledger: record(1_000, 400),
                psp: record(1_000, 800)
            })
        );
        assert_eq!(
            still(money(1_000, 400, 0), None),
            Some(Difference::UnknownToThePsp)
        );
        assert_eq!(
            still(money(1_000, 400, 400), Some(record(1_000, 800))),
            None,
            "in flight"
        );
    }

    #[test]
    fn a_tender_that_moved_while_the_psp_was_asked_is_left_for_the_next_run() {
        // Read with nothing pending; a capture of 400 was asked, done and recorded before the ledger was read
        // again, and the PSP's answer came from either side of it.
        let (before, after) = (money(1_000, 0, 0), money(1_000, 400, 0));
        assert_eq!(compare(&before, Some(record(1_000, 400)), &after), None);
        assert_eq!(compare(&before, Some(record(1_000, 0)), &after), None);
        // A capture asked after the first read and still pending at the second.
        assert_eq!(
            compare(&before, Some(record(1_000, 400)), &money(1_000, 0, 400)),
            None
        );
    }
}

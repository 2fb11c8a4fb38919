//! A tender's money (DESIGN §6, issue 22): buckets changed only by recorded PSP results. Each operation on a
//! tender (authorize, capture, refund, void) is recorded when it is asked of the PSP (its amount pending) and
//! again when the PSP answers (settled, or given back when it failed). The invariants hold after every step:
//! captured ≤ authorized, refunded ≤ captured, voided + captured ≤ authorized, nothing negative; a request that
//! would break one is refused before any PSP call. PSP results may arrive twice or out of order (a webhook
//! before the reply, a capture's answer before the authorization's): a result seen before is ignored, and one
//! whose prerequisite has not been recorded yet waits until it is, so the buckets only ever show what is
//! consistent. Pure: the database keeps the same buckets under the same constraints.

use std::collections::BTreeMap;

/// An amount in minor units with the part the PSP has not answered yet.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Bucket {
    /// Confirmed by the PSP.
    pub settled: i64,
    /// Asked of the PSP, not answered yet.
    pub pending: i64,
}

impl Bucket {
    /// Settled and pending together: what the bucket may come to.
    pub fn at_most(&self) -> i64 {
        self.settled + self.pending
    }
}

/// What a PSP operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Reserve money on the tender.
    Authorize,
    /// Take reserved money.
    Capture,
    /// Give taken money back.
    Refund,
    /// Give up reserved money not taken.
    Void,
}

/// One tender's money.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct TenderMoney {
    /// Reserved.
    pub authorized: Bucket,
    /// Taken.
    pub captured: Bucket,
    /// Given back after it was taken.
    pub refunded: Bucket,
    /// Reserved, then given up.
    pub voided: Bucket,
}

impl TenderMoney {
    fn bucket(&mut self, kind: Kind) -> &mut Bucket {
        match kind {
            Kind::Authorize => &mut self.authorized,
            Kind::Capture => &mut self.captured,
            Kind::Refund => &mut self.refunded,
            Kind::Void => &mut self.voided,
        }
    }

    /// What may still be captured for sure: authorized and settled, less what is (or may be) captured or voided.
    pub fn capturable(&self) -> i64 {
        self.authorized.settled - self.captured.at_most() - self.voided.at_most()
    }

    /// What may still be refunded for sure: captured and settled, less what is (or may be) refunded.
    pub fn refundable(&self) -> i64 {
        self.captured.settled - self.refunded.at_most()
    }

    /// Whether the invariants hold, counting pending amounts the way that could break them.
    pub fn consistent(&self) -> bool {
        let buckets = [self.authorized, self.captured, self.refunded, self.voided];
        buckets.iter().all(|b| b.settled >= 0 && b.pending >= 0)
            && self.captured.settled + self.voided.settled <= self.authorized.settled
            && self.refunded.settled <= self.captured.settled
            && self.capturable() >= 0
            && self.refundable() >= 0
    }

    /// Whether a settled `amount` of `kind` fits what is settled already (its prerequisite recorded): a capture
    /// or void within the authorized money, a refund within the captured money.
    fn fits_settled(&self, kind: Kind, amount: i64) -> bool {
        match kind {
            Kind::Authorize => true,
            Kind::Capture | Kind::Void => {
                self.captured.settled + self.voided.settled + amount <= self.authorized.settled
            }
            Kind::Refund => self.refunded.settled + amount <= self.captured.settled,
        }
    }
}

/// A PSP operation's id: the idempotency key it is asked with, kept before the call.
pub type OperationId = String;

/// What is recorded of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Asked of the PSP (before the call).
    Requested {
        /// Its idempotency key.
        id: OperationId,
        /// What it does.
        kind: Kind,
        /// How much.
        amount: i64,
    },
    /// The PSP did it (its reply or webhook).
    Succeeded {
        /// Its idempotency key.
        id: OperationId,
        /// What it did.
        kind: Kind,
        /// How much.
        amount: i64,
    },
    /// The PSP refused it.
    Failed {
        /// Its idempotency key.
        id: OperationId,
        /// What it was.
        kind: Kind,
        /// How much.
        amount: i64,
    },
}

impl Record {
    /// The operation's idempotency key.
    pub fn id(&self) -> &str {
        match self {
            Record::Requested { id, .. } | Record::Succeeded { id, .. } | Record::Failed { id, .. } => id,
        }
    }
}

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending { kind: Kind, amount: i64 },
    Done { succeeded: bool },
}

/// Where a recorded operation stands, as kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    /// Asked of the PSP, no answer yet.
    Pending,
    /// Done by the PSP.
    Succeeded,
    /// Refused by the PSP.
    Failed,
    /// Done by the PSP, waiting for its prerequisite to be recorded.
    Waiting,
}

impl OperationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Waiting => "waiting",
        }
    }
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Authorize => "authorize",
            Kind::Capture => "capture",
            Kind::Refund => "refund",
            Kind::Void => "void",
        }
    }

    /// Reads the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "authorize" => Kind::Authorize,
            "capture" => Kind::Capture,
            "refund" => Kind::Refund,
            "void" => Kind::Void,
            _ => return None,
        })
    }
}

/// Why a request is refused before any PSP call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The amount is not positive.
    #[error("amount: must be above 0, got {0}")]
    NotPositive(i64),
    /// More than may be captured.
    #[error("capture of {asked}: at most {left} may still be captured")]
    OverCapture {
        /// Asked.
        asked: i64,
        /// What may be.
        left: i64,
    },
    /// More than may be refunded.
    #[error("refund of {asked}: at most {left} may still be refunded")]
    OverRefund {
        /// Asked.
        asked: i64,
        /// What may be.
        left: i64,
    },
    /// More than may be voided.
    #[error("void of {asked}: at most {left} is authorized and not captured")]
    OverVoid {
        /// Asked.
        asked: i64,
        /// What may be.
        left: i64,
    },
    /// The id was used for another operation.
    #[error("operation {0} was recorded with another kind or amount")]
    Reused(OperationId),
}

/// What recording did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The buckets changed.
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
    /// A result whose prerequisite is not recorded yet: kept, applied as soon as it fits.
    Waiting,
}

/// A tender's money with the operations recorded against it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenderLedger {
    /// The buckets.
    pub money: TenderMoney,
    operations: BTreeMap<OperationId, Phase>,
    waiting: Vec<Record>,
}

impl TenderLedger {
    /// Records one operation step. A request is checked against what may still be done and refused whole when it
    /// does not fit; a result is a fact, applied at once or as soon as its prerequisite is recorded.
    pub fn record(&mut self, record: Record) -> Result<Recorded, Refusal> {
        let outcome = self.record_one(record)?;
        if outcome == Recorded::Applied {
            self.retry_waiting();
        }
        Ok(outcome)
    }

    fn record_one(&mut self, record: Record) -> Result<Recorded, Refusal> {
        let known = self.operations.get(record.id()).copied();
        match (record, known) {
            (Record::Requested { amount, .. }, _) if amount <= 0 => Err(Refusal::NotPositive(amount)),
            (Record::Requested { id, kind, amount }, None) => {
                self.check_request(kind, amount)?;
                self.money.bucket(kind).pending += amount;
                self.operations.insert(id, Phase::Pending { kind, amount });
                Ok(Recorded::Applied)
            }
            (Record::Requested { id, kind, amount }, Some(Phase::Pending { kind: k, amount: a }))
                if (k, a) != (kind, amount) =>
            {
                Err(Refusal::Reused(id))
            }
            (Record::Requested { .. }, Some(_)) => Ok(Recorded::Duplicate),
            (Record::Succeeded { .. } | Record::Failed { .. }, Some(Phase::Done { .. })) => {
                Ok(Recorded::Duplicate)
            }
            (result, _) if self.waiting.contains(&result) => Ok(Recorded::Duplicate),
            (Record::Failed { id, .. }, Some(Phase::Pending { kind, amount })) => {
                self.money.bucket(kind).pending -= amount;
                self.operations.insert(id, Phase::Done { succeeded: false });
                Ok(Recorded::Applied)
            }
            // Failed before it was recorded as asked: nothing was pending, nothing moves.
            (Record::Failed { id, .. }, None) => {
                self.operations.insert(id, Phase::Done { succeeded: false });
                Ok(Recorded::Applied)
            }
            (Record::Succeeded { id, kind, amount }, pending) => {
                // Only what is settled counts towards the prerequisite: the pending part of this very
                // operation is given back first.
                let mut after = self.money;
                if let Some(Phase::Pending { kind: k, amount: a }) = pending {
                    after.bucket(k).pending -= a;
                }
                if !after.fits_settled(kind, amount) {
                    self.waiting.push(Record::Succeeded { id, kind, amount });
                    return Ok(Recorded::Waiting);
                }
                after.bucket(kind).settled += amount;
                self.money = after;
                self.operations.insert(id, Phase::Done { succeeded: true });
                Ok(Recorded::Applied)
            }
        }
    }

    fn check_request(&self, kind: Kind, amount: i64) -> Result<(), Refusal> {
        let m = &self.money;
        match kind {
            Kind::Authorize => Ok(()),
            Kind::Capture if amount > m.capturable() => Err(Refusal::OverCapture {
                asked: amount,
                left: m.capturable(),
            }),
            Kind::Refund if amount > m.refundable() => Err(Refusal::OverRefund {
                asked: amount,
                left: m.refundable(),
            }),
            Kind::Void if amount > m.capturable() => Err(Refusal::OverVoid {
                asked: amount,
                left: m.capturable(),
            }),
            _ => Ok(()),
        }
    }

    /// Applies the waiting results that fit now, until none does.
    fn retry_waiting(&mut self) {
        loop {
            let waiting = std::mem::take(&mut self.waiting);
            let before = waiting.len();
            for record in waiting {
                // A waiting result is a success; recording it again either applies or waits again.
                let _ = self.record_one(record);
            }
            if self.waiting.len() == before {
                return;
            }
        }
    }

    /// Results recorded but not applied yet (their prerequisite is missing).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Where the operation `id` stands, if it was recorded.
    pub fn state_of(&self, id: &str) -> Option<OperationState> {
        if self.waiting.iter().any(|r| r.id() == id) {
            return Some(OperationState::Waiting);
        }
        self.operations.get(id).map(|phase| match phase {
            Phase::Pending { .. } => OperationState::Pending,
            Phase::Done { succeeded: true } => OperationState::Succeeded,
            Phase::Done { succeeded: false } => OperationState::Failed,
        })
    }

    /// Every recorded operation's id.
    pub fn operation_ids(&self) -> impl Iterator<Item = &str> {
        self.operations
            .keys()
            .map(String::as_str)
            .chain(self.waiting.iter().map(Record::id))
    }
}

/// One step of a refund plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundStep {
    /// The tender, by its position in the order's charge order.
    pub tender: usize,
    /// A refund of captured money, or a void of money authorized and not captured.
    pub kind: Kind,
    /// How much.
    pub amount: i64,
}

/// Why a refund cannot be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    /// The amount is not positive.
    #[error("amount: must be above 0, got {0}")]
    NotPositive(i64),
    /// More than the tenders can give back.
    #[error("amount: {asked} asked, at most {available} can be given back")]
    TooMuch {
        /// Asked.
        asked: i64,
        /// What refunds and voids could give back in all.
        available: i64,
    },
}

/// What a refund may do with money authorized and not captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncaptured {
    /// Before the final capture: void it instead of refunding (the customer owes less).
    Voidable,
    /// After the final capture: it is released by the final capture's own void, not given back by a refund; a
    /// refund gives back captured money only.
    Released,
}

/// Splits a refund of `amount` across an order's tenders (in the order they were charged): the last charged first,
/// each capped at what it can give back: captured money is refunded, and where nothing (more) was captured, the
/// authorization is voided instead while `uncaptured` is [`Uncaptured::Voidable`]. The steps add up to exactly
/// `amount`, or the whole refund is refused.
pub fn plan_refund(
    tenders: &[TenderMoney],
    amount: i64,
    uncaptured: Uncaptured,
) -> Result<Vec<RefundStep>, RefundRefusal> {
    if amount <= 0 {
        return Err(RefundRefusal::NotPositive(amount));
    }
    let voidable = |t: &TenderMoney| match uncaptured {
        Uncaptured::Voidable => t.capturable().max(0),
        Uncaptured::Released => 0,
    };
    let available: i64 = tenders.iter().map(|t| t.refundable().max(0) + voidable(t)).sum();
    if amount > available {
        return Err(RefundRefusal::TooMuch {
            asked: amount,
            available,
        });
    }
    let mut left = amount;
    let mut steps = Vec::new();
    for (tender, money) in tenders.iter().enumerate().rev() {
        for (kind, can) in [(Kind::Refund, money.refundable()), (Kind::Void, voidable(money))] {
            let take = left.min(can.max(0));
            if take > 0 {
                steps.push(RefundStep {
                    tender,
                    kind,
                    amount: take,
                });
                left -= take;
            }
        }
        if left == 0 {
            break;
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests;

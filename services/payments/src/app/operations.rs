//! A batch of PSP operations on one intent's tenders, done the way real PSPs need (DESIGN §6):
//!
//! 1. **Plan and record** (one transaction): the batch's operations are planned from the tenders' buckets and each
//!    is recorded as asked (`tender_operations`, its amount pending) under its idempotency key
//!    `<intent>:<batch>:<tender>:<kind>`, before any call. If the batch was recorded before (a retry, a crash
//!    between the calls and their results, another replica), its recorded operations are the batch: nothing is
//!    planned twice.
//! 2. **Ask the PSP** for each operation still pending, with its idempotency key, so an operation asked again is
//!    answered as the first time and never moves money twice. Tenders held outside any PSP (marketplace-prepaid)
//!    succeed at once. No transaction is open during a call.
//! 3. **Record the results** (one transaction) and, once every result of the batch is recorded, let the caller
//!    announce them in the same transaction (outbox), once (`payment_batches`). A PSP that gives no answer leaves
//!    its operation pending: the results that came are recorded and the batch fails; the caller's retry resumes
//!    it at step 1 (a result a webhook brought meanwhile is not asked again).

use omni_contracts::{Money, PaymentIntentId};
use omni_db::DbConnection;

use crate::app::State;
use crate::db::tender_ledger::{self, StoredOperation, TenderKey};
use crate::db::{intents, psp_boundary};
use crate::domain::charges::Step;
use crate::domain::intent::PaymentIntent;
use crate::domain::ledger::{Kind, OperationState, Record, TenderMoney};
use crate::domain::psp::{Movement, PspError};
use crate::error::{Error, Result};

/// A batch: the operations one decision asks of the PSP (a capture of a delivery, the voids of a cancelled order,
/// a refund).
#[derive(Debug, Clone)]
pub struct Batch {
    /// The intent whose tenders it moves.
    pub intent: PaymentIntentId,
    /// Its name, unique per intent and decision: `capture-<fulfillment>`, `void-order`, `refund-<id>`.
    pub name: String,
    /// Captures of this batch are the intent's last.
    pub final_capture: bool,
}

/// A batch after its results were recorded.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The intent, as it was when the batch was planned.
    pub intent: PaymentIntent,
    /// The batch's operations and where each stands now.
    pub operations: Vec<StoredOperation>,
    /// Whether this run announced the batch (`false`: an earlier run did).
    pub fresh: bool,
}

impl Ran {
    /// What succeeded of `kind`, in minor units.
    pub fn succeeded(&self, kind: Kind) -> i64 {
        self.operations
            .iter()
            .filter(|o| o.kind == kind && o.state == OperationState::Succeeded)
            .map(|o| o.amount)
            .sum()
    }

    /// Per tender, what succeeded, for an event.
    pub fn tender_amounts(&self) -> Vec<omni_contracts::events::TenderAmount> {
        self.operations
            .iter()
            .filter(|o| o.state == OperationState::Succeeded)
            .map(|o| omni_contracts::events::TenderAmount {
                tender: o.tender,
                kind: o.kind.as_str().to_owned(),
                amount_minor: o.amount,
            })
            .collect()
    }

    /// The intent's currency with an amount.
    pub fn money(&self, amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: self.intent.amount.currency,
        }
    }
}

/// The idempotency key of one operation of a batch.
pub fn operation_id(batch: &Batch, tender: usize, kind: Kind) -> String {
    format!("{}:{}:{tender}:{}", batch.intent, batch.name, kind.as_str())
}

/// Every tender's buckets, by position.
pub fn money_of(conn: &mut DbConnection, intent: &PaymentIntent) -> Result<Vec<TenderMoney>> {
    (0..intent.tenders.len())
        .map(|tender| {
            tender_ledger::money(
                conn,
                TenderKey {
                    intent: intent.id,
                    tender: u32::try_from(tender).unwrap_or(u32::MAX),
                },
            )
        })
        .collect()
}

/// Runs `batch` (see the module docs). `plan` runs in the first transaction on the tenders' buckets (only when the
/// batch was not recorded before) and may refuse the whole batch with its own error `E`, in which case nothing is
/// written; `announce` runs in the last transaction with what the batch did.
pub async fn run<E, P, A>(state: &State, batch: Batch, plan: P, announce: A) -> Result<Result<Ran, E>>
where
    E: Send + 'static,
    P: FnOnce(&mut DbConnection, &PaymentIntent, &[TenderMoney]) -> Result<Result<Vec<Step>, E>>
        + Send
        + 'static,
    A: FnOnce(&mut DbConnection, &Ran) -> Result<()> + Send + 'static,
{
    let recorded = {
        let batch = batch.clone();
        state
            .db
            .transaction(
                move |conn| -> Result<Result<(PaymentIntent, Vec<StoredOperation>), E>> {
                    tender_ledger::lock_intent(conn, batch.intent)?;
                    let intent = intents::find(conn, batch.intent)?.ok_or_else(|| Error::Corrupt {
                        what: "payment intent",
                        reason: format!("{} vanished", batch.intent),
                    })?;
                    let prefix = format!("{}:{}:", batch.intent, batch.name);
                    let known = tender_ledger::operations(conn, intent.id, &prefix)?;
                    if !known.is_empty() {
                        return Ok(Ok((intent, known)));
                    }
                    let money = money_of(conn, &intent)?;
                    let steps = match plan(conn, &intent, &money)? {
                        Ok(steps) => steps,
                        Err(refused) => return Ok(Err(refused)),
                    };
                    for step in &steps {
                        let record = Record::Requested {
                            id: operation_id(&batch, step.tender, step.kind),
                            kind: step.kind,
                            amount: step.amount,
                        };
                        tender_ledger::record(conn, key(intent.id, step.tender), record)?
                            .map_err(Error::Ledger)?;
                    }
                    let recorded = tender_ledger::operations(conn, intent.id, &prefix)?;
                    Ok(Ok((intent, recorded)))
                },
            )
            .await?
    };
    let (intent, operations) = match recorded {
        Ok(recorded) => recorded,
        Err(refused) => return Ok(Err(refused)),
    };

    let mut results = Vec::new();
    let mut unanswered = None;
    for operation in operations.iter().filter(|o| o.state == OperationState::Pending) {
        match ask(state, &intent, &batch, operation).await {
            Ok(succeeded) => results.push((operation.clone(), succeeded)),
            Err(e) => {
                unanswered = Some(e);
                break;
            }
        }
    }

    let batch_name = batch.name.clone();
    let ran = state
        .db
        .transaction(move |conn| -> Result<Ran> {
            for (operation, succeeded) in results {
                let (id, kind, amount) = (operation.id, operation.kind, operation.amount);
                let record = if succeeded {
                    Record::Succeeded { id, kind, amount }
                } else {
                    Record::Failed { id, kind, amount }
                };
                let key = TenderKey {
                    intent: intent.id,
                    tender: operation.tender,
                };
                tender_ledger::record(conn, key, record)?.map_err(Error::Ledger)?;
            }
            let prefix = format!("{}:{}:", intent.id, batch_name);
            let operations = tender_ledger::operations(conn, intent.id, &prefix)?;
            // Announced once, by whichever run first sees every result recorded (a retry, or a run after a
            // webhook brought the results).
            let complete = operations
                .iter()
                .all(|o| matches!(o.state, OperationState::Succeeded | OperationState::Failed));
            let fresh = complete && psp_boundary::claim_batch(conn, intent.id, &batch_name)?;
            let ran = Ran {
                intent,
                operations,
                fresh,
            };
            if fresh {
                announce(conn, &ran)?;
            }
            Ok(ran)
        })
        .await?;
    let complete = ran
        .operations
        .iter()
        .all(|o| matches!(o.state, OperationState::Succeeded | OperationState::Failed));
    match unanswered {
        Some(e) => Err(Error::Psp(e)),
        None if !complete => Err(Error::Psp(PspError::Unavailable(format!(
            "batch {} of {} has results still to come",
            batch.name, batch.intent
        )))),
        None => {
            if ran.fresh {
                state.relay.notify_one();
            }
            Ok(Ok(ran))
        }
    }
}

fn key(intent: PaymentIntentId, tender: usize) -> TenderKey {
    TenderKey {
        intent,
        tender: u32::try_from(tender).unwrap_or(u32::MAX),
    }
}

/// Asks the PSP for one operation: `Ok(true)` done, `Ok(false)` refused for good, `Err` no answer.
async fn ask(
    state: &State,
    intent: &PaymentIntent,
    batch: &Batch,
    operation: &StoredOperation,
) -> std::result::Result<bool, PspError> {
    let tender = usize::try_from(operation.tender)
        .ok()
        .and_then(|t| intent.tenders.get(t));
    let Some(tender) = tender else {
        return Ok(false);
    };
    if tender.kind.outside_psp() {
        return Ok(true);
    }
    let Some(psp_reference) = tender.psp_reference() else {
        // Nothing was authorized on it, so nothing can move.
        return Ok(false);
    };
    let movement = Movement {
        psp_reference: psp_reference.to_owned(),
        amount: Money {
            amount_minor: operation.amount,
            currency: intent.amount.currency,
        },
        idempotency_key: operation.id.clone(),
        final_capture: batch.final_capture,
    };
    if tender.kind.stored_value() {
        return crate::app::stored_value::apply(state, operation.kind, &movement)
            .await
            .map_err(|e| PspError::Unavailable(format!("stored value: {e}")));
    }
    let answer = match operation.kind {
        Kind::Capture => state.psp.capture(&movement).await,
        Kind::Refund => state.psp.refund(&movement).await,
        Kind::Void => state.psp.void(&movement).await,
        // Authorizations go through `app::authorization`, with the card.
        Kind::Authorize => return Ok(false),
    };
    match answer {
        Ok(()) => Ok(true),
        Err(e) if e.is_final() => {
            tracing::warn!(
                payment_intent.id = %intent.id, operation = %operation.id, psp = state.psp.name(), error = %e,
                "The PSP refused an operation; nothing moved."
            );
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

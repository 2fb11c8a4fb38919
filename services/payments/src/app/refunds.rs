//! Refunds (DESIGN §6): money given back on an order, split across its tenders last charged first, each capped at
//! what it can give back, a void where nothing was captured yet; the steps add up to exactly what was asked, or the
//! refund is refused whole and nothing moves. Idempotent by refund id: asked again, the same refund is answered.
//! One batch of PSP operations ([`super::operations`]), announced once with `omni.payment.refunded`; asked over
//! HTTP (`POST /v1/payments/refunds`) or by the `omni.payment.refund_requested` command; audited either way.

use chrono::SubsecRound;
use omni_contracts::events::{PaymentEvent, PaymentRefunded};
use omni_contracts::{Envelope, Money, OrderId};

use crate::app::State;
use crate::app::operations::{self, Batch};
use crate::db::intents;
use crate::db::refunds::{self, StoredRefund};
use crate::domain::charges::plan_refund_in_charge_order;
use crate::domain::intent::{IntentStatus, charge_order};
use crate::domain::ledger::{Kind, RefundRefusal, Uncaptured};
use crate::error::Result;

/// A refund asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAsk {
    /// Its id, chosen by the caller: the idempotency key.
    pub refund_id: String,
    /// The order.
    pub order_id: OrderId,
    /// How much to give back.
    pub amount: Money,
    /// Why.
    pub reason: String,
    /// Who asks (a principal, or the service that sent the command).
    pub requested_by: String,
}

/// Why a refund is refused; nothing moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    /// The id is not usable.
    #[error("refund_id: must be 1 to 64 of `A-Z a-z 0-9 . _ -`")]
    BadId,
    /// The reason is too long.
    #[error("reason: at most 500 characters")]
    ReasonTooLong,
    /// The order has no payment.
    #[error("order_id: order {0} has no payment to refund")]
    NoPayment(OrderId),
    /// Another currency than the order's.
    #[error("currency: the order was paid in {paid}, not {asked}")]
    Currency {
        /// The order's.
        paid: String,
        /// Asked.
        asked: String,
    },
    /// The id was used for another refund.
    #[error("refund_id: `{0}` was used for another refund (another order or amount)")]
    Reused(String),
    /// Not positive, or more than can be given back.
    #[error(transparent)]
    Amount(#[from] RefundRefusal),
}

/// A refund carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    /// What was given back, as announced.
    pub refund: PaymentRefunded,
    /// The refund was carried out before; this answers it again.
    pub replay: bool,
}

/// Carries out a refund (see the module docs).
pub async fn refund(state: &State, ask: RefundAsk) -> Result<Result<Refunded, RefundError>> {
    if !valid_id(&ask.refund_id) {
        return Ok(Err(RefundError::BadId));
    }
    if ask.reason.chars().count() > 500 {
        return Ok(Err(RefundError::ReasonTooLong));
    }
    if ask.amount.amount_minor <= 0 {
        return Ok(Err(RefundRefusal::NotPositive(ask.amount.amount_minor).into()));
    }
    let order_id = ask.order_id;
    let (intent, before) = {
        let id = ask.refund_id.clone();
        state
            .db
            .run(move |conn| {
                Ok::<_, crate::Error>((intents::of_order(conn, order_id)?, refunds::find(conn, &id)?))
            })
            .await?
    };
    let Some(intent) =
        intent.filter(|i| matches!(i.status, IntentStatus::Authorized | IntentStatus::Captured))
    else {
        return Ok(Err(RefundError::NoPayment(order_id)));
    };
    if intent.amount.currency != ask.amount.currency {
        return Ok(Err(RefundError::Currency {
            paid: intent.amount.currency.to_string(),
            asked: ask.amount.currency.to_string(),
        }));
    }
    if let Some(before) = &before
        && (before.order_id != order_id || before.amount != ask.amount)
    {
        return Ok(Err(RefundError::Reused(ask.refund_id)));
    }
    let replay = before.as_ref().is_some_and(|b| b.refunded);

    let batch = Batch {
        intent: intent.id,
        name: format!("refund-{}", ask.refund_id),
        final_capture: false,
    };
    let order = charge_order(&intent.tenders);
    let refund_id = ask.refund_id.clone();
    let stored = StoredRefund {
        id: ask.refund_id.clone(),
        order_id,
        payment_intent_id: intent.id,
        amount: ask.amount,
        reason: ask.reason.clone(),
        requested_by: ask.requested_by.clone(),
        refunded: false,
        created_at: chrono::Utc::now().trunc_subsecs(6),
    };
    let ran = operations::run(
        state,
        batch,
        move |conn, intent, money| {
            // After the final capture, what stays authorized is released by that capture's void, not refunded.
            let uncaptured = if intent.status == IntentStatus::Captured {
                Uncaptured::Released
            } else {
                Uncaptured::Voidable
            };
            let steps =
                match plan_refund_in_charge_order(money, &order, stored.amount.amount_minor, uncaptured) {
                    Ok(steps) => steps,
                    Err(refused) => return Ok(Err(RefundError::from(refused))),
                };
            if refunds::find(conn, &stored.id)?.is_none() {
                refunds::insert(conn, &stored)?;
                omni_db::audit::record(
                    conn,
                    &stored.requested_by,
                    "payment.refund_requested",
                    &stored.id,
                    &serde_json::json!({
                        "order_id": stored.order_id,
                        "amount_minor": stored.amount.amount_minor,
                        "currency": stored.amount.currency.as_str(),
                        "reason": stored.reason,
                    }),
                )?;
            }
            Ok(Ok(steps))
        },
        move |conn, ran| {
            if refunds::mark_refunded(conn, &refund_id)? {
                let event = PaymentEvent::Refunded(announced(ran, &refund_id));
                omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            }
            Ok(())
        },
    )
    .await?;
    let ran = match ran {
        Ok(ran) => ran,
        Err(refused) => return Ok(Err(refused)),
    };
    let refund = announced(&ran, &ask.refund_id);
    if !replay {
        tracing::info!(
            order.id = %order_id, refund.id = %ask.refund_id, amount_minor = refund.amount.amount_minor,
            "Refund carried out."
        );
    }
    Ok(Ok(Refunded { refund, replay }))
}

fn announced(ran: &operations::Ran, refund_id: &str) -> PaymentRefunded {
    let given_back = ran.succeeded(Kind::Refund) + ran.succeeded(Kind::Void);
    PaymentRefunded {
        order_id: ran.intent.order_id,
        payment_intent_id: ran.intent.id,
        refund_id: refund_id.to_owned(),
        amount: ran.money(given_back),
        tenders: ran.tender_amounts(),
    }
}

/// A refund id: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// How long a refund may wait for its PSP results before the resumer asks again.
const RESUME_AFTER: chrono::Duration = chrono::Duration::seconds(30);

/// Refunds whose PSP answers never came (the caller gave up, or payments stopped) are asked again with the same
/// idempotency keys, every `every`, until `shutdown`: a refund once asked is carried out and announced.
pub fn resume_unfinished(
    state: State,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let before = chrono::Utc::now() - RESUME_AFTER;
            let unfinished = match state
                .db
                .run(move |conn| refunds::unfinished(conn, before, 50))
                .await
            {
                Ok(unfinished) => unfinished,
                Err(e) => {
                    tracing::warn!(error = %e, "Could not list unfinished refunds; retrying.");
                    continue;
                }
            };
            for stored in unfinished {
                let ask = RefundAsk {
                    refund_id: stored.id.clone(),
                    order_id: stored.order_id,
                    amount: stored.amount,
                    reason: stored.reason,
                    requested_by: stored.requested_by,
                };
                match refund(&state, ask).await {
                    Ok(Ok(_)) => {
                        tracing::info!(refund.id = %stored.id, "An unfinished refund was carried out.")
                    }
                    Ok(Err(refused)) => {
                        tracing::warn!(refund.id = %stored.id, reason = %refused, "An unfinished refund is refused now.")
                    }
                    Err(e) => {
                        tracing::warn!(refund.id = %stored.id, error = %e, "An unfinished refund is still waiting.")
                    }
                }
            }
        }
    })
}

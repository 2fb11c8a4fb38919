//! The `commands` consumer: carries out `omni.payment.refund_requested` (the refund command returns and other
//! services send) and `omni.payment.store_credit_requested` (store credit owed on an order, issued once per issue
//! id and announced with its code). A refused command is answered with `omni.payment.refund_refused`, once.

use omni_contracts::Envelope;
use omni_contracts::events::{PaymentEvent, PaymentRefundRefused, RefundRequested, StoreCreditRequested};
use omni_kafka::HandlerError;
use omni_kafka::consumer::{Handler, Incoming};

use crate::app::State;
use crate::app::refunds::{self, RefundAsk};
use crate::app::stored_value::{self, Issue};
use crate::domain::stored_value::StoredValueKind;

/// The consumer's name (its group is `<prefix>.payments.commands`).
pub const CONSUMER: &str = "commands";
/// The inbox name of refused refund commands (each is answered once).
pub const INBOX: &str = "payments.commands";

/// Handles `omni.payments.v1`: `refund_requested` → refund; anything else → acknowledge.
pub fn handler(state: State) -> Handler {
    omni_kafka::consumer::handler(move |incoming: Incoming| {
        let state = state.clone();
        async move {
            let envelope = incoming.decode::<PaymentEvent>()?;
            let asked = match envelope.data {
                PaymentEvent::RefundRequested(asked) => asked,
                PaymentEvent::StoreCreditRequested(asked) => {
                    let refused = store_credit(&state, asked, &envelope.source).await?;
                    return match refused {
                        None => Ok(()),
                        Some((order_id, issue_id, why)) => {
                            answer_refused(&state, incoming.event_id(), order_id, issue_id, why).await
                        }
                    };
                }
                _ => return Ok(()),
            };
            let RefundRequested {
                order_id,
                refund_id,
                amount,
                reason,
            } = asked;
            let ask = RefundAsk {
                refund_id: refund_id.clone(),
                order_id,
                amount,
                reason,
                requested_by: format!("service:{}", envelope.source),
            };
            let refused = match refunds::refund(&state, ask).await.map_err(HandlerError::from)? {
                Ok(_) => return Ok(()),
                Err(refused) => refused,
            };
            tracing::warn!(order.id = %order_id, refund.id = %refund_id, reason = %refused, "Refund refused.");
            answer_refused(
                &state,
                incoming.event_id(),
                order_id,
                refund_id,
                refused.to_string(),
            )
            .await
        }
    })
}

/// Answers a refused command with `omni.payment.refund_refused`, once per command event.
async fn answer_refused(
    state: &State,
    event_id: &str,
    order_id: omni_contracts::OrderId,
    refund_id: String,
    reason: String,
) -> Result<(), HandlerError> {
    let event_id = event_id.to_owned();
    state
        .db
        .transaction(move |conn| -> crate::Result<()> {
            if omni_db::inbox::claim(conn, INBOX, &event_id)? {
                let event = PaymentEvent::RefundRefused(PaymentRefundRefused {
                    order_id,
                    refund_id,
                    reason,
                });
                omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
            }
            Ok(())
        })
        .await
        .map_err(HandlerError::from)?;
    state.relay.notify_one();
    Ok(())
}

/// Issues the store credit a command asks for (once per issue id); `Some((order, issue id, why))` when refused.
async fn store_credit(
    state: &State,
    asked: StoreCreditRequested,
    source: &str,
) -> Result<Option<(omni_contracts::OrderId, String, String)>, HandlerError> {
    let StoreCreditRequested {
        order_id,
        issue_id,
        amount,
        reason,
    } = asked;
    let well_formed = (1..=64).contains(&issue_id.len())
        && issue_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !well_formed || amount.amount_minor <= 0 {
        let why = "issue_id: 1 to 64 of A-Z a-z 0-9 . _ -, and a positive amount".to_owned();
        tracing::warn!(order.id = %order_id, reason = %why, "Store credit refused.");
        return Ok(Some((order_id, issue_id, why)));
    }
    let issue = Issue {
        issue_id: issue_id.clone(),
        kind: StoredValueKind::StoreCredit,
        amount,
        customer_id: None,
        issued_by: format!("service:{source}"),
    };
    match stored_value::issue_for_order(state, issue, order_id)
        .await
        .map_err(HandlerError::from)?
    {
        Ok(issued) => {
            tracing::info!(order.id = %order_id, stored_value = %issued.card.reference, reason = %reason,
                "Store credit issued for an order.");
            Ok(None)
        }
        Err(why) => {
            tracing::warn!(order.id = %order_id, reason = %why, "Store credit refused.");
            Ok(Some((order_id, issue_id, why)))
        }
    }
}

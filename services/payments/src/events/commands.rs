//! The `commands` consumer: carries out `omni.payment.refund_requested` (the refund command returns and other
//! services send). A refused refund is answered with `omni.payment.refund_refused`, once per command.

use omni_contracts::Envelope;
use omni_contracts::events::{PaymentEvent, PaymentRefundRefused, RefundRequested};
use omni_kafka::HandlerError;
use omni_kafka::consumer::{Handler, Incoming};

use crate::app::State;
use crate::app::refunds::{self, RefundAsk};

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
            let PaymentEvent::RefundRequested(asked) = envelope.data else {
                return Ok(());
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
            let event_id = incoming.event_id().to_owned();
            state
                .db
                .transaction(move |conn| -> crate::Result<()> {
                    if omni_db::inbox::claim(conn, INBOX, &event_id)? {
                        let event = PaymentEvent::RefundRefused(PaymentRefundRefused {
                            order_id,
                            refund_id,
                            reason: refused.to_string(),
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
    })
}

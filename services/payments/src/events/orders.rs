//! The `orders` consumer: authorizes each reserved order once.

use omni_contracts::events::OrderEvent;
use omni_kafka::HandlerError;
use omni_kafka::consumer::{Handler, Incoming};

use crate::app::State;
use crate::app::authorization::{self, Outcome};

/// The consumer's name (its group is `<prefix>.payments.orders`).
pub const CONSUMER: &str = "orders";

/// Handles `omni.orders.v1`: `omni.order.reserved` → authorize; `fulfilled` → capture; `failed` or `cancelled`
/// → void what was authorized; anything else → acknowledge.
pub fn handler(state: State) -> Handler {
    omni_kafka::consumer::handler(move |incoming: Incoming| {
        let state = state.clone();
        async move {
            let envelope = incoming.decode::<OrderEvent>()?;
            let reserved = match envelope.data {
                OrderEvent::Reserved(reserved) => reserved,
                OrderEvent::Fulfilled(omni_contracts::events::OrderFulfilled { order_id, .. }) => {
                    return authorization::capture_order(&state, order_id)
                        .await
                        .map(|_| ())
                        .map_err(HandlerError::from);
                }
                OrderEvent::Failed(omni_contracts::events::OrderFailed { order_id, .. })
                | OrderEvent::Cancelled(omni_contracts::events::OrderCancelled { order_id, .. }) => {
                    return authorization::void_order(&state, order_id)
                        .await
                        .map(|_| ())
                        .map_err(HandlerError::from);
                }
                _ => return Ok(()),
            };
            match authorization::authorize_order(&state, incoming.event_id(), reserved).await {
                Ok(Outcome::Decided(_) | Outcome::AlreadyDecided) => Ok(()),
                Err(e) => Err(HandlerError::from(e)),
            }
        }
    })
}

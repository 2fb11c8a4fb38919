//! The `orders` consumer: authorizes each reserved order once, captures what its parts deliver, voids what a
//! failed or cancelled order holds.

use omni_contracts::events::{OrderEvent, OrderFailed, OrderFulfilled, OrderPartDelivered};
use omni_kafka::HandlerError;
use omni_kafka::consumer::{Handler, Incoming};

use crate::app::State;
use crate::app::authorization::{self, Outcome};
use crate::app::capture::{self, Delivery};

/// The consumer's name (its group is `<prefix>.payments.orders`).
pub const CONSUMER: &str = "orders";

/// Handles `omni.orders.v1`: `reserved` → authorize; `part_delivered` → capture its value; `fulfilled` → the
/// final capture and the void of the rest; `failed` or `cancelled` → void what was authorized; anything else →
/// acknowledge.
pub fn handler(state: State) -> Handler {
    omni_kafka::consumer::handler(move |incoming: Incoming| {
        let state = state.clone();
        async move {
            let envelope = incoming.decode::<OrderEvent>()?;
            let done = match envelope.data {
                OrderEvent::Reserved(reserved) => {
                    match authorization::authorize_order(&state, incoming.event_id(), reserved).await {
                        Ok(Outcome::Decided(_) | Outcome::AlreadyDecided) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
                OrderEvent::PartDelivered(OrderPartDelivered {
                    order_id,
                    fulfillment_id,
                    amount,
                    ..
                }) => {
                    let delivery = Delivery {
                        fulfillment_id: Some(fulfillment_id),
                        amount: Some(amount.amount_minor),
                        last: false,
                    };
                    capture::capture_delivery(&state, order_id, delivery)
                        .await
                        .map(|_| ())
                }
                OrderEvent::Fulfilled(OrderFulfilled {
                    order_id,
                    delivered,
                    fulfillment_id,
                    ..
                }) => {
                    let delivery = Delivery {
                        fulfillment_id,
                        amount: delivered.map(|d| d.amount_minor),
                        last: true,
                    };
                    capture::capture_delivery(&state, order_id, delivery)
                        .await
                        .map(|_| ())
                }
                OrderEvent::Failed(OrderFailed { order_id, .. }) => {
                    capture::void_order(&state, order_id, "order_failed")
                        .await
                        .map(|_| ())
                }
                OrderEvent::Cancelled(cancelled) => {
                    capture::void_order(&state, cancelled.order_id, "order_cancelled")
                        .await
                        .map(|_| ())
                }
                _ => Ok(()),
            };
            done.map_err(HandlerError::from)
        }
    })
}

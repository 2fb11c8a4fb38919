//! The demo's split orders: a limited vinyl only Kreuzberg has and a signed poster only the warehouse has, shipped
//! to Berlin. No single node can serve them, so routing splits each across the two (each part its own hold and
//! task); the store shift ships both parts and the order completes once both left.

use std::time::{Duration, Instant};

use omni::client::{OrdersApi, PaymentsApi};
use omni::{Client, Mesh, Service};
use omni_contracts::api::{Delivery, Latitude, Longitude, OrderLine, OrderStatus, Tender, UnitPrice};
use omni_contracts::{OrderId, Quantity, Sku};

use crate::demo_data::EXCLUSIVE_SKUS;

/// What became of the split orders.
#[derive(Debug, Default)]
pub(crate) struct Splits {
    /// Placed.
    pub placed: u64,
    /// Completed (every part shipped, the payment captured).
    pub completed: u64,
    /// Nodes that served them, over all of them.
    pub parts: u64,
}

/// Places `count` orders for every exclusive SKU at once.
pub(crate) async fn place(
    orders: &OrdersApi,
    payments: &PaymentsApi,
    card: &str,
    count: u32,
) -> anyhow::Result<Vec<OrderId>> {
    let mut placed = Vec::new();
    for n in 0..count {
        let token = payments.tokenize(card, 12, 2030).await?.token;
        let lines = EXCLUSIVE_SKUS
            .iter()
            .map(|(sku, _, _, _)| {
                Ok(OrderLine {
                    sku: Sku::parse(sku)?,
                    quantity: Quantity::new(1)?,
                    unit_price_minor: UnitPrice::new(2_500)?,
                })
            })
            .collect::<Result<Vec<_>, omni_contracts::ContractError>>()?;
        let delivery = Delivery::Ship {
            lat: Latitude::new(52.51 + f64::from(n) * 0.01)?,
            lon: Longitude::new(13.38)?,
        };
        let order = crate::demo_data::web_order(lines, delivery, vec![Tender::card(token)])?;
        let key = format!("demo-split-{}", uuid::Uuid::new_v4());
        placed.push(orders.place(&order, &key).await?.id);
    }
    Ok(placed)
}

/// Waits (up to `wait`) for the split orders to complete; counts them and the nodes that served them.
pub(crate) async fn outcome(
    mesh: &Mesh,
    admin_key: &str,
    orders: &OrdersApi,
    ids: &[OrderId],
    wait: Duration,
) -> anyhow::Result<Splits> {
    let fulfillment: Client = mesh.client(Service::Fulfillment, admin_key);
    let deadline = Instant::now() + wait;
    let mut splits = Splits {
        placed: ids.len() as u64,
        ..Splits::default()
    };
    for id in ids {
        loop {
            let order = orders.get(*id).await?;
            if matches!(
                order.status,
                OrderStatus::Completed | OrderStatus::Failed | OrderStatus::Cancelled
            ) || Instant::now() > deadline
            {
                if order.status == OrderStatus::Completed {
                    splits.completed += 1;
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let listed = fulfillment
            .get(&format!("/v1/fulfillments?order_id={id}"))
            .await?;
        splits.parts += listed
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["status"] == "completed")
            .count() as u64;
    }
    Ok(splits)
}

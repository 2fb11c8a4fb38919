//! The demo's split orders: a limited vinyl only Kreuzberg has and a signed poster only the warehouse has, shipped
//! to Berlin. No single node can serve them, so routing splits each across the two (each part its own hold and
//! task); the store shift ships both parts and the order completes once both left. They are paid with split
//! tenders (issue 22): every other one with two cards, the rest with a gift card plus a card; payments captures
//! each parcel as it ships, and every third completed order is then refunded in part.

use std::time::{Duration, Instant};

use omni::client::{OrdersApi, PaymentsApi};
use omni::{Client, Mesh, Service};
use omni_contracts::api::{
    Delivery, IssueStoredValue, Latitude, Longitude, NewRefund, OrderLine, OrderPayment, OrderStatus, Tender,
    UnitPrice,
};
use omni_contracts::{Currency, OrderId, Quantity, Sku};

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
    /// Paid with two cards.
    pub two_cards: u64,
    /// Paid with a gift card and a card.
    pub gift_and_card: u64,
    /// Refunded in part.
    pub refunded: u64,
    /// Their money summed, as the orders show it.
    pub money: OrderPayment,
    /// Completed orders whose captured and voided money did not add up to their amount.
    pub not_adding_up: u64,
}

/// Each split order's amount: two lines at 25.00.
const ORDER_MINOR: i64 = 5_000;
/// What the first tender pays.
const FIRST_TENDER_MINOR: i64 = 2_000;
/// What a refund gives back.
const REFUND_MINOR: i64 = 1_500;
/// The second card of the orders paid with two.
const SECOND_CARD: &str = "5555 5555 5555 4444"; // sandbox test card

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
        let first = if n % 2 == 0 {
            let second = payments.tokenize(SECOND_CARD, 12, 2030).await?.token;
            Tender::Card {
                token: second,
                amount_minor: Some(FIRST_TENDER_MINOR),
            }
        } else {
            let issue = IssueStoredValue {
                issue_id: format!("demo-gift-{}", uuid::Uuid::new_v4()),
                kind: "gift_card".into(),
                amount_minor: FIRST_TENDER_MINOR,
                currency: Currency::parse("EUR")?,
                customer_id: None,
            };
            let gift = payments.issue_stored_value(&issue).await?;
            Tender::GiftCard {
                code: gift.code.unwrap_or_default(),
                amount_minor: Some(FIRST_TENDER_MINOR),
            }
        };
        let order = crate::demo_data::web_order(lines, delivery, vec![first, Tender::card(token)])?;
        let key = format!("demo-split-{}", uuid::Uuid::new_v4());
        placed.push(orders.place(&order, &key).await?.id);
    }
    Ok(placed)
}

/// Waits (up to `wait`) for the split orders to complete; counts them and the nodes that served them, refunds
/// every third completed one in part, and sums their money once the refunds show.
pub(crate) async fn outcome(
    mesh: &Mesh,
    admin_key: &str,
    orders: &OrdersApi,
    payments: &PaymentsApi,
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
                match order.request.tenders.first() {
                    Some(omni_contracts::api::PaymentMethod::GiftCard { .. }) => splits.gift_and_card += 1,
                    _ => splits.two_cards += 1,
                }
                if order.status == OrderStatus::Completed && splits.completed % 3 == 1 {
                    let refund = NewRefund {
                        refund_id: format!("demo-refund-{id}"),
                        order_id: *id,
                        amount_minor: REFUND_MINOR,
                        currency: None,
                        reason: "demo: damaged in transit".into(),
                    };
                    payments.refund(&refund).await?;
                    splits.refunded += 1;
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
    // The orders learn what payments did from its events: wait until every refund shows, then sum.
    let refunded_minor = i64::try_from(splits.refunded).unwrap_or(i64::MAX) * REFUND_MINOR;
    let refunds_by = Instant::now() + Duration::from_secs(15);
    loop {
        let mut money = OrderPayment::default();
        let mut not_adding_up = 0;
        for id in ids {
            let order = orders.get(*id).await?;
            let p = order.payment;
            money.captured_minor += p.captured_minor;
            money.refunded_minor += p.refunded_minor;
            money.voided_minor += p.voided_minor;
            money.paid_minor += p.paid_minor;
            let settled = matches!(order.status, OrderStatus::Completed | OrderStatus::Cancelled);
            if settled
                && (p.captured_minor + p.voided_minor != ORDER_MINOR || p.refunded_minor > p.captured_minor)
            {
                not_adding_up += 1;
            }
        }
        if money.refunded_minor >= refunded_minor || Instant::now() > refunds_by {
            splits.money = money;
            splits.not_adding_up = not_adding_up;
            return Ok(splits);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

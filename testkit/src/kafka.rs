//! Kafka in tests: reading topics ([`omni::topic_reader`]) and waiting for intake to run.

use std::time::Duration;

pub use omni::topic_reader::*;

/// Sends probe partner orders of `partner` (partner order ids `PROBE-1`, `PROBE-2`, …, bodies from `body`) to
/// `inbound` until orders lists one of that partner's orders: then intake runs and orders' own view of the
/// catalog (from `omni.catalog.v1`) has what the probes name. A probe that raced the catalog is dead-lettered as
/// naming an unknown SKU, and the next one is sent `pause` later.
pub async fn until_intake_takes_a_probe(
    producer: &omni_kafka::Producer,
    inbound: &str,
    orders: &crate::Client,
    partner: &str,
    body: impl Fn(&str) -> anyhow::Result<Vec<u8>>,
    pause: Duration,
) -> anyhow::Result<()> {
    let mut probe = 0;
    crate::testing::eventually(
        "orders to take a probe partner order",
        Duration::from_secs(60),
        || {
            probe += 1;
            let id = format!("PROBE-{probe}");
            let body = body(&id);
            async move {
                let headers =
                    partner_order_headers(&uuid::Uuid::new_v4().to_string(), &format!("/partners/{partner}"));
                producer.send_raw(inbound, &id, &headers, &body?).await?;
                tokio::time::sleep(pause).await;
                let listed = orders
                    .get(&format!("/v1/orders?partner={partner}&limit=1"))
                    .await?;
                Ok(listed.body["orders"]
                    .as_array()
                    .is_some_and(|o| !o.is_empty())
                    .then_some(()))
            }
        },
    )
    .await
}

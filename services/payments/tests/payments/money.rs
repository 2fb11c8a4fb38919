//! Each tender's money through authorization, captures per delivery, voids and refunds: the ledger's buckets,
//! the sandbox PSP's own book and the events must agree, and nothing is done twice when asked again.

use omni_payments::app::capture::{Delivery, capture_delivery, void_order};
use omni_payments::app::refunds::{RefundAsk, RefundError, refund};
use omni_payments::domain::ledger::RefundRefusal;
use omni_payments::domain::sandbox_psp::SandboxAuthorization;

use super::*;

/// An order of 4,999 paid 2,000 by one card and the remainder (2,999) by another, authorized.
async fn split_order(fx: &Fixture) -> anyhow::Result<(OrderReserved, PaymentIntent)> {
    let first = fx.tokenize(APPROVE).await?;
    let second = fx.tokenize(MASTERCARD).await?;
    let order = reserved(vec![card_tender(&first).with_amount(2_000), card_tender(&second)])?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "reserved", order.clone()).await? else {
        anyhow::bail!("the order was not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized, "{intent:?}");
    Ok((order, intent))
}

impl Fixture {
    /// The tender's buckets as (authorized, captured, refunded, voided), all settled, nothing pending.
    async fn buckets(&self, intent: &PaymentIntent, tender: u32) -> anyhow::Result<(i64, i64, i64, i64)> {
        let key = TenderKey {
            intent: intent.id,
            tender,
        };
        let m = self.with(move |conn, _| tender_ledger::money(conn, key)).await?;
        let pending = [m.authorized, m.captured, m.refunded, m.voided]
            .iter()
            .map(|b| b.pending)
            .sum::<i64>();
        assert_eq!(pending, 0, "nothing is left pending: {m:?}");
        Ok((
            m.authorized.settled,
            m.captured.settled,
            m.refunded.settled,
            m.voided.settled,
        ))
    }

    /// The sandbox PSP's book of the tender's authorization, as (authorized, captured, refunded, voided).
    async fn psp_book(&self, intent: &PaymentIntent, tender: usize) -> anyhow::Result<(i64, i64, i64, i64)> {
        let stored = self.intents(intent.order_id).await?;
        let reference = stored[0].tenders[tender]
            .psp_reference()
            .context("the tender has no PSP reference")?
            .to_owned();
        let SandboxAuthorization {
            authorized,
            captured,
            refunded,
            voided,
            ..
        } = self
            .psp
            .authorization(&reference)
            .context("the sandbox does not know it")?;
        Ok((authorized, captured, refunded, voided))
    }

    async fn event_types(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.outbox().await?.into_iter().map(|(kind, _)| kind).collect())
    }
}

fn part() -> omni_contracts::FulfillmentId {
    omni_contracts::FulfillmentId::generate()
}

pub(crate) async fn a_split_tender_order_is_captured_per_delivery_and_the_rest_voided(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let (order, intent) = split_order(&fx).await?;
    assert_eq!(fx.buckets(&intent, 0).await?, (2_000, 0, 0, 0));
    assert_eq!(fx.buckets(&intent, 1).await?, (2_999, 0, 0, 0));
    assert_eq!(
        fx.psp_book(&intent, 0).await?,
        (2_000, 0, 0, 0),
        "each card holds only its share"
    );

    // The first parcel (1,500) is taken from the first card in charge order.
    let first_parcel = Delivery {
        fulfillment_id: Some(part()),
        amount: Some(1_500),
        last: false,
    };
    assert_eq!(
        capture_delivery(&fx.state, order.order_id, first_parcel).await?,
        1_500
    );
    assert_eq!(
        capture_delivery(&fx.state, order.order_id, first_parcel).await?,
        0,
        "asked again: nothing"
    );
    assert_eq!(fx.buckets(&intent, 0).await?, (2_000, 1_500, 0, 0));

    // The second and last parcel (3,000): 500 left on the first card, 2,500 from the second; its 499 are voided.
    let last_parcel = Delivery {
        fulfillment_id: Some(part()),
        amount: Some(3_000),
        last: true,
    };
    assert_eq!(
        capture_delivery(&fx.state, order.order_id, last_parcel).await?,
        3_000
    );
    assert_eq!(
        capture_delivery(&fx.state, order.order_id, last_parcel).await?,
        0,
        "asked again: nothing"
    );
    assert_eq!(fx.buckets(&intent, 0).await?, (2_000, 2_000, 0, 0));
    assert_eq!(fx.buckets(&intent, 1).await?, (2_999, 2_500, 0, 499));
    assert_eq!(fx.psp_book(&intent, 0).await?, fx.buckets(&intent, 0).await?);
    assert_eq!(fx.psp_book(&intent, 1).await?, fx.buckets(&intent, 1).await?);
    assert_eq!(
        fx.intents(order.order_id).await?[0].status,
        IntentStatus::Captured
    );
    assert_eq!(
        fx.event_types().await?,
        [
            "omni.payment.authorized",
            "omni.payment.captured",
            "omni.payment.captured",
            "omni.payment.voided",
        ]
    );
    let (_, last) = &fx.outbox().await?[2];
    assert!(
        last.contains("\"final\":true") && last.contains("\"amount_minor\":3000"),
        "{last}"
    );
    // A cancel that comes after the goods left voids nothing more.
    assert_eq!(void_order(&fx.state, order.order_id, "order_cancelled").await?, 0);
    Ok(())
}

pub(crate) async fn a_short_delivery_never_captures_what_did_not_leave(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let (order, intent) = split_order(&fx).await?;
    // Only 1,200 of 4,999 left (a short pick, a part no node could take): that is all that is taken.
    let delivery = Delivery {
        fulfillment_id: Some(part()),
        amount: Some(1_200),
        last: true,
    };
    assert_eq!(
        capture_delivery(&fx.state, order.order_id, delivery).await?,
        1_200
    );
    assert_eq!(fx.buckets(&intent, 0).await?, (2_000, 1_200, 0, 800));
    assert_eq!(fx.buckets(&intent, 1).await?, (2_999, 0, 0, 2_999));
    assert_eq!(fx.psp_book(&intent, 1).await?, (2_999, 0, 0, 2_999));
    Ok(())
}

pub(crate) async fn a_refund_goes_back_last_charged_first_and_is_answered_once(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let (order, intent) = split_order(&fx).await?;
    let delivery = Delivery {
        fulfillment_id: Some(part()),
        amount: Some(4_000),
        last: true,
    };
    capture_delivery(&fx.state, order.order_id, delivery).await?;
    // Captured: 2,000 on the first card, 2,000 on the second (its 999 voided).
    let ask = |id: &str, amount_minor: i64| RefundAsk {
        refund_id: id.to_owned(),
        order_id: order.order_id,
        amount: Money {
            amount_minor,
            currency: order.amount.currency,
        },
        reason: "damaged".into(),
        requested_by: "manager-mo".into(),
    };
    let done = refund(&fx.state, ask("R-1", 2_500))
        .await?
        .map_err(anyhow::Error::msg)?;
    assert!(!done.replay);
    assert_eq!(done.refund.amount.amount_minor, 2_500);
    assert_eq!(
        fx.buckets(&intent, 1).await?,
        (2_999, 2_000, 2_000, 999),
        "last charged first"
    );
    assert_eq!(fx.buckets(&intent, 0).await?, (2_000, 2_000, 500, 0));
    assert_eq!(fx.psp_book(&intent, 0).await?, fx.buckets(&intent, 0).await?);
    assert_eq!(fx.psp_book(&intent, 1).await?, fx.buckets(&intent, 1).await?);

    let again = refund(&fx.state, ask("R-1", 2_500))
        .await?
        .map_err(anyhow::Error::msg)?;
    assert!(again.replay);
    assert_eq!(again.refund, done.refund);
    assert_eq!(
        refund(&fx.state, ask("R-1", 100)).await?,
        Err(RefundError::Reused("R-1".into()))
    );
    // 1,500 can still be given back: asking 1,501 is refused whole and nothing moves.
    assert_eq!(
        refund(&fx.state, ask("R-2", 1_501)).await?,
        Err(RefundError::Amount(RefundRefusal::TooMuch {
            asked: 1_501,
            available: 1_500
        }))
    );
    assert_eq!(fx.buckets(&intent, 0).await?, (2_000, 2_000, 500, 0));
    let refunds = fx
        .event_types()
        .await?
        .into_iter()
        .filter(|t| t == "omni.payment.refunded")
        .count();
    assert_eq!(refunds, 1, "one refund, announced once");
    let audited = fx
        .audit()
        .await?
        .into_iter()
        .filter(|e| e.action == "payment.refund_requested")
        .count();
    assert_eq!(audited, 1);
    Ok(())
}

pub(crate) async fn a_refund_before_capture_voids_the_authorization(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let (order, intent) = split_order(&fx).await?;
    let ask = RefundAsk {
        refund_id: "goodwill-7".into(),
        order_id: order.order_id,
        amount: Money {
            amount_minor: 3_000,
            currency: order.amount.currency,
        },
        reason: String::new(),
        requested_by: "svc".into(),
    };
    refund(&fx.state, ask).await?.map_err(anyhow::Error::msg)?;
    assert_eq!(fx.buckets(&intent, 1).await?, (2_999, 0, 0, 2_999));
    assert_eq!(fx.buckets(&intent, 0).await?, (2_000, 0, 0, 1));
    assert_eq!(fx.psp_book(&intent, 0).await?, (2_000, 0, 0, 1));
    Ok(())
}

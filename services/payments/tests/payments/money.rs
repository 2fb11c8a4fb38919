//! Each tender's money through authorization, captures per delivery, voids and refunds: the ledger's buckets,
//! the sandbox PSP's own book and the events must agree, and nothing is done twice when asked again.

use omni_payments::app::capture::{Delivery, capture_delivery, void_order};
use omni_payments::app::refunds::{RefundAsk, RefundError, refund};
use omni_payments::domain::ledger::RefundRefusal;
use omni_payments::domain::sandbox_psp::SandboxAuthorization;

use anyhow::ensure;

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

/// A new part's delivery worth `amount`, the order's last or not.
fn delivery(amount: i64, last: bool) -> Delivery {
    Delivery {
        fulfillment_id: Some(part()),
        amount: Some(amount),
        last,
    }
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
    let first_parcel = delivery(1_500, false);
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
    let last_parcel = delivery(3_000, true);
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
    let delivery = delivery(1_200, true);
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
    let delivery = delivery(4_000, true);
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

async fn issue_gift_card(fx: &Fixture, amount_minor: i64) -> anyhow::Result<String> {
    use omni_payments::app::stored_value::{Issue, issue};
    use omni_payments::domain::stored_value::StoredValueKind;
    let issued = issue(
        &fx.state,
        Issue {
            issue_id: format!("gift-{}", uuid::Uuid::now_v7().simple()),
            kind: StoredValueKind::GiftCard,
            amount: Money {
                amount_minor,
                currency: Currency::parse("EUR")?,
            },
            customer_id: None,
            issued_by: "manager-mo".into(),
        },
    )
    .await?;
    issued.code.context("a new card shows its code")
}

fn gift_tender(code: &str, amount_minor: Option<i64>) -> PaymentMethod {
    let method = omni_contracts::api::Tender::GiftCard {
        code: code.to_owned(),
        amount_minor,
    }
    .to_payment_method();
    match amount_minor {
        Some(amount) => method.with_amount(amount),
        None => method,
    }
}

async fn balance(fx: &Fixture, code: &str) -> anyhow::Result<(i64, i64)> {
    let card = omni_payments::app::stored_value::by_code(&fx.state, "manager-mo", code)
        .await?
        .map_err(anyhow::Error::msg)?;
    Ok((card.balance, card.available()))
}

pub(crate) async fn a_gift_card_pays_first_is_held_and_a_cancel_restores_its_balance(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let code = fx.tokenize(APPROVE).await?;
    let gift = issue_gift_card(&fx, 3_000).await?;
    // The card is listed first, but the gift card is charged first (stored value before cards).
    let order = reserved(vec![card_tender(&code), gift_tender(&gift, Some(3_000))])?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "gift", order.clone()).await? else {
        anyhow::bail!("not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized, "{intent:?}");
    assert_eq!(
        balance(&fx, &gift).await?,
        (3_000, 0),
        "the whole card is held for the order"
    );
    assert_eq!(fx.buckets(&intent, 1).await?, (3_000, 0, 0, 0));
    assert_eq!(fx.buckets(&intent, 0).await?, (1_999, 0, 0, 0));

    assert_eq!(
        void_order(&fx.state, order.order_id, "order_cancelled").await?,
        4_999
    );
    assert_eq!(
        balance(&fx, &gift).await?,
        (3_000, 3_000),
        "cancelled: the balance is whole again"
    );
    assert_eq!(fx.buckets(&intent, 1).await?, (3_000, 0, 0, 3_000));

    // Spent on a second order, captured, then refunded: the card is reloaded.
    let order = reserved(vec![gift_tender(&gift, Some(1_000)), card_tender(&code)])?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "gift-2", order.clone()).await? else {
        anyhow::bail!("not decided");
    };
    let delivery = delivery(4_999, true);
    capture_delivery(&fx.state, order.order_id, delivery).await?;
    assert_eq!(balance(&fx, &gift).await?, (2_000, 2_000));
    let ask = RefundAsk {
        refund_id: "R-gift".into(),
        order_id: order.order_id,
        amount: Money {
            amount_minor: 4_999,
            currency: order.amount.currency,
        },
        reason: "returned".into(),
        requested_by: "manager-mo".into(),
    };
    refund(&fx.state, ask).await?.map_err(anyhow::Error::msg)?;
    assert_eq!(
        balance(&fx, &gift).await?,
        (3_000, 3_000),
        "the refund reloads the card"
    );
    assert_eq!(fx.buckets(&intent, 0).await?, (1_000, 1_000, 1_000, 0));
    Ok(())
}

pub(crate) async fn a_gift_card_with_too_little_balance_declines_before_any_card_is_asked(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let token = fx.tokenize(APPROVE).await?;
    let gift = issue_gift_card(&fx, 500).await?;
    let order = reserved(vec![card_tender(&token), gift_tender(&gift, Some(1_000))])?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "poor", order).await? else {
        anyhow::bail!("not decided");
    };
    assert_eq!(intent.status, IntentStatus::Declined);
    assert_eq!(intent.decline_reason.as_deref(), Some("insufficient_balance"));
    assert!(
        intent.tenders[0].outcome.is_none(),
        "the card was never asked: {intent:?}"
    );
    assert_eq!(balance(&fx, &gift).await?, (500, 500));
    Ok(())
}

pub(crate) async fn wrong_gift_card_codes_are_limited_per_caller(backend: Backend) -> anyhow::Result<()> {
    use omni_payments::app::stored_value::{GUESS_BURST, Lookup, by_code};
    let fx = Fixture::new(backend).await?;
    let gift = issue_gift_card(&fx, 500).await?;
    for i in 0..GUESS_BURST {
        let guess = format!("AAAA-BBBB-CCCC-{:04}", 2222 + i)
            .replace('8', "2")
            .replace('9', "3");
        let found = by_code(&fx.state, "guesser", &guess).await?;
        assert_eq!(found, Err(Lookup::Unknown), "guess {i}");
    }
    assert!(matches!(
        by_code(&fx.state, "guesser", &gift).await?,
        Err(Lookup::TooManyGuesses(_))
    ));
    // Another caller is not held back by the guesser.
    assert!(by_code(&fx.state, "manager-mo", &gift).await?.is_ok());
    Ok(())
}

pub(crate) async fn a_card_authorization_is_renewed_before_it_lapses_and_a_declined_renewal_awaits_payment(
    backend: Backend,
) -> anyhow::Result<()> {
    use omni_payments::app::renewal::{Renewal, Renewed, renew, renew_due};
    let mut fx = Fixture::new(backend).await?;
    // Authorizations last an hour and are renewed two hours before they lapse: due at once.
    fx.state.renewal = Renewal {
        card_authorization: chrono::Duration::hours(1),
        before: chrono::Duration::hours(2),
    };
    let (order, intent) = split_order(&fx).await?;
    let stored = &fx.intents(order.order_id).await?[0];
    ensure!(stored.renew_at.is_some(), "the timer knows when: {stored:?}");
    let first_parcel = delivery(1_500, false);
    capture_delivery(&fx.state, order.order_id, first_parcel).await?;

    // The timer's round renews the first card's rest (500) as tender 2, then the second card (2,999) as tender 3.
    assert_eq!(renew_due(&fx.state).await?, 1);
    assert_eq!(renew(&fx.state, intent.id).await?, Renewed::Renewed(3));
    let renewed = &fx.intents(order.order_id).await?[0];
    assert_eq!(renewed.tenders.len(), 4);
    assert_eq!(
        (renewed.tenders[2].replaces, renewed.tenders[3].replaces),
        (Some(0), Some(1))
    );
    assert_eq!(
        fx.buckets(&intent, 0).await?,
        (2_000, 1_500, 0, 500),
        "the old rest is voided"
    );
    assert_eq!(fx.buckets(&intent, 2).await?, (500, 0, 0, 0));
    assert_eq!(fx.buckets(&intent, 3).await?, (2_999, 0, 0, 0));
    assert_eq!(fx.psp_book(&intent, 0).await?, (2_000, 1_500, 0, 500));

    // The last parcel is taken from the renewed authorizations; a refund goes back on the one that took it.
    fx.state.renewal = Renewal::default();
    let last_parcel = delivery(3_000, true);
    assert_eq!(
        capture_delivery(&fx.state, order.order_id, last_parcel).await?,
        3_000
    );
    assert_eq!(fx.buckets(&intent, 2).await?, (500, 500, 0, 0));
    assert_eq!(fx.buckets(&intent, 3).await?, (2_999, 2_500, 0, 499));
    assert_eq!(fx.psp_book(&intent, 3).await?, fx.buckets(&intent, 3).await?);
    let ask = RefundAsk {
        refund_id: "R-renewed".into(),
        order_id: order.order_id,
        amount: Money {
            amount_minor: 2_600,
            currency: order.amount.currency,
        },
        reason: String::new(),
        requested_by: "svc".into(),
    };
    refund(&fx.state, ask).await?.map_err(anyhow::Error::msg)?;
    assert_eq!(fx.buckets(&intent, 3).await?, (2_999, 2_500, 2_500, 499));
    assert_eq!(fx.buckets(&intent, 1).await?, (2_999, 0, 0, 2_999));
    assert_eq!(
        fx.buckets(&intent, 2).await?,
        (500, 500, 100, 0),
        "last charged first"
    );
    let kinds = fx.event_types().await?;
    assert_eq!(
        kinds.iter().filter(|k| *k == "omni.payment.reauthorized").count(),
        2,
        "{kinds:?}"
    );

    // A card that declines its renewal: the intent awaits payment, announced once.
    fx.state.renewal = Renewal {
        card_authorization: chrono::Duration::hours(1),
        before: chrono::Duration::hours(2),
    };
    let picky = fx.tokenize(ONCE_A_MINUTE).await?;
    let order = reserved(vec![card_tender(&picky)])?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "picky", order.clone()).await? else {
        anyhow::bail!("not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized);
    assert_eq!(
        renew(&fx.state, intent.id).await?,
        Renewed::Declined("card_velocity_exceeded".into())
    );
    let stored = &fx.intents(order.order_id).await?[0];
    assert_eq!(stored.status, IntentStatus::AwaitingPayment);
    assert_eq!(stored.renew_at, None);
    assert_eq!(renew(&fx.state, intent.id).await?, Renewed::NothingDue);
    let failed = fx
        .event_types()
        .await?
        .into_iter()
        .filter(|k| k == "omni.payment.reauthorization_failed")
        .count();
    assert_eq!(failed, 1);
    // Goods that leave meanwhile are still charged on the old authorization while it holds.
    let delivery = delivery(4_999, true);
    assert_eq!(
        capture_delivery(&fx.state, order.order_id, delivery).await?,
        4_999
    );
    assert_eq!(
        fx.intents(order.order_id).await?[0].status,
        IntentStatus::Captured
    );
    Ok(())
}

pub(crate) async fn lost_psp_replies_are_asked_again_and_signed_webhooks_bring_results_once(
    backend: Backend,
) -> anyhow::Result<()> {
    use omni_payments::app::webhooks::{Received, WebhookRefusal, receive};
    use omni_payments::domain::webhook::{SignatureError, sign};
    let fx = Fixture::new(backend).await?;
    let token = fx.tokenize(DROPS_REPLIES).await?;
    let order = reserved(vec![card_tender(&token)])?;
    // The authorization's reply is lost: the order is not decided; asked again with the same key, it is.
    assert!(matches!(
        authorize_order(&fx.state, "lossy", order.clone()).await,
        Err(Error::Psp(_))
    ));
    let Outcome::Decided(intent) = authorize_order(&fx.state, "lossy", order.clone()).await? else {
        anyhow::bail!("not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized);
    assert_eq!(fx.psp_book(&intent, 0).await?, (4_999, 0, 0, 0), "held once");

    // The capture's reply is lost too: it stays pending, nothing is announced.
    let delivery = delivery(4_999, true);
    assert!(
        capture_delivery(&fx.state, order.order_id, delivery)
            .await
            .is_err()
    );
    let key = TenderKey {
        intent: intent.id,
        tender: 0,
    };
    let money = fx.with(move |conn, _| tender_ledger::money(conn, key)).await?;
    assert_eq!((money.captured.settled, money.captured.pending), (0, 4_999));
    assert!(
        !fx.event_types()
            .await?
            .contains(&"omni.payment.captured".to_owned())
    );

    // The PSP's webhook brings the result: signed and recent, it is recorded once.
    let operation = format!("{}:capture-final:0:capture", intent.id);
    let body = serde_json::to_vec(&serde_json::json!({
        "id": "evt_capture_1", "type": "operation.succeeded", "operation_id": operation,
        "kind": "capture", "amount_minor": 4_999,
    }))?;
    let now = chrono::Utc::now().timestamp();
    let secret = fx.state.webhook_secret.clone();
    let signed = sign(&secret, now, &body);
    assert_eq!(
        receive(&fx.state, "sandbox", Some(&signed), &body).await?,
        Ok(Received::Recorded)
    );
    assert_eq!(
        receive(&fx.state, "sandbox", Some(&signed), &body).await?,
        Ok(Received::Duplicate)
    );
    let money = fx.with(move |conn, _| tender_ledger::money(conn, key)).await?;
    assert_eq!((money.captured.settled, money.captured.pending), (4_999, 0));
    // Refused, naming the header, nothing recorded: unsigned, signed with another secret, an old timestamp.
    assert_eq!(
        receive(&fx.state, "sandbox", None, &body).await?,
        Err(WebhookRefusal::Signature(SignatureError::Missing))
    );
    let forged = sign(b"not the secret", now, &body);
    assert_eq!(
        receive(&fx.state, "sandbox", Some(&forged), &body).await?,
        Err(WebhookRefusal::Signature(SignatureError::Mismatch))
    );
    let old = sign(&secret, now - 3_600, &body);
    assert!(matches!(
        receive(&fx.state, "sandbox", Some(&old), &body).await?,
        Err(WebhookRefusal::Signature(SignatureError::Stale(_)))
    ));
    let unknown = serde_json::to_vec(&serde_json::json!({
        "id": "evt_2", "type": "operation.succeeded", "operation_id": "nope", "kind": "capture", "amount_minor": 1,
    }))?;
    assert_eq!(
        receive(
            &fx.state,
            "sandbox",
            Some(&sign(&secret, now, &unknown)),
            &unknown
        )
        .await?,
        Err(WebhookRefusal::UnknownOperation("nope".into()))
    );

    // The capture asked again finds its result and announces it once, without asking the PSP.
    capture_delivery(&fx.state, order.order_id, delivery).await?;
    capture_delivery(&fx.state, order.order_id, delivery).await?;
    let captured = fx
        .event_types()
        .await?
        .into_iter()
        .filter(|k| k == "omni.payment.captured")
        .count();
    assert_eq!(captured, 1);
    assert_eq!(fx.buckets(&intent, 0).await?, (4_999, 4_999, 0, 0));
    assert_eq!(
        fx.psp_book(&intent, 0).await?,
        (4_999, 4_999, 0, 0),
        "captured once at the PSP"
    );

    // A refund whose reply is lost stays unfinished; the resumer's next round carries it out, once.
    let ask = RefundAsk {
        refund_id: "R-lossy".into(),
        order_id: order.order_id,
        amount: Money {
            amount_minor: 1_000,
            currency: order.amount.currency,
        },
        reason: String::new(),
        requested_by: "svc".into(),
    };
    assert!(refund(&fx.state, ask.clone()).await.is_err());
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let unfinished = fx
        .with(move |conn, _| omni_payments::db::refunds::unfinished(conn, later, 10))
        .await?;
    assert_eq!(unfinished.len(), 1);
    refund(&fx.state, ask).await?.map_err(anyhow::Error::msg)?;
    let unfinished = fx
        .with(move |conn, _| omni_payments::db::refunds::unfinished(conn, later, 10))
        .await?;
    assert!(unfinished.is_empty());
    assert_eq!(
        fx.psp_book(&intent, 0).await?,
        (4_999, 4_999, 1_000, 0),
        "refunded once at the PSP"
    );
    Ok(())
}

pub(crate) async fn the_reconcile_finds_a_ledger_that_differs_from_the_psps_record(
    backend: Backend,
) -> anyhow::Result<()> {
    use omni_payments::app::reconcile::reconcile;
    use omni_payments::db::schema::tender_money;
    let fx = Fixture::new(backend).await?;
    let (order, intent) = split_order(&fx).await?;
    let delivery = delivery(3_000, true);
    capture_delivery(&fx.state, order.order_id, delivery).await?;
    let since = chrono::Utc::now() - chrono::Duration::days(1);
    let clean = reconcile(&fx.state, since).await?;
    assert_eq!((clean.tenders, clean.differences.len()), (2, 0), "{clean:?}");

    // Someone changed the second card's captured money by hand: the reconcile reports it, as an event too.
    let id = intent.id.to_string();
    fx.with(move |conn, _| {
        diesel::update(tender_money::table.find((id, 1)))
            .set(tender_money::captured.eq(tender_money::captured - 100))
            .execute(conn)?;
        Ok(())
    })
    .await?;
    let report = reconcile(&fx.state, since).await?;
    assert_eq!(report.differences.len(), 1, "{report:?}");
    let found = &report.differences[0];
    assert_eq!((found.tender, found.ledger.captured), (1, 900));
    assert_eq!(found.psp.map(|p| p.captured), Some(1_000));
    assert!(
        fx.event_types()
            .await?
            .contains(&"omni.payment.reconcile_difference".to_owned())
    );
    Ok(())
}

pub(crate) async fn the_psps_record_outlives_a_payments_restart_and_nothing_moves_twice(
    backend: Backend,
) -> anyhow::Result<()> {
    use omni_payments::app::reconcile::reconcile;
    use omni_payments::http_psp::HttpPsp;
    let (mut fx, url, stop) = Fixture::over_http(backend).await?;
    let token = fx.tokenize(DROPS_REPLIES).await?;
    let order = reserved(vec![card_tender(&token)])?;
    assert!(
        authorize_order(&fx.state, "r", order.clone()).await.is_err(),
        "the first reply is lost"
    );
    // Payments restarts (a new process: new state, the same database); the PSP server kept its book.
    let restart = |fx: &Fixture| -> anyhow::Result<State> {
        let http = Arc::new(HttpPsp::new(&url)?);
        Ok(State::new(
            fx.state.db.clone(),
            Arc::new(Notify::new()),
            Kek::from_bytes(KEK),
            http,
        ))
    };
    fx.state = restart(&fx)?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "r", order.clone()).await? else {
        anyhow::bail!("not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized);
    let delivery = delivery(4_999, true);
    assert!(
        capture_delivery(&fx.state, order.order_id, delivery)
            .await
            .is_err(),
        "lost again"
    );
    fx.state = restart(&fx)?;
    capture_delivery(&fx.state, order.order_id, delivery).await?;
    assert_eq!(
        fx.psp_book(&intent, 0).await?,
        (4_999, 4_999, 0, 0),
        "held once, captured once"
    );
    assert_eq!(fx.buckets(&intent, 0).await?, (4_999, 4_999, 0, 0));
    let report = reconcile(&fx.state, chrono::Utc::now() - chrono::Duration::days(1)).await?;
    assert_eq!((report.tenders, report.differences.len()), (1, 0), "{report:?}");
    stop.cancel();
    Ok(())
}

/// Store credit owed on an order (a return refunded as store credit) never adds up to more than the order paid:
/// captured less refunded. The same issue id again answers the credit issued before, whatever the cap says now.
pub(crate) async fn store_credit_for_an_order_never_exceeds_what_it_paid(
    backend: Backend,
) -> anyhow::Result<()> {
    use omni_payments::app::stored_value::{Issue, issue_for_order};
    use omni_payments::domain::stored_value::StoredValueKind;

    let fx = Fixture::new(backend).await?;
    let (order, _intent) = split_order(&fx).await?;
    capture_delivery(&fx.state, order.order_id, delivery(4_000, true)).await?;
    let credit = |id: &str, amount_minor: i64| Issue {
        issue_id: id.to_owned(),
        kind: StoredValueKind::StoreCredit,
        amount: Money {
            amount_minor,
            currency: order.amount.currency,
        },
        customer_id: None,
        issued_by: "service:returns".into(),
    };
    let first = issue_for_order(&fx.state, credit("return-1", 3_000), order.order_id)
        .await?
        .map_err(anyhow::Error::msg)?;
    ensure!(first.code.is_some(), "issued with its code");
    let over = issue_for_order(&fx.state, credit("return-2", 1_001), order.order_id).await?;
    ensure!(
        over.as_ref()
            .is_err_and(|why| why.contains("paid 4000") && why.contains("3000 already")),
        "{over:?}"
    );
    // 500 refunded to the cards: 3,500 paid, so only 500 more credit.
    let refunded = refund(
        &fx.state,
        RefundAsk {
            refund_id: "R-1".into(),
            order_id: order.order_id,
            amount: Money {
                amount_minor: 500,
                currency: order.amount.currency,
            },
            reason: "damaged".into(),
            requested_by: "manager-mo".into(),
        },
    )
    .await?;
    ensure!(refunded.is_ok(), "{refunded:?}");
    let over = issue_for_order(&fx.state, credit("return-2", 501), order.order_id).await?;
    ensure!(over.is_err(), "{over:?}");
    let last = issue_for_order(&fx.state, credit("return-2", 500), order.order_id)
        .await?
        .map_err(anyhow::Error::msg)?;
    ensure!(last.code.is_some());
    let again = issue_for_order(&fx.state, credit("return-1", 3_000), order.order_id)
        .await?
        .map_err(anyhow::Error::msg)?;
    ensure!(
        again.code.is_none() && again.card.reference == first.card.reference,
        "{again:?}"
    );
    Ok(())
}

//! The R9 fault test of payments (issue 22), on real PostgreSQL and the broker (Nisshi). 500 orders paid with
//! split tenders (two cards, or a gift card and a card) are authorized, captured in two parts (the second final; a
//! fifth of each order is never delivered and is voided) and refunded across both tenders, while the sandbox PSP,
//! served on its own (`omni psp-sandbox`) so that its book outlives payments, loses 10 % of its replies after doing
//! the work, answers every call late and sends a fifth of its webhooks twice, and `omni serve payments` is killed
//! (SIGKILL) and restarted 20 times. The orders' events are sent on `omni.orders.v1` as orders would; each refund is
//! asked with the `omni.payment.refund_requested` command once the order's final capture is announced.
//!
//! Afterwards: every tender's buckets are what the order's deliveries and refund make them (so nothing was
//! captured or refunded twice, and nothing is lost or left pending), every card tender's buckets equal the
//! sandbox's own record of its authorization, every gift card's balance is what its tender's buckets say, every
//! batch was announced exactly once, and the reconcile, running every few seconds throughout, never reported a
//! difference.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_contracts::api::{Payer, PaymentMethod};
use omni_contracts::events::{
    HandedOver, OrderEvent, OrderFulfilled, OrderPartDelivered, OrderReserved, PaymentEvent, RefundRequested,
};
use omni_contracts::{Currency, Envelope, FulfillmentId, LocationId, Money, OrderId, ReservationId, Topic};
use omni_testkit::Client;
use omni_testkit::testing::eventually;
use rand::{Rng, SeedableRng};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use serde_json::json;

use crate::processes::{self, Backends, ScratchDir, kill_hard, start_omni};

const ORDERS: usize = 500;
const KILLS: usize = 20;
const LOST_REPLIES_PERCENT: u8 = 10;
const SLOW_MS: u64 = 20;
const DUPLICATE_WEBHOOKS_PERCENT: u8 = 20;
/// The checkout's key: it tokenizes the cards, issues the gift cards and reads the intents; its orders' payer.
const CHECKOUT: &str = "r9-checkout-key-0123456789abcdef";
const CHECKOUT_NAME: &str = "r9-checkout";
/// Card A pays this much of an order paid with two cards, a gift card this much of the others.
const CARD_A_MINOR: i64 = 4_000;
const GIFT_CARD_MINOR: i64 = 3_000;
/// What each refund leaves captured.
const KEPT_MINOR: i64 = 500;

/// One order of the run and what should become of its money.
struct Planned {
    order_id: OrderId,
    total: i64,
    /// The first tender: card A's reference, or the gift card's reference, last four and code.
    first: First,
    /// Card B's reference (pays the rest).
    second: String,
    parts: [(FulfillmentId, i64); 2],
    refund: i64,
}

enum First {
    Card(String),
    GiftCard {
        reference: String,
        last4: String,
        code: String,
    },
}

impl Planned {
    fn first_amount(&self) -> i64 {
        match self.first {
            First::Card(_) => CARD_A_MINOR,
            First::GiftCard { .. } => GIFT_CARD_MINOR,
        }
    }

    fn delivered(&self) -> i64 {
        self.parts[0].1 + self.parts[1].1
    }

    /// Each tender's buckets at the end, `[authorized, captured, refunded, voided]`: captures go in charge order
    /// (the first tender first), the undelivered rest is voided, the refund takes the last charged first.
    fn expected(&self) -> [[i64; 4]; 2] {
        let first = self.first_amount();
        let second = self.total - first;
        let captured = [first.min(self.delivered()), (self.delivered() - first).max(0)];
        let refunded_second = self.refund.min(captured[1]);
        let refunded = [self.refund - refunded_second, refunded_second];
        [
            [first, captured[0], refunded[0], first - captured[0]],
            [second, captured[1], refunded[1], second - captured[1]],
        ]
    }

    fn refund_id(&self) -> String {
        format!("r9-{}", self.order_id)
    }
}

struct Run {
    config: std::path::PathBuf,
    payments_log: std::path::PathBuf,
    psp_log: std::path::PathBuf,
    payments_port: u16,
    psp_port: u16,
    _dir: ScratchDir,
}

impl Run {
    fn payments_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.payments_port)
    }

    fn psp_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.psp_port)
    }

    fn start_payments(&self) -> anyhow::Result<Child> {
        start_omni(&["serve", "payments"], &self.config, &self.payments_log)
    }

    async fn payments_ready(&self, child: &mut Child) -> anyhow::Result<()> {
        processes::ready(
            &self.payments_url(),
            "/health/ready",
            child,
            "omni serve payments",
        )
        .await
    }

    fn start_psp(&self) -> anyhow::Result<Child> {
        let listen = format!("127.0.0.1:{}", self.psp_port);
        let webhooks = format!("{}/v1/payments/webhooks/sandbox", self.payments_url());
        let (lost, slow, twice) = (
            LOST_REPLIES_PERCENT.to_string(),
            SLOW_MS.to_string(),
            DUPLICATE_WEBHOOKS_PERCENT.to_string(),
        );
        let args = [
            "psp-sandbox",
            "--listen",
            &listen,
            "--lose-replies-percent",
            &lost,
            "--slow-ms",
            &slow,
            "--webhook-url",
            &webhooks,
            "--duplicate-webhooks-percent",
            &twice,
        ];
        start_omni(&args, &self.config, &self.psp_log)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_tenders_are_captured_and_refunded_once_while_payments_is_killed_twenty_times()
-> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = Backends::new()?;
    let dir = ScratchDir::new("payments-crash")?;
    let [payments_port, psp_port] = processes::free_ports()?;
    let run = Run {
        config: dir.join("omni.toml"),
        payments_log: dir.join("payments.log"),
        psp_log: dir.join("psp.log"),
        payments_port,
        psp_port,
        _dir: dir,
    };
    std::fs::write(&run.config, config(&run, &backends))?;

    let mut psp = run.start_psp()?;
    let mut payments = run.start_payments()?;
    let outcome = crash_run(&run, &mut payments, &mut psp, &backends.settings).await;
    let _ = kill_hard(&mut payments);
    let _ = kill_hard(&mut psp);
    outcome.with_context(|| {
        format!(
            "payments' last warnings:\n{}\n\npayments' log ends:\n{}\n\nthe sandbox's log ends:\n{}",
            processes::tail_matching(&run.payments_log, 30, "WARN"),
            processes::tail(&run.payments_log, 30),
            processes::tail(&run.psp_log, 10)
        )
    })
}

/// The settings both processes read: payments on the sandbox server with the webhook secret they share, the
/// reconcile every 3 s, quick retries.
fn config(run: &Run, backends: &Backends) -> String {
    use base64::Engine as _;
    let kek = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    format!(
        "[http.ports]\npayments = {payments}\n\n{backends}\
         [kafka.retry]\ninitial_backoff_ms = 50\nmax_backoff_ms = 1000\n\n\
         [payments]\nkey_encryption_key = \"{kek}\"\npsp = \"sandbox-http\"\npsp_url = \"{psp}\"\n\
         webhook_secret = \"r9-webhook-secret-0123456789\"\nreconcile_interval_seconds = 3\n\n\
         [[auth.api_keys]]\nkey = \"{CHECKOUT}\"\nname = \"{CHECKOUT_NAME}\"\nroles = [\"service\"]\n",
        payments = run.payments_port,
        backends = backends.toml(3_000),
        psp = run.psp_url(),
    )
}

async fn crash_run(
    run: &Run,
    payments: &mut Child,
    psp: &mut Child,
    settings: &omni_config::Settings,
) -> anyhow::Result<()> {
    processes::ready(&run.psp_url(), "/health/ready", psp, "omni psp-sandbox").await?;
    run.payments_ready(payments).await?;
    let checkout = Client::new(run.payments_url(), CHECKOUT);
    let orders = plan_orders(&checkout).await?;

    let metrics = omni_telemetry::Metrics::new("payments-crash-test")?;
    let kafka = omni_kafka::Kafka::new(&settings.kafka, &settings.kafka.bootstrap_servers);
    let producer = kafka.producer(&metrics)?;
    let payments_topic = kafka.topic_name(Topic::Payments).to_owned();
    let follower = Follower::start(
        &settings.kafka.bootstrap_servers,
        &payments_topic,
        producer.clone(),
        &orders,
    )?;

    // The orders go in twenty waves, one before each kill, so that every kill comes while payments is at work:
    // after it announced a few more events since its last start (its consumers have their partitions again), at
    // a random moment.
    let events = order_events(&orders)?;
    let started = std::time::Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261207);
    for wave in events.chunks(ORDERS.div_ceil(KILLS)) {
        let since = follower.announced.load(Ordering::Relaxed);
        for event in wave.iter().flatten() {
            publish(&producer, &Envelope::new("orders", event.clone())).await?;
        }
        follower.until_announced(since, 20).await?;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1_500))).await;
        kill_hard(payments)?;
        *payments = run.start_payments()?;
        run.payments_ready(payments).await?;
    }
    let killed = started.elapsed();
    eventually("every refund to be asked", Duration::from_secs(300), || async {
        ensure!(!follower.task.is_finished(), "following payments' topic stopped");
        Ok((follower.refunds_asked.load(Ordering::Relaxed) == ORDERS).then_some(()))
    })
    .await?;
    follower.task.abort();

    // Drain: every order refunded, nothing pending.
    let behind = std::sync::Mutex::new(String::new());
    let drained_money = eventually(
        "every order to be refunded with nothing pending",
        Duration::from_secs(300),
        || async {
            let mut all = BTreeMap::new();
            let mut late = Vec::new();
            for order in &orders {
                let money = tender_money(&checkout, order.order_id).await?;
                let settled = money.iter().all(|t| t.iter().all(|(_, pending)| *pending == 0));
                let refunded: i64 = money.iter().map(|t| t[2].0).sum();
                if !settled || refunded != order.refund {
                    late.push(format!("{} {money:?}", order.order_id));
                }
                all.insert(order.order_id, money);
            }
            if late.is_empty() {
                return Ok(Some(all));
            }
            *behind.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = format!(
                "{} orders not done yet, e.g.\n{}",
                late.len(),
                late[..late.len().min(5)].join("\n")
            );
            Ok(None)
        },
    )
    .await;
    let money = match drained_money {
        Ok(money) => money,
        Err(e) => {
            let lag = reqwest::get(format!("{}/metrics", run.payments_url()))
                .await?
                .text()
                .await?
                .lines()
                .filter(|l| l.contains("lag") && !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n");
            let behind = behind
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            return Err(e.context(format!("{behind}\npayments' consumer lag:\n{lag}")));
        }
    };

    let drained = started.elapsed();
    check_buckets(&orders, &money)?;
    check_sandbox_record(run, &checkout, &orders).await?;
    check_gift_cards(&checkout, &orders, &money).await?;
    let again = check_announced_once(&settings.kafka.bootstrap_servers, &payments_topic, &orders).await?;
    println!(
        "R9: {ORDERS} split-tender orders, {KILLS} kills of payments, PSP losing {LOST_REPLIES_PERCENT} % of replies, \
         {SLOW_MS} ms late, {DUPLICATE_WEBHOOKS_PERCENT} % of webhooks twice: every tender's buckets as expected \
         and equal to the sandbox's record, each batch announced once ({again} events published \
         again by the outbox relay after a kill, same ids), no reconcile difference; kills done after {killed:.1?}, \
         every order refunded after {drained:.1?}"
    );
    Ok(())
}

/// Tokenizes the two cards (as the checkout, the orders' payer), issues a gift card for every third order, and
/// plans each order.
async fn plan_orders(checkout: &Client) -> anyhow::Result<Vec<Planned>> {
    let card_a = omni_testkit::testing::tokenize(checkout).await?;
    let card_b = omni_testkit::testing::tokenize(checkout).await?;
    let mut orders = Vec::with_capacity(ORDERS);
    for n in 0..ORDERS {
        let total = 10_000 + 7 * i64::try_from(n)?;
        let first = if n % 3 == 2 {
            let issued = checkout
                .post(
                    "/v1/payments/gift-cards",
                    &json!({ "issue_id": format!("r9-gift-{n}"), "amount_minor": GIFT_CARD_MINOR, "currency": "EUR" }),
                    &[],
                )
                .await?;
            ensure!(
                issued.status == 201,
                "issuing a gift card answered {}: {}",
                issued.status,
                issued.body
            );
            let field = |name: &str| {
                issued.body[name]
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("the issued gift card has no {name}: {}", issued.body))
            };
            First::GiftCard {
                reference: field("reference")?,
                last4: field("last4")?,
                code: field("code")?,
            }
        } else {
            First::Card(card_a.reference.clone())
        };
        let part = total * 2 / 5;
        let delivered = part * 2;
        orders.push(Planned {
            order_id: OrderId::generate(),
            total,
            first,
            second: card_b.reference.clone(),
            parts: [
                (FulfillmentId::generate(), part),
                (FulfillmentId::generate(), part),
            ],
            refund: delivered - KEPT_MINOR,
        });
    }
    Ok(orders)
}

fn euros(amount_minor: i64) -> anyhow::Result<Money> {
    Ok(Money {
        amount_minor,
        currency: Currency::parse("EUR")?,
    })
}

/// Each order's events, in the order orders sends them: reserved, the first part delivered, fulfilled with the
/// second part.
fn order_events(orders: &[Planned]) -> anyhow::Result<Vec<[OrderEvent; 3]>> {
    let location = LocationId::parse("STORE-001")?;
    let mut events = Vec::new();
    for order in orders {
        let first = match &order.first {
            First::Card(reference) => PaymentMethod::Card {
                reference: reference.clone(),
                card: None,
                amount_minor: Some(CARD_A_MINOR),
            },
            First::GiftCard { reference, last4, .. } => PaymentMethod::GiftCard {
                reference: reference.clone(),
                last4: last4.clone(),
                amount_minor: Some(GIFT_CARD_MINOR),
            },
        };
        let second = PaymentMethod::Card {
            reference: order.second.clone(),
            card: None,
            amount_minor: Some(order.total - order.first_amount()),
        };
        let [(first_part, first_value), (last_part, last_value)] = order.parts;
        events.push([
            OrderEvent::Reserved(OrderReserved {
                order_id: order.order_id,
                reservation_id: ReservationId::generate(),
                location_id: location.clone(),
                amount: euros(order.total)?,
                tenders: vec![first, second],
                payer: Payer::principal(CHECKOUT_NAME),
                customer_id: None,
            }),
            OrderEvent::PartDelivered(OrderPartDelivered {
                order_id: order.order_id,
                fulfillment_id: first_part,
                location_id: location.clone(),
                amount: euros(first_value)?,
            }),
            OrderEvent::Fulfilled(OrderFulfilled {
                order_id: order.order_id,
                location_id: location.clone(),
                how: HandedOver::Shipped,
                delivered: Some(euros(last_value)?),
                fulfillment_id: Some(last_part),
            }),
        ]);
    }
    Ok(events)
}

/// Publishes, sending again when the broker refuses a send (the same event id: a redelivery, taken once).
async fn publish<T: omni_contracts::envelope::EventPayload>(
    producer: &omni_kafka::Producer,
    envelope: &Envelope<T>,
) -> anyhow::Result<()> {
    let mut attempt = 0;
    while let Err(e) = producer.publish(envelope).await {
        attempt += 1;
        ensure!(attempt < 5, "the broker refused a send five times: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Follows payments' topic: counts what payments announces (the kills wait for it to be at work) and asks each
/// order's refund (the `refund_requested` command) once its final capture is announced, as the returns service
/// will.
struct Follower {
    announced: Arc<AtomicUsize>,
    refunds_asked: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Follower {
    fn start(
        bootstrap: &str,
        topic: &str,
        producer: omni_kafka::Producer,
        orders: &[Planned],
    ) -> anyhow::Result<Self> {
        let consumer: StreamConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set(
                "group.id",
                format!("r9-follower-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .set("topic.metadata.refresh.interval.ms", "1000")
            .create()?;
        consumer.subscribe(&[topic])?;
        let mut refunds: BTreeMap<OrderId, RefundRequested> = orders
            .iter()
            .map(|o| {
                Ok((
                    o.order_id,
                    RefundRequested {
                        order_id: o.order_id,
                        refund_id: o.refund_id(),
                        amount: euros(o.refund)?,
                        reason: "r9".to_owned(),
                    },
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        let announced = Arc::new(AtomicUsize::new(0));
        let refunds_asked = Arc::new(AtomicUsize::new(0));
        let (counted, asked) = (announced.clone(), refunds_asked.clone());
        let task = tokio::spawn(async move {
            loop {
                let message = consumer.recv().await?;
                let Some(event) = payment_event(&message) else {
                    continue;
                };
                counted.fetch_add(1, Ordering::Relaxed);
                if let PaymentEvent::Captured(captured) = event
                    && captured.final_capture
                    && let Some(refund) = refunds.remove(&captured.order_id)
                {
                    publish(
                        &producer,
                        &Envelope::new("returns", PaymentEvent::RefundRequested(refund)),
                    )
                    .await?;
                    asked.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Ok(Self {
            announced,
            refunds_asked,
            task,
        })
    }

    /// Waits until payments has announced `more` events after the `since`-th (at most 2 minutes).
    async fn until_announced(&self, since: usize, more: usize) -> anyhow::Result<()> {
        eventually(
            "payments to announce again after its restart",
            Duration::from_secs(120),
            || async {
                ensure!(!self.task.is_finished(), "following payments' topic stopped");
                Ok((self.announced.load(Ordering::Relaxed) >= since + more).then_some(()))
            },
        )
        .await
    }
}

fn payment_event(message: &rdkafka::message::BorrowedMessage<'_>) -> Option<PaymentEvent> {
    let headers = omni_kafka::headers_as_text(message);
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    Envelope::<PaymentEvent>::from_parts(header, message.payload().unwrap_or_default())
        .ok()
        .map(|e| e.data)
}

/// Each tender's buckets of the order's intent, as payments lists them: `[authorized, captured, refunded, voided]`,
/// each `(settled, pending)`.
async fn tender_money(checkout: &Client, order_id: OrderId) -> anyhow::Result<Vec<[(i64, i64); 4]>> {
    let listed = checkout
        .get(&format!("/v1/payments/intents?order_id={order_id}"))
        .await?;
    ensure!(
        listed.status == 200,
        "listing intents answered {}: {}",
        listed.status,
        listed.body
    );
    let Some(money) = listed.body[0]["money"].as_array() else {
        return Ok(Vec::new());
    };
    Ok(money
        .iter()
        .map(|tender| {
            ["authorized", "captured", "refunded", "voided"].map(|bucket| {
                let b = &tender[bucket];
                (
                    b["settled"].as_i64().unwrap_or(-1),
                    b["pending"].as_i64().unwrap_or(-1),
                )
            })
        })
        .collect())
}

fn settled(tender: &[(i64, i64); 4]) -> [i64; 4] {
    tender.map(|(settled, _)| settled)
}

/// Every tender's buckets are what the order's deliveries and refund make them: nothing twice, nothing lost.
fn check_buckets(orders: &[Planned], money: &BTreeMap<OrderId, Vec<[(i64, i64); 4]>>) -> anyhow::Result<()> {
    let mut wrong = Vec::new();
    for order in orders {
        let found: Vec<[i64; 4]> = money[&order.order_id].iter().map(settled).collect();
        if found != order.expected() {
            wrong.push(format!(
                "{}: expected {:?}, found {found:?}",
                order.order_id,
                order.expected()
            ));
        }
    }
    ensure!(
        wrong.is_empty(),
        "{} orders' buckets are wrong ([authorized, captured, refunded, voided] per tender):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    Ok(())
}

/// Every card tender's buckets equal the sandbox's own record of its authorization.
async fn check_sandbox_record(run: &Run, checkout: &Client, orders: &[Planned]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let mut wrong = Vec::new();
    for order in orders {
        let listed = checkout
            .get(&format!("/v1/payments/intents?order_id={}", order.order_id))
            .await?;
        let intent = &listed.body[0];
        let tenders = intent["tenders"]
            .as_array()
            .context("an intent without tenders")?;
        for (position, tender) in tenders.iter().enumerate() {
            if tender["type"] != "card" {
                continue;
            }
            let reference = tender["outcome"]["psp_reference"]
                .as_str()
                .with_context(|| format!("a card tender without a PSP reference: {tender}"))?;
            let record: serde_json::Value = http
                .get(format!("{}/authorizations/{reference}", run.psp_url()))
                .send()
                .await?
                .json()
                .await?;
            let sandbox =
                ["authorized", "captured", "refunded", "voided"].map(|b| record[b].as_i64().unwrap_or(-1));
            let ledger = ["authorized", "captured", "refunded", "voided"]
                .map(|b| intent["money"][position][b]["settled"].as_i64().unwrap_or(-1));
            if sandbox != ledger {
                wrong.push(format!(
                    "{} tender {position} ({reference}): ledger {ledger:?}, sandbox {sandbox:?}",
                    order.order_id
                ));
            }
        }
    }
    ensure!(
        wrong.is_empty(),
        "{} card tenders differ from the sandbox's record:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    Ok(())
}

/// Every gift card's balance is what it was issued with, less what its tender captured, plus what was refunded
/// to it, with nothing held.
async fn check_gift_cards(
    checkout: &Client,
    orders: &[Planned],
    money: &BTreeMap<OrderId, Vec<[(i64, i64); 4]>>,
) -> anyhow::Result<()> {
    for order in orders {
        let First::GiftCard { code, .. } = &order.first else {
            continue;
        };
        let [_, (captured, _), (refunded, _), _] = money[&order.order_id][0];
        let balance = checkout
            .post("/v1/payments/gift-cards/balance", &json!({ "code": code }), &[])
            .await?;
        ensure!(
            balance.status == 200,
            "a gift card's balance answered {}: {}",
            balance.status,
            balance.body
        );
        let expected = GIFT_CARD_MINOR - captured + refunded;
        ensure!(
            balance.body["balance_minor"] == expected && balance.body["available_minor"] == expected,
            "order {}: the gift card should hold {expected} with nothing held: {}",
            order.order_id,
            balance.body
        );
    }
    Ok(())
}

/// Each order announced once: its authorization, each of its two captures (the second final), the void of what
/// was not delivered and its refund; no refund refused and no reconcile difference, ever. An event the outbox
/// relay published again after a kill (the same event id, which consumers take once) counts once. Answers how many
/// events were published again.
async fn check_announced_once(bootstrap: &str, topic: &str, orders: &[Planned]) -> anyhow::Result<usize> {
    const PER_ORDER: usize = 5;
    let wanted: BTreeSet<OrderId> = orders.iter().map(|o| o.order_id).collect();
    // What was read so far, taken in as it comes: per (order, what), the event ids; the events of other kinds.
    let ids = std::cell::RefCell::new(BTreeMap::<(OrderId, String), BTreeSet<String>>::new());
    let problems = std::cell::RefCell::new(Vec::new());
    let published = std::cell::RefCell::new(BTreeMap::<String, usize>::new());
    let looked_at = std::cell::Cell::new(0);
    // Read until every order's five steps were read (a void may be announced after the refund that overtook it).
    let all_read = |seen: &[omni_testkit::kafka::Seen]| {
        for s in &seen[looked_at.get()..] {
            let event_id = s.header("ce_id").unwrap_or_default().to_owned();
            *published.borrow_mut().entry(event_id.clone()).or_default() += 1;
            let Ok(envelope) = Envelope::<PaymentEvent>::from_parts(|name| s.header(name), &s.body) else {
                continue;
            };
            let (order_id, what) = match envelope.data {
                PaymentEvent::Authorized(e) => (e.order_id, "authorized".to_owned()),
                PaymentEvent::Captured(e) => (
                    e.order_id,
                    format!(
                        "captured {} final={}",
                        e.fulfillment_id.map(|f| f.to_string()).unwrap_or_default(),
                        e.final_capture
                    ),
                ),
                PaymentEvent::Voided(e) => (e.order_id, format!("voided {}", e.reason)),
                PaymentEvent::Refunded(e) => (e.order_id, format!("refunded {}", e.refund_id)),
                PaymentEvent::RefundRequested(_) => continue,
                other => {
                    problems.borrow_mut().push(format!("{other:?}"));
                    continue;
                }
            };
            if wanted.contains(&order_id) {
                ids.borrow_mut()
                    .entry((order_id, what))
                    .or_default()
                    .insert(event_id);
            }
        }
        looked_at.set(seen.len());
        ids.borrow().len() >= PER_ORDER * wanted.len()
    };
    let read = omni_testkit::kafka::collect(bootstrap, &[topic], Duration::from_secs(120), all_read).await;
    let problems = problems.into_inner();
    ensure!(problems.is_empty(), "unexpected payment events: {problems:?}");
    let ids = ids.into_inner();
    if let Err(e) = read {
        let short: Vec<String> = orders
            .iter()
            .filter(|o| ids.keys().filter(|(id, _)| *id == o.order_id).count() < PER_ORDER)
            .take(5)
            .map(|o| {
                let read: Vec<&String> = ids
                    .keys()
                    .filter(|(id, _)| *id == o.order_id)
                    .map(|(_, w)| w)
                    .collect();
                format!("{}: {read:?}", o.order_id)
            })
            .collect();
        return Err(e.context(format!(
            "orders whose steps were not all announced, e.g. {short:?}"
        )));
    }
    let again = published.into_inner().values().map(|n| n - 1).sum();
    let counts: BTreeMap<(OrderId, String), usize> = ids.into_iter().map(|(k, v)| (k, v.len())).collect();
    for order in orders {
        let of_order: Vec<(&String, &usize)> = counts
            .iter()
            .filter(|((id, _), _)| *id == order.order_id)
            .map(|((_, what), n)| (what, n))
            .collect();
        let expected = [
            "authorized".to_owned(),
            format!("captured {} final=false", order.parts[0].0),
            format!("captured {} final=true", order.parts[1].0),
            format!("refunded {}", order.refund_id()),
            "voided final_capture".to_owned(),
        ];
        let whats: BTreeSet<&str> = of_order.iter().map(|(w, _)| w.as_str()).collect();
        let expected_set: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        ensure!(
            whats == expected_set && of_order.iter().all(|(_, n)| **n == 1),
            "order {} was announced {of_order:?}, expected each of {expected:?} once",
            order.order_id
        );
    }
    Ok(again)
}

//! The vault and payment intents against real databases: every scenario runs once on SQLite and once on
//! PostgreSQL. HTTP and Kafka wiring are covered by the end-to-end tests.

use std::sync::Arc;

use anyhow::Context;
use chrono::{Datelike, Utc};
use diesel::prelude::*;
use omni_config::{ApiKeySettings, AuthSettings, Role, Secret};
use omni_contracts::api::{CardToken, Payer, PaymentMethod, TokenizeCard};
use omni_contracts::events::OrderReserved;
use omni_contracts::{Currency, CustomerId, LocationId, Money, OrderId, PaymentIntentId, ReservationId};
use omni_db::DbConnection;
use omni_db::testing::{Backend, TestDatabase};
use omni_http::ApiKeys;
use omni_payments::app::authorization::{Outcome, authorize_order};
use omni_payments::db::schema::{tender_operations, vault_cards};
use omni_payments::db::tender_ledger::{self, TenderKey};
use omni_payments::db::vault::{DETOKENIZE_ACTION, DETOKENIZE_PRINCIPAL, Detokenized, Purpose};
use omni_payments::db::{data_keys, intents, vault};
use omni_payments::domain::card::Card;
use omni_payments::domain::intent::{IntentStatus, PaymentIntent};
use omni_payments::domain::ledger::{Kind, Record, Recorded, Refusal, TenderMoney};
use omni_payments::domain::sandbox_psp::SandboxPsp;
use omni_payments::domain::vault::{Kek, is_token};
use omni_payments::{Error, MIGRATIONS, State, open_vault};
use tokio::sync::Notify;

const APPROVE: &str = "4242424242424242";
const DECLINE: &str = "4000000000000002";
const INSUFFICIENT_FUNDS: &str = "4000000000009995";
const OUTAGE_ONCE: &str = "4000000000000119";
const MASTERCARD: &str = "5555555555554444";
const ONCE_A_MINUTE: &str = "4000000000003139";
const DROPS_REPLIES: &str = "4000000000003071";

#[path = "payments/money.rs"]
mod money;
use money::{
    a_card_authorization_is_renewed_before_it_lapses_and_a_declined_renewal_awaits_payment,
    a_gift_card_pays_first_is_held_and_a_cancel_restores_its_balance,
    a_gift_card_with_too_little_balance_declines_before_any_card_is_asked,
    a_refund_before_capture_voids_the_authorization,
    a_refund_goes_back_last_charged_first_and_is_answered_once,
    a_short_delivery_never_captures_what_did_not_leave,
    a_split_tender_order_is_captured_per_delivery_and_the_rest_voided,
    lost_psp_replies_are_asked_again_and_signed_webhooks_bring_results_once,
    store_credit_for_an_order_never_exceeds_what_it_paid,
    the_psps_record_outlives_a_payments_restart_and_nothing_moves_twice,
    the_reconcile_finds_a_ledger_that_differs_from_the_psps_record,
    wrong_gift_card_codes_are_limited_per_caller,
};

/// Runs each scenario once per backend, as `<scenario>::on_sqlite` and `<scenario>::on_postgres`.
macro_rules! on_every_backend {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            use super::*;

            #[tokio::test]
            async fn on_sqlite() -> anyhow::Result<()> {
                super::$scenario(Backend::Sqlite).await
            }

            #[tokio::test]
            async fn on_postgres() -> anyhow::Result<()> {
                super::$scenario(Backend::Postgres).await
            }
        }
    )+};
}

on_every_backend!(
    a_tokenized_card_is_stored_encrypted_and_detokenizes_back_with_an_audit_entry,
    cards_sealed_before_a_rotation_still_detokenize_and_new_cards_use_the_new_key,
    a_vault_opened_with_another_kek_refuses_to_start,
    an_order_is_authorized_once_however_often_its_reservation_arrives,
    declined_cards_and_unknown_tokens_decline_the_order_with_a_safe_reason,
    a_card_pays_only_orders_of_whoever_tokenized_it,
    a_marketplace_prepaid_order_is_authorized_without_a_psp_call,
    an_order_whose_psp_call_fails_is_not_decided_until_the_retry_succeeds,
    the_http_api_tokenizes_rotates_and_lists_without_ever_echoing_a_card_number,
    a_tenders_money_is_kept_from_its_recorded_operations,
    the_database_refuses_money_that_breaks_the_invariants,
    a_split_tender_order_is_captured_per_delivery_and_the_rest_voided,
    a_short_delivery_never_captures_what_did_not_leave,
    a_refund_goes_back_last_charged_first_and_is_answered_once,
    a_refund_before_capture_voids_the_authorization,
    a_gift_card_pays_first_is_held_and_a_cancel_restores_its_balance,
    a_gift_card_with_too_little_balance_declines_before_any_card_is_asked,
    wrong_gift_card_codes_are_limited_per_caller,
    a_card_authorization_is_renewed_before_it_lapses_and_a_declined_renewal_awaits_payment,
    lost_psp_replies_are_asked_again_and_signed_webhooks_bring_results_once,
    the_reconcile_finds_a_ledger_that_differs_from_the_psps_record,
    the_psps_record_outlives_a_payments_restart_and_nothing_moves_twice,
    store_credit_for_an_order_never_exceeds_what_it_paid,
);

const KEK: [u8; 32] = [42; 32];

/// A migrated payments database with an open vault and the sandbox PSP.
struct Fixture {
    state: State,
    /// The sandbox PSP behind `state`, to compare its own book with the ledger.
    psp: Arc<SandboxPsp>,
    _database: TestDatabase,
}

impl Fixture {
    async fn new(backend: Backend) -> anyhow::Result<Self> {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(MIGRATIONS).await?;
        let psp = Arc::new(SandboxPsp::new());
        let state = State::new(db, Arc::new(Notify::new()), Kek::from_bytes(KEK), psp.clone());
        assert_eq!(open_vault(&state.db, &state.kek).await?, 1);
        Ok(Self {
            state,
            psp,
            _database: database,
        })
    }

    /// A fixture whose PSP is the sandbox served over HTTP on a free port (as `omni psp-sandbox` serves it):
    /// `psp` is the server's own sandbox, whose book outlives any payments `State` built on the same database.
    async fn over_http(
        backend: Backend,
    ) -> anyhow::Result<(Self, String, tokio_util::sync::CancellationToken)> {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(MIGRATIONS).await?;
        let psp = Arc::new(SandboxPsp::new());
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(omni_payments::sandbox_server::serve(
            listener,
            psp.clone(),
            omni_payments::sandbox_server::faults::Faults::default(),
            stop.clone(),
        ));
        let http = Arc::new(omni_payments::http_psp::HttpPsp::new(&url)?);
        let state = State::new(db, Arc::new(Notify::new()), Kek::from_bytes(KEK), http);
        assert_eq!(open_vault(&state.db, &state.kek).await?, 1);
        let fx = Self {
            state,
            psp,
            _database: database,
        };
        Ok((fx, url, stop))
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection, &Kek) -> omni_payments::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let kek = self.state.kek.clone();
        Ok(self.state.db.transaction(move |conn| f(conn, &kek)).await?)
    }

    /// Tokenizes for the checkout payer every reserved order of these tests names.
    async fn tokenize(&self, number: &str) -> anyhow::Result<CardToken> {
        self.tokenize_for(number, checkout(), None).await
    }

    async fn tokenize_for(
        &self,
        number: &str,
        owner: Payer,
        customer: Option<CustomerId>,
    ) -> anyhow::Result<CardToken> {
        let card = card(number)?;
        self.with(move |conn, kek| vault::tokenize(conn, kek, &card, &owner, customer.as_ref()))
            .await
    }

    /// Detokenizes a payment-method reference for an order of the checkout payer.
    async fn detokenize(&self, reference: &str, order_id: OrderId) -> anyhow::Result<Detokenized> {
        let reference = reference.to_owned();
        self.with(move |conn, kek| {
            let payer = checkout();
            let purpose = Purpose::Authorize {
                order_id,
                payer: &payer,
                customer: None,
            };
            vault::detokenize(conn, kek, &reference, purpose)
        })
        .await
    }

    async fn intents(&self, order_id: OrderId) -> anyhow::Result<Vec<PaymentIntent>> {
        self.with(move |conn, _| intents::for_order(conn, order_id)).await
    }

    /// Every event waiting in the outbox, as (type, body).
    async fn outbox(&self) -> anyhow::Result<Vec<(String, String)>> {
        let pending = self
            .with(|conn, _| Ok(omni_db::outbox::pending(conn, 1_000)?))
            .await?;
        Ok(pending
            .into_iter()
            .map(|m| {
                let kind = m
                    .header_pairs()
                    .into_iter()
                    .find(|(k, _)| k == "ce_type")
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                (kind, m.body)
            })
            .collect())
    }

    async fn audit(&self) -> anyhow::Result<Vec<omni_db::audit::AuditEntry>> {
        self.with(|conn, _| Ok(omni_db::audit::recent(conn, 1_000)?))
            .await
    }
}

fn card(number: &str) -> anyhow::Result<Card> {
    let request = TokenizeCard {
        number: number.into(),
        exp_month: 12,
        exp_year: next_year(),
        cvc: Some("123".into()),
        customer_id: None,
    };
    Ok(Card::from_request(&request, Utc::now().date_naive())?)
}

fn next_year() -> u16 {
    u16::try_from(Utc::now().year() + 1).unwrap_or(2100)
}

/// A reserved-order event builder.
fn reserved(tenders: Vec<PaymentMethod>) -> anyhow::Result<OrderReserved> {
    Ok(OrderReserved {
        order_id: OrderId::generate(),
        reservation_id: ReservationId::generate(),
        location_id: LocationId::parse("STORE-001")?,
        amount: Money {
            amount_minor: 4_999,
            currency: Currency::parse("EUR")?,
        },
        tenders,
        payer: checkout(),
        customer_id: None,
    })
}

/// The payer of the reserved orders these tests build.
fn checkout() -> Payer {
    Payer::principal("checkout")
}

fn card_tender(token: &CardToken) -> PaymentMethod {
    PaymentMethod::Card {
        reference: token.reference.clone(),
        card: None,
        amount_minor: None,
    }
}

async fn a_tokenized_card_is_stored_encrypted_and_detokenizes_back_with_an_audit_entry(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let token = fx.tokenize("4242 4242 4242 4242").await?;
    assert!(is_token(&token.token), "{}", token.token);
    assert_eq!(
        (token.brand.as_str(), token.first6.as_str(), token.last4.as_str()),
        ("visa", "424242", "4242")
    );
    assert_eq!((token.exp_month, token.exp_year), (12, next_year()));

    let again = fx.tokenize(APPROVE).await?;
    assert_ne!(
        again.token, token.token,
        "a token is never derived from the card number"
    );

    let stored: Vec<(String, String, String, String, String, String)> = fx
        .with(|conn, _| {
            Ok(vault_cards::table
                .select((
                    vault_cards::token,
                    vault_cards::nonce,
                    vault_cards::ciphertext,
                    vault_cards::brand,
                    vault_cards::first6,
                    vault_cards::last4,
                ))
                .load(conn)?)
        })
        .await?;
    assert_eq!(stored.len(), 2);
    for row in &stored {
        let all = format!("{row:?}");
        assert!(!all.contains(APPROVE), "the number is stored in clear: {all}");
        assert!(!all.contains("123\""), "something CVC-like is stored: {all}");
    }

    let order_id = OrderId::generate();
    let Detokenized::Card(opened, shown) = fx.detokenize(&token.reference, order_id).await? else {
        anyhow::bail!("the token did not detokenize");
    };
    assert_eq!(opened.pan.expose(), APPROVE);
    assert_eq!((opened.expiry.month(), opened.expiry.year()), (12, next_year()));
    assert_eq!((shown.brand.as_str(), shown.last4.as_str()), ("visa", "4242"));

    assert!(matches!(
        fx.detokenize("pm_aaaaaaaaaaaaaaaaaaaaaaaa", order_id).await?,
        Detokenized::Unknown
    ));
    assert!(matches!(
        fx.detokenize(APPROVE, order_id).await?,
        Detokenized::Unknown
    ));

    let audit = fx.audit().await?;
    let detokenizations: Vec<_> = audit.iter().filter(|e| e.action == DETOKENIZE_ACTION).collect();
    assert_eq!(detokenizations.len(), 3);
    assert!(
        detokenizations
            .iter()
            .all(|e| e.principal == DETOKENIZE_PRINCIPAL)
    );
    assert!(
        detokenizations
            .iter()
            .any(|e| e.subject == token.reference && e.detail.contains("\"found\""))
    );
    assert!(
        detokenizations
            .iter()
            .any(|e| e.subject == "[malformed reference]")
    );
    for entry in &audit {
        assert!(
            !format!("{entry:?}").contains(APPROVE) && !format!("{entry:?}").contains(&token.token),
            "the audit log holds a card number or a token: {entry:?}"
        );
    }
    Ok(())
}

async fn cards_sealed_before_a_rotation_still_detokenize_and_new_cards_use_the_new_key(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let old = fx.tokenize(DECLINE).await?;
    let old_token = old.token.clone();
    assert_eq!(
        fx.with(move |conn, _| vault::key_version(conn, &old_token))
            .await?,
        Some(1)
    );

    let rotation = fx.with(data_keys::rotate).await?;
    assert_eq!(
        (rotation.version, rotation.retired.as_slice()),
        (2, [1].as_slice())
    );

    let new = fx.tokenize(APPROVE).await?;
    let new_token = new.token.clone();
    assert_eq!(
        fx.with(move |conn, _| vault::key_version(conn, &new_token))
            .await?,
        Some(2)
    );

    let rotation = fx.with(data_keys::rotate).await?;
    assert_eq!(
        (rotation.version, rotation.retired.as_slice()),
        (3, [2].as_slice())
    );
    let keys = fx.with(|conn, _| data_keys::list(conn)).await?;
    let active: Vec<i32> = keys.iter().filter(|k| !k.retired).map(|k| k.version).collect();
    assert_eq!(active, [3], "exactly one data key is active");
    assert!(keys.iter().filter(|k| k.retired).all(|k| k.retired_at.is_some()));

    for (token, number) in [(&old.reference, DECLINE), (&new.reference, APPROVE)] {
        let Detokenized::Card(opened, _) = fx.detokenize(token, OrderId::generate()).await? else {
            anyhow::bail!("{token} sealed under a retired key no longer detokenizes");
        };
        assert_eq!(opened.pan.expose(), number);
    }
    assert_eq!(
        open_vault(&fx.state.db, &fx.state.kek).await?,
        3,
        "a restart keeps the active key"
    );
    Ok(())
}

async fn a_vault_opened_with_another_kek_refuses_to_start(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    fx.tokenize(APPROVE).await?;
    let other = Arc::new(Kek::from_bytes([7; 32]));
    match open_vault(&fx.state.db, &other).await {
        Err(Error::Crypto(e)) => assert!(e.to_string().contains("version 1"), "{e}"),
        other => anyhow::bail!("expected a KEK mismatch, got {other:?}"),
    }
    Ok(())
}

async fn an_order_is_authorized_once_however_often_its_reservation_arrives(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let token = fx.tokenize(APPROVE).await?;
    let order = reserved(vec![card_tender(&token)])?;

    let Outcome::Decided(intent) = authorize_order(&fx.state, "event-1", order.clone()).await? else {
        anyhow::bail!("the first delivery must decide the order");
    };
    assert_eq!(intent.status, IntentStatus::Authorized);
    assert!(
        intent
            .psp_reference
            .as_deref()
            .is_some_and(|r| r.starts_with("sandbox_auth_")),
        "{intent:?}"
    );
    assert_eq!(intent.amount, order.amount);

    assert_eq!(
        authorize_order(&fx.state, "event-1", order.clone()).await?,
        Outcome::AlreadyDecided
    );
    assert_eq!(
        authorize_order(&fx.state, "event-2", order.clone()).await?,
        Outcome::AlreadyDecided
    );

    assert_eq!(fx.intents(order.order_id).await?, vec![intent.clone()]);
    let events = fx.outbox().await?;
    assert_eq!(events.len(), 1, "exactly one event per order: {events:?}");
    let (kind, body) = &events[0];
    assert_eq!(kind, "omni.payment.authorized");
    assert!(
        body.contains(&intent.id.to_string()) && body.contains(&order.order_id.to_string()),
        "{body}"
    );
    assert!(
        !body.contains(APPROVE) && !body.contains("424242"),
        "card data in an event: {body}"
    );

    let detokenizations = fx
        .audit()
        .await?
        .into_iter()
        .filter(|e| e.action == DETOKENIZE_ACTION)
        .count();
    assert_eq!(detokenizations, 1, "a decided order is not detokenized again");
    Ok(())
}

async fn declined_cards_and_unknown_tokens_decline_the_order_with_a_safe_reason(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let approve = fx.tokenize(APPROVE).await?;
    let cases = [
        (vec![card_tender(&fx.tokenize(DECLINE).await?)], "card_declined"),
        (
            vec![card_tender(&fx.tokenize(INSUFFICIENT_FUNDS).await?)],
            "insufficient_funds",
        ),
        (
            vec![PaymentMethod::Card {
                reference: "pm_zzzzzzzzzzzzzzzzzzzzzzzz".into(),
                card: None,
                amount_minor: None,
            }],
            "unknown card token",
        ),
        (
            vec![PaymentMethod::Card {
                reference: APPROVE.into(),
                card: None,
                amount_minor: None,
            }],
            "unknown card token",
        ),
        (
            vec![
                card_tender(&approve).with_amount(2_000),
                card_tender(&fx.tokenize(DECLINE).await?),
            ],
            "card_declined",
        ),
        (vec![], "order has no tender"),
    ];
    for (i, (tenders, reason)) in cases.into_iter().enumerate() {
        let order = reserved(tenders)?;
        let Outcome::Decided(intent) =
            authorize_order(&fx.state, &format!("event-{i}"), order.clone()).await?
        else {
            anyhow::bail!("case {i} was not decided");
        };
        assert_eq!(intent.status, IntentStatus::Declined, "case {i}");
        assert_eq!(intent.decline_reason.as_deref(), Some(reason), "case {i}");
        assert_eq!(intent.psp_reference, None, "case {i}");
        let stored = fx.intents(order.order_id).await?;
        assert_eq!(stored, vec![intent], "case {i}");
        assert!(
            !format!("{stored:?}").contains(APPROVE),
            "case {i}: a card number was kept on the intent"
        );
    }
    let events = fx.outbox().await?;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "omni.payment.declined",
            "omni.payment.declined",
            "omni.payment.declined",
            "omni.payment.declined",
            "omni.payment.declined",
            // The second card declined: the first card's 2,000 are released.
            "omni.payment.voided",
            "omni.payment.declined",
        ]
    );
    for (_, body) in &events {
        assert!(
            ![APPROVE, DECLINE, INSUFFICIENT_FUNDS, "424242", "400000"]
                .iter()
                .any(|number| body.contains(number)),
            "card data beyond the last four in an event: {body}"
        );
    }
    Ok(())
}

/// A token is not cash: the card behind it pays only orders its owner placed (and, when it was tokenized for a
/// customer, that customer's), and a refused card is never opened.
async fn a_card_pays_only_orders_of_whoever_tokenized_it(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let partner_a = Payer::partner(&omni_contracts::PartnerId::parse("partner-a")?);
    let theirs = fx.tokenize_for(APPROVE, partner_a.clone(), None).await?;
    let alice = CustomerId::parse("alice")?;
    let alices = fx.tokenize_for(APPROVE, checkout(), Some(alice.clone())).await?;
    let before = fx.audit().await?.len();

    let stolen = reserved(vec![card_tender(&theirs)])?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "stolen", stolen).await? else {
        anyhow::bail!("the order was not decided");
    };
    assert_eq!(intent.status, IntentStatus::Declined);
    assert_eq!(
        intent.decline_reason.as_deref(),
        Some(omni_payments::domain::intent::NOT_THE_PAYERS)
    );
    let for_bob = OrderReserved {
        customer_id: Some(CustomerId::parse("bob")?),
        ..reserved(vec![card_tender(&alices)])?
    };
    let Outcome::Decided(intent) = authorize_order(&fx.state, "bob", for_bob).await? else {
        anyhow::bail!("the order was not decided");
    };
    assert_eq!(intent.status, IntentStatus::Declined, "another customer's card");
    let refused: Vec<_> = fx.audit().await?.into_iter().skip(before).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|e| e.detail.contains("not_the_payers")),
        "{refused:?}"
    );

    let own = OrderReserved {
        payer: partner_a,
        ..reserved(vec![card_tender(&theirs)])?
    };
    let Outcome::Decided(intent) = authorize_order(&fx.state, "own", own).await? else {
        anyhow::bail!("the order was not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized, "{intent:?}");
    let for_alice = OrderReserved {
        customer_id: Some(alice),
        ..reserved(vec![card_tender(&alices)])?
    };
    let Outcome::Decided(intent) = authorize_order(&fx.state, "alice", for_alice).await? else {
        anyhow::bail!("the order was not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized, "{intent:?}");
    let (_, body) = fx.outbox().await?.pop().context("no event")?;
    assert!(
        body.contains(&alices.reference)
            && body.contains("\"last4\":\"4242\"")
            && !body.contains(&alices.token),
        "the event names the card by reference and summary, never by token: {body}"
    );
    Ok(())
}

async fn a_marketplace_prepaid_order_is_authorized_without_a_psp_call(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let order = reserved(vec![PaymentMethod::MarketplacePrepaid { amount_minor: None }])?;
    let Outcome::Decided(intent) = authorize_order(&fx.state, "event-1", order).await? else {
        anyhow::bail!("the order was not decided");
    };
    assert_eq!(intent.status, IntentStatus::Authorized);
    assert_eq!(intent.psp_reference.as_deref(), Some("marketplace_prepaid"));
    assert!(
        fx.audit().await?.iter().all(|e| e.action != DETOKENIZE_ACTION),
        "nothing to detokenize"
    );
    assert_eq!(fx.outbox().await?.len(), 1);
    Ok(())
}

async fn an_order_whose_psp_call_fails_is_not_decided_until_the_retry_succeeds(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::new(backend).await?;
    let token = fx.tokenize(OUTAGE_ONCE).await?;
    let order = reserved(vec![card_tender(&token)])?;
    match authorize_order(&fx.state, "event-1", order.clone()).await {
        Err(Error::Psp(_)) => {}
        other => anyhow::bail!("expected a PSP outage, got {other:?}"),
    }
    // Started, not decided: the authorization is recorded as asked under its idempotency key, nothing announced.
    let started = fx.intents(order.order_id).await?;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].status, IntentStatus::Authorizing);
    let key = TenderKey {
        intent: started[0].id,
        tender: 0,
    };
    let money = fx.with(move |conn, _| tender_ledger::money(conn, key)).await?;
    assert_eq!((money.authorized.settled, money.authorized.pending), (0, 4_999));
    assert!(fx.outbox().await?.is_empty());

    let Outcome::Decided(intent) = authorize_order(&fx.state, "event-1", order.clone()).await? else {
        anyhow::bail!("the retry did not decide the order");
    };
    assert_eq!(intent.status, IntentStatus::Authorized);
    assert_eq!(intent.id, started[0].id);
    assert_eq!(fx.outbox().await?.len(), 1);
    let money = fx.with(move |conn, _| tender_ledger::money(conn, key)).await?;
    assert_eq!((money.authorized.settled, money.authorized.pending), (4_999, 0));
    Ok(())
}

fn api_key(key: &str, name: &str, roles: Vec<Role>) -> ApiKeySettings {
    ApiKeySettings {
        key: Secret::new(key),
        name: name.into(),
        roles,
        partner_id: None,
        locations: vec![],
        ..Default::default()
    }
}

async fn the_http_api_tokenizes_rotates_and_lists_without_ever_echoing_a_card_number(
    backend: Backend,
) -> anyhow::Result<()> {
    use actix_web::test::{TestRequest, call_service, init_service, read_body};

    let fx = Fixture::new(backend).await?;
    const CHECKOUT: &str = "Bearer checkout-key-000000001";
    const ADMIN: &str = "Bearer admin-key-0000000000001";
    let mut associate = api_key("checkout-key-000000001", "checkout", vec![Role::Associate]);
    associate.locations = vec!["STORE-1".into()];
    let keys = ApiKeys::from_settings(
        &AuthSettings {
            api_keys: vec![
                associate,
                api_key("admin-key-0000000000001", "ops-admin", vec![Role::Admin]),
            ],
            ..AuthSettings::default()
        },
        &[],
    )
    .map_err(anyhow::Error::msg)?;
    let state = fx.state.clone();
    let app = init_service(
        actix_web::App::new()
            .app_data(actix_web::web::Data::new(keys))
            .app_data(actix_web::web::Data::new(omni_http::authz::Table(
                omni_payments::routes::AUTHORIZATION,
            )))
            .wrap(actix_web::middleware::from_fn(omni_http::authz::enforce))
            .configure(move |cfg| omni_payments::routes::configure(cfg, state.clone())),
    )
    .await;
    let post =
        |key: &'static str, uri: &str| TestRequest::post().uri(uri).insert_header(("authorization", key));

    let body = serde_json::json!({ "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": next_year(), "cvc": "123" });
    let response = call_service(
        &app,
        post(CHECKOUT, "/v1/payments/tokens").set_json(&body).to_request(),
    )
    .await;
    assert_eq!(response.status(), 201);
    let token: CardToken = serde_json::from_slice(&read_body(response).await)?;
    assert!(is_token(&token.token) && token.last4 == "4242");

    let bad_bodies = [
        (
            serde_json::json!({ "number": 4242424242424242_u64, "exp_month": 12, "exp_year": next_year() }),
            400,
        ),
        (
            serde_json::json!({ "number": "4242424242424241", "exp_month": 12, "exp_year": next_year() }),
            422,
        ),
        (
            serde_json::json!({ "number": "4242424242424242", "exp_month": 12, "exp_year": 2001 }),
            422,
        ),
        (
            serde_json::json!({ "number": "4242424242424242", "exp_month": 12, "exp_year": next_year(), "cvc": 987 }),
            400,
        ),
    ];
    for (bad, status) in bad_bodies {
        let response = call_service(
            &app,
            post(CHECKOUT, "/v1/payments/tokens").set_json(&bad).to_request(),
        )
        .await;
        assert_eq!(response.status(), status, "{bad}");
        let text = String::from_utf8(read_body(response).await.to_vec())?;
        assert!(text.contains("\"code\""), "{text}");
        assert!(
            !text.contains("424242424242") && !text.contains("987"),
            "an error body echoes card data: {text}"
        );
    }
    let plain = post(CHECKOUT, "/v1/payments/tokens")
        .set_payload("4242424242424242")
        .to_request();
    assert_eq!(call_service(&app, plain).await.status(), 415);

    let response = call_service(&app, post(CHECKOUT, "/v1/payments/keys/rotate").to_request()).await;
    assert_eq!(response.status(), 403, "only admins rotate keys");
    let response = call_service(&app, post(ADMIN, "/v1/payments/keys/rotate").to_request()).await;
    assert_eq!(response.status(), 201);
    let rotation: serde_json::Value = serde_json::from_slice(&read_body(response).await)?;
    assert_eq!(rotation, serde_json::json!({ "version": 2, "retired": [1] }));
    let audit = fx.audit().await?;
    assert!(
        audit
            .iter()
            .any(|e| e.action == "payments.keys.rotated" && e.principal == "ops-admin"),
        "{audit:?}"
    );

    let order = reserved(vec![card_tender(&token)])?;
    authorize_order(&fx.state, "event-1", order.clone()).await?;
    let list = |key: &'static str| {
        TestRequest::get()
            .uri(&format!("/v1/payments/intents?order_id={}", order.order_id))
            .insert_header(("authorization", key))
            .to_request()
    };
    assert_eq!(call_service(&app, list(CHECKOUT)).await.status(), 403);
    let response = call_service(&app, list(ADMIN)).await;
    assert_eq!(response.status(), 200);
    let intents: Vec<PaymentIntent> = serde_json::from_slice(&read_body(response).await)?;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0].status, IntentStatus::Authorized);
    Ok(())
}

fn op(id: &str, kind: Kind, amount: i64, outcome: Option<bool>) -> Record {
    let (id, kind) = (id.to_owned(), kind);
    match outcome {
        None => Record::Requested { id, kind, amount },
        Some(true) => Record::Succeeded { id, kind, amount },
        Some(false) => Record::Failed { id, kind, amount },
    }
}

/// A tender's operations kept in the database (issue 22, the ledger groundwork): buckets follow the recorded
/// results, a request beyond what is left writes nothing, a duplicate changes nothing, and a result recorded before
/// its prerequisite waits (kept as `waiting`) until it is.
async fn a_tenders_money_is_kept_from_its_recorded_operations(backend: Backend) -> anyhow::Result<()> {
    let fixture = Fixture::new(backend).await?;
    let key = TenderKey {
        intent: PaymentIntentId::generate(),
        tender: 0,
    };
    let outcomes = fixture
        .with(move |conn, _| {
            let mut outcomes = Vec::new();
            for record in [
                op("auth", Kind::Authorize, 1000, None),
                op("auth", Kind::Authorize, 1000, Some(true)),
                op("cap-1", Kind::Capture, 600, None),
                op("cap-1", Kind::Capture, 600, Some(true)),
                op("cap-1", Kind::Capture, 600, Some(true)),
                op("cap-2", Kind::Capture, 500, None),
                op("ref-1", Kind::Refund, 200, None),
                op("ref-1", Kind::Refund, 200, Some(false)),
            ] {
                outcomes.push(tender_ledger::record(conn, key, record)?);
            }
            Ok(outcomes)
        })
        .await?;
    assert_eq!(
        outcomes,
        [
            Ok(Recorded::Applied),
            Ok(Recorded::Applied),
            Ok(Recorded::Applied),
            Ok(Recorded::Applied),
            Ok(Recorded::Duplicate),
            Err(Refusal::OverCapture {
                asked: 500,
                left: 400
            }),
            Ok(Recorded::Applied),
            Ok(Recorded::Applied),
        ]
    );
    let money = fixture
        .with(move |conn, _| tender_ledger::money(conn, key))
        .await?;
    assert_eq!(
        (
            money.authorized.settled,
            money.captured.settled,
            money.refunded.settled,
            money.refunded.pending
        ),
        (1000, 600, 0, 0)
    );

    // Out of order: another tender's capture is recorded before its authorization.
    let other = TenderKey { tender: 1, ..key };
    let (first, then, states) = fixture
        .with(move |conn, _| {
            let first = tender_ledger::record(conn, other, op("cap", Kind::Capture, 300, Some(true)))?;
            let waiting = tender_ledger::money(conn, other)?;
            let then = tender_ledger::record(conn, other, op("auth-2", Kind::Authorize, 300, Some(true)))?;
            let states: Vec<(String, String)> = tender_operations::table
                .filter(tender_operations::tender.eq(1))
                .order(tender_operations::seq.asc())
                .select((tender_operations::id, tender_operations::state))
                .load(conn)?;
            Ok(((first, waiting), then, states))
        })
        .await?;
    assert_eq!(first.0, Ok(Recorded::Waiting));
    assert_eq!(
        first.1,
        TenderMoney::default(),
        "nothing shows before it is consistent"
    );
    assert_eq!(then, Ok(Recorded::Applied));
    assert_eq!(
        states,
        [
            ("cap".to_owned(), "succeeded".to_owned()),
            ("auth-2".to_owned(), "succeeded".to_owned())
        ]
    );
    let money = fixture
        .with(move |conn, _| tender_ledger::money(conn, other))
        .await?;
    assert_eq!((money.authorized.settled, money.captured.settled), (300, 300));
    Ok(())
}

/// The buckets' invariants hold in the database itself, whatever code writes them.
async fn the_database_refuses_money_that_breaks_the_invariants(backend: Backend) -> anyhow::Result<()> {
    let fixture = Fixture::new(backend).await?;
    let key = TenderKey {
        intent: PaymentIntentId::generate(),
        tender: 0,
    };
    let recorded = fixture
        .with(move |conn, _| {
            Ok([
                tender_ledger::record(conn, key, op("auth", Kind::Authorize, 1000, Some(true)))?,
                tender_ledger::record(conn, key, op("cap", Kind::Capture, 400, Some(true)))?,
            ])
        })
        .await?;
    assert_eq!(recorded, [Ok(Recorded::Applied), Ok(Recorded::Applied)]);
    let id = key.intent.to_string();
    for (column, value) in [
        ("captured", 1001),
        ("captured_pending", 700),
        ("voided", 601),
        ("refunded", 401),
        ("refunded_pending", 401),
        ("authorized_pending", -1),
    ] {
        let (id, set) = (id.clone(), column.to_owned());
        let refused = fixture
            .state
            .db
            .transaction(move |conn| -> omni_payments::Result<()> {
                diesel::sql_query(format!(
                    "UPDATE tender_money SET {set} = {value} WHERE intent_id = '{id}'"
                ))
                .execute(conn)?;
                Ok(())
            })
            .await;
        assert!(refused.is_err(), "{backend:?}: {column} = {value} was accepted");
    }
    let money = fixture
        .with(move |conn, _| tender_ledger::money(conn, key))
        .await?;
    assert_eq!(
        (money.authorized.settled, money.captured.settled),
        (1000, 400),
        "nothing changed"
    );
    Ok(())
}

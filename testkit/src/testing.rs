//! Test helpers: settings with a known admin key, backends from the environment the test script sets up, and
//! polling without wall-clock assertions.

use std::time::Duration;

use omni_config::{ApiKeySettings, Role, Secret, Settings};

/// The admin key tests use.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// Default settings plus the test admin key.
pub fn settings() -> Settings {
    let mut settings =
        Settings::load_with(None, std::iter::empty()).unwrap_or_else(|e| panic!("defaults must load: {e}"));
    settings.auth.api_keys.push(ApiKeySettings {
        key: Secret::new(ADMIN_KEY),
        name: "test-admin".into(),
        roles: vec![Role::Admin],
        partner_id: None,
        locations: vec![],
        ..Default::default()
    });
    settings.payments.key_encryption_key = Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
    settings.orders.partners = TEST_PARTNERS
        .iter()
        .map(|(id, enabled)| {
            let mut partner = omni_config::PartnerSettings::new(*id, format!("{id} (test)"));
            partner.enabled = *enabled;
            // The demo's marketplace sells to VIPs (a published example names one); the others may not.
            if *id == DEMO_PARTNER {
                partner.allowed_tiers.push("vip".into());
            }
            partner
        })
        .collect();
    settings
}

/// The demo's marketplace (as `omni dev` registers it).
pub const DEMO_PARTNER: &str = "northwind-market";

/// The partners the test settings register: `(id, enabled)`. The demo's partner is among them, so the
/// published examples in `docs/schemas/examples/` are taken as they are.
pub const TEST_PARTNERS: &[(&str, bool)] = &[
    ("acme", true),
    ("acme-market", true),
    ("northwind-market", true),
    ("other-market", true),
    ("paused-market", false),
];

/// The real broker the test script started (`OMNI_TEST_KAFKA_BOOTSTRAP`).
pub fn kafka_bootstrap() -> Option<String> {
    std::env::var("OMNI_TEST_KAFKA_BOOTSTRAP")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The Redis the test script started (`OMNI_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
pub fn redis_url() -> String {
    std::env::var("OMNI_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("omni-test-{}", uuid::Uuid::new_v4().simple())
}

pub use omni::wait::eventually;

/// Gives the settings their own topic names and consumer groups, so meshes of parallel tests sharing one
/// broker never see each other's messages.
pub fn isolate_kafka(settings: &mut Settings) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run = &run[..12];
    settings.kafka.group_prefix = format!("omni-test-{run}");
    for topic in omni_contracts::Topic::ALL {
        settings
            .kafka
            .topics
            .insert(topic.key().to_owned(), format!("{}.{run}", topic.default_name()));
    }
}

/// A Redis key namespace for one test; its keys are deleted when it is dropped, so the shared Redis does not
/// fill up with test data.
#[derive(Debug)]
pub struct RedisNamespace {
    /// The Redis URL.
    pub url: String,
    /// The key prefix (pass it as the hold store's prefix).
    pub prefix: String,
}

impl RedisNamespace {
    /// A fresh prefix on the test Redis.
    pub fn new() -> Self {
        Self {
            url: redis_url(),
            prefix: unique_prefix(),
        }
    }
}

impl Default for RedisNamespace {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RedisNamespace {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}

/// Everything a mesh on the real backends needs for one test: its own database, Redis namespace, topics and
/// consumer groups. Keep it alive for the test; dropping it cleans up.
#[derive(Debug)]
pub struct RealBackends {
    /// Options for [`crate::Mesh::start`] (all six services; change `services` to run fewer).
    pub options: crate::MeshOptions,
    /// The test's database.
    pub database: omni_db::testing::TestDatabase,
    /// The test's Redis keys.
    pub redis: RedisNamespace,
}

impl RealBackends {
    /// Backends from the environment the test script prepared (`OMNI_TEST_*`), with `settings`.
    pub fn new(mut settings: Settings) -> anyhow::Result<Self> {
        let bootstrap = kafka_bootstrap().ok_or_else(|| {
            anyhow::anyhow!("OMNI_TEST_KAFKA_BOOTSTRAP is not set: run the suite with scripts/test.sh")
        })?;
        let database = omni_db::testing::TestDatabase::create(omni_db::testing::Backend::Postgres)?;
        let redis = RedisNamespace::new();
        isolate_kafka(&mut settings);
        let options = crate::MeshOptions {
            settings,
            kafka: crate::KafkaBackend::External(bootstrap),
            db: crate::DbBackend::Postgres(database.url.clone()),
            holds: crate::HoldsBackend::Redis {
                url: redis.url.clone(),
                prefix: redis.prefix.clone(),
            },
            ephemeral_ports: true,
            services: omni_config::Service::ALL.to_vec(),
        };
        Ok(Self {
            options,
            database,
            redis,
        })
    }
}

/// Tokenizes an approved sandbox card with payments running alone on `options`' backends, then stops it: for
/// tests that keep payments down while orders are held.
pub async fn token_from_payments_alone(options: &crate::MeshOptions) -> anyhow::Result<String> {
    let payments = crate::Mesh::start(crate::MeshOptions {
        services: vec![crate::Service::Payments],
        ..options.clone()
    })
    .await?;
    let tokenized = tokenize(&payments.client(crate::Service::Payments, ADMIN_KEY)).await;
    payments.stop().await?;
    Ok(tokenized?.token)
}

/// A sandbox card as tokenized for one caller.
#[derive(Debug, Clone)]
pub struct Tokenized {
    /// The vault token (pays only the caller's orders).
    pub token: String,
    /// The payment-method reference orders show for it.
    pub reference: String,
}

/// Tokenizes the sandbox's approved Visa (4242 4242 4242 4242) as `payments`' caller; an error unless 201.
pub async fn tokenize(payments: &crate::Client) -> anyhow::Result<Tokenized> {
    let answer = payments
        .post(
            "/v1/payments/tokens",
            &serde_json::json!({ "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031 }),
            &[],
        )
        .await?;
    let field = |name: &str| {
        answer.body[name]
            .as_str()
            .map(str::to_owned)
            .filter(|_| answer.status == 201)
            .ok_or_else(|| anyhow::anyhow!("tokenization answered {}: {}", answer.status, answer.body))
    };
    Ok(Tokenized {
        token: field("token")?,
        reference: field("reference")?,
    })
}

/// Waits up to `limit` until routing (fulfillment's view of the stock, fed by allocation's events) shows `atp` units
/// of `sku` at its first node: until then an order for it fails as one no node can serve.
pub async fn until_routing_sees(
    fulfillment: &crate::Client,
    sku: &str,
    atp: i64,
    limit: Duration,
) -> anyhow::Result<()> {
    eventually("routing to see the stock", limit, || async {
        Ok((fulfillment.get(&format!("/v1/stock/{sku}")).await?.body[0]["atp"] == atp).then_some(()))
    })
    .await
}

/// Records a receipt at allocation, retrying while allocation has not yet learned the location or SKU from the
/// catalog topic.
pub async fn receive_stock(
    allocation: &crate::Client,
    location: &str,
    sku: &str,
    units: i64,
) -> anyhow::Result<()> {
    let receipt = serde_json::json!({
        "event_id": uuid::Uuid::now_v7(), "location_id": location, "sku": sku, "kind": "receipt", "quantity": units,
    });
    eventually(
        "allocation to take the receipt",
        Duration::from_secs(30),
        || async {
            let answer = allocation.post("/v1/inventory/movements", &receipt, &[]).await?;
            match answer.status {
                200 | 201 => Ok(Some(())),
                422 => Ok(None),
                other => anyhow::bail!("receipt answered {other}: {}", answer.body),
            }
        },
    )
    .await
}

/// Every service on embedded backends (SQLite files in a fresh temporary folder), on ephemeral loopback ports.
pub fn embedded_options(settings: Settings) -> crate::MeshOptions {
    let dir = std::env::temp_dir().join(format!("omni-test-{}", uuid::Uuid::new_v4().simple()));
    crate::MeshOptions {
        ephemeral_ports: true,
        ..crate::MeshOptions::embedded(settings, dir)
    }
}

/// A fresh random id of letters only (a v4 uuid's hex with its digits turned into `g`..`p`). A hex id holds a run of
/// 15 or more digits passing the Luhn check about once in 1,500: Omni refuses such keys and ids as card numbers, masks
/// them in dead-letter copies, and the leak sweep reports them. Tests use this where an id is stored or sent.
pub fn letters_id() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .bytes()
        .map(|b| {
            if b.is_ascii_digit() {
                char::from(b'g' + (b - b'0'))
            } else {
                char::from(b)
            }
        })
        .collect()
}

/// Runs `test` on a mesh of its own on the real backends (see [`RealBackends`]), stopped whatever it answered.
pub async fn on_real_backends(
    settings: omni_config::Settings,
    test: impl AsyncFnOnce(&crate::Mesh) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let backends = RealBackends::new(settings)?;
    on_mesh(backends.options.clone(), test).await
}

/// Starts a mesh, runs `test` on it, and stops the mesh whatever `test` answered; the test's error comes first.
pub async fn on_mesh(
    options: crate::MeshOptions,
    test: impl AsyncFnOnce(&crate::Mesh) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mesh = crate::Mesh::start(options).await?;
    let outcome = test(&mesh).await;
    let stopped = mesh.stop().await;
    outcome.and(stopped)
}

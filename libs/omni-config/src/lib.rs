//! Layered settings for every Omni service: built-in defaults, then an optional file, then `OMNI__…` variables.
//!
//! Settings are typed and passed explicitly; nothing reads a global. [`Settings::load`] fails with an
//! [`Error`] that names the offending key, before any port is bound; the binary turns it into exit code 64.

mod secret;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use secret::Secret;

/// One of the six services. Its [`name`](Service::name) keys its settings (`http.ports.<name>`,
/// `database.urls.<name>`) and names its metrics, schema and consumer groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Products and locations.
    Catalog,
    /// The inventory ledger, holds and availability.
    Allocation,
    /// Intake, the order saga and its read model.
    Orders,
    /// Routing and dispatch.
    Fulfillment,
    /// The card vault and authorizations.
    Payments,
    /// Returns.
    Returns,
}

impl Service {
    /// The six, in their documented port order.
    pub const ALL: [Service; 6] = [
        Service::Catalog,
        Service::Allocation,
        Service::Orders,
        Service::Fulfillment,
        Service::Payments,
        Service::Returns,
    ];

    /// Its name: `catalog`, `allocation`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Service::Catalog => "catalog",
            Service::Allocation => "allocation",
            Service::Orders => "orders",
            Service::Fulfillment => "fulfillment",
            Service::Payments => "payments",
            Service::Returns => "returns",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// A name that is none of the six services.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service `{0}`; one of catalog, allocation, orders, fulfillment, payments, returns")]
pub struct UnknownService(pub String);

impl std::str::FromStr for Service {
    type Err = UnknownService;

    fn from_str(name: &str) -> std::result::Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| UnknownService(name.to_owned()))
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer could not be read or a value has the wrong type; the message names the key.
    #[error("invalid configuration: {0}")]
    Load(#[source] config::ConfigError),
    /// A value parsed but is not acceptable.
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid {
        /// The dotted key, e.g. `http.ports.orders`.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every setting of every service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP listeners.
    pub http: HttpSettings,
    /// Kafka connection and topic names.
    pub kafka: KafkaSettings,
    /// Redis for hot reservations.
    pub redis: RedisSettings,
    /// PostgreSQL (or SQLite in dev).
    pub database: DatabaseSettings,
    /// Logs, traces, metrics.
    pub telemetry: TelemetrySettings,
    /// API keys and the principals they stand for.
    pub auth: AuthSettings,
    /// The token vault and PSP.
    pub payments: PaymentsSettings,
    /// The transactional outbox relay.
    pub outbox: OutboxSettings,
    /// Reservation defaults.
    pub reservations: ReservationSettings,
    /// Buffer and segment policies.
    pub policies: PolicySettings,
    /// Order intake and the saga.
    pub orders: OrdersSettings,
    /// Store tasks.
    pub fulfillment: FulfillmentSettings,
    /// The return policy.
    pub returns: ReturnsSettings,
}

/// The return policy (DESIGN §7): each order keeps a snapshot of it taken when it was placed, so a change here
/// applies to orders placed after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnsSettings {
    /// Days after delivery an order may be returned.
    pub window_days: u32,
    /// Other windows for some channels (`web`, `app`, `pos`, `social`, `marketplace`).
    #[serde(default)]
    pub channel_window_days: std::collections::BTreeMap<String, u32>,
    /// SKU tags (from the catalog) that make an item final sale: never returnable.
    #[serde(default)]
    pub final_sale_tags: Vec<String>,
    /// Days past the return window in which a return is not declined but waits for a store manager's decision.
    #[serde(default)]
    pub manager_grace_days: u32,
    /// A return whose refund would exceed this (minor units) waits for a store manager's decision (0: never).
    #[serde(default)]
    pub manager_approval_above_minor: i64,
    /// Wrong return codes counted per order within `code_lockout_seconds` before its code is refused (429).
    pub code_attempts_per_order: u32,
    /// Wrong return codes counted per client address within `code_lockout_seconds` before it is refused (429).
    pub code_attempts_per_client: u32,
    /// The window wrong return codes count in.
    pub code_lockout_seconds: u64,
    /// Seconds an approved return waits for its items (sent by mail, or to be brought to a store) before it
    /// expires and its units can be returned again.
    pub items_within_seconds: u64,
}

/// Most times routing may split one order (`fulfillment.routing.max_splits`).
pub const MAX_SPLITS: u32 = 4;

/// Store tasks: the work a node does for a released order, with its deadlines per kind of node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentSettings {
    /// Wrong pickup codes tried for one task before more tries are refused (for `pickup_code_lockout_seconds`).
    pub pickup_code_attempts_per_task: u32,
    /// Wrong pickup codes tried from one client address, across tasks, before more tries are refused.
    pub pickup_code_attempts_per_client: u32,
    /// How far back wrong pickup codes count.
    pub pickup_code_lockout_seconds: u32,
    /// Deadlines at stores.
    pub store: TaskWindows,
    /// Deadlines at warehouses.
    pub warehouse: TaskWindows,
    /// What routing weighs.
    pub routing: RoutingSettings,
}

/// Routing's cost model: every term in minor units of the order's currency.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// Shipping one part of an order one km.
    pub cost_per_km: f64,
    /// Each node after the first that serves one order (another parcel, another pick).
    pub split_penalty: f64,
    /// A node's whole day of pick capacity: a part costs its share of it, with what the node has today.
    pub full_day_cost: f64,
    /// Each hour an order is expected to be late for its promise.
    pub late_hour_cost: f64,
    /// How far a parcel travels in an hour (deadline risk of shipping).
    pub transit_km_per_hour: f64,
    /// How many times one shipped order may be split: at most `max_splits + 1` nodes serve it (0: never).
    pub max_splits: u32,
    /// The share of a node's daily pick capacity kept for urgent orders, in percent.
    pub urgent_reserve_percent: u32,
    /// An order promised within this many seconds is urgent.
    pub urgent_within_seconds: u32,
}

/// A store task's deadlines at one kind of node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskWindows {
    /// How long the node has to accept a released order's task before the order is routed elsewhere.
    pub accept_within_seconds: u32,
    /// From release to shipped or ready for pickup, for an order that names no promise (`promise_by`).
    pub ready_within_seconds: u32,
    /// From ready for pickup to uncollected (stock back on sale, the order cancelled).
    pub pickup_window_seconds: u32,
    /// How long before the pickup window closes the customer is reminded (0: never).
    pub pickup_reminder_before_seconds: u32,
    /// Curbside: from the customer's arrival to the hand-over at the car before it is an SLA breach.
    pub curbside_handover_seconds: u32,
}

/// HTTP listeners.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to bind; `127.0.0.1` by default, `0.0.0.0` in a container.
    pub host: String,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// How long in-flight work may take to finish on shutdown.
    pub shutdown_grace_seconds: u64,
    /// Port per service.
    pub ports: BTreeMap<String, u16>,
    /// Addresses of the proxies in front of the services (an ingress, a load balancer): from them, a client's
    /// address is read from `X-Forwarded-For`; from anyone else the header is ignored. Empty: the peer's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl HttpSettings {
    /// The configured port of a service.
    pub fn port(&self, service: Service) -> u16 {
        self.ports.get(service.name()).copied().unwrap_or(0)
    }
}

/// Kafka connection and topic names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// `host:port,...`; empty selects the embedded broker in dev mode.
    pub bootstrap_servers: String,
    /// Consumer groups are `<prefix>.<service>`.
    pub group_prefix: String,
    /// Bounds end-to-end latency: no broker answers a waiting fetch early.
    pub fetch_wait_max_ms: u32,
    /// Producer batching delay.
    pub linger_ms: u32,
    /// Extra librdkafka properties (SASL, TLS, ...). Values are secrets: never printed.
    pub properties: BTreeMap<String, Secret>,
    /// Physical topic name overrides by logical key (`orders`, `inventory`, ...).
    pub topics: BTreeMap<String, String>,
    /// How consumers retry a message that failed.
    pub retry: RetrySettings,
}

/// How a consumer retries a message its handler failed on: capped exponential backoff; a message that failed for
/// a reason of its own is dead-lettered after `max_attempts` tries (one whose dependency is down waits for it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Tries before a failing message is parked in its DLQ.
    pub max_attempts: u32,
    /// The first wait, in milliseconds; it doubles after each failure.
    pub initial_backoff_ms: u64,
    /// The longest wait, in milliseconds.
    pub max_backoff_ms: u64,
}

/// Redis for hot reservations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`; empty selects the in-memory store in dev mode.
    pub url: Secret,
    /// Prefix of every key (several deployments or tests can share one Redis).
    pub key_prefix: String,
    /// Redis Cluster: `url` lists seed nodes, comma-separated.
    pub cluster: bool,
    /// PEM CA certificates to trust for `rediss://`; empty: the system's roots.
    pub ca_file: String,
}

/// Databases.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Shared PostgreSQL URL; each service then uses its own schema. Empty selects SQLite in dev mode.
    pub url: Secret,
    /// Per-service URL overrides, e.g. `database.urls.orders`.
    pub urls: BTreeMap<String, Secret>,
    /// Where dev mode keeps its SQLite files and generated keys.
    pub data_dir: String,
    /// Connections per service pool.
    pub pool_size: u32,
}

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Logs, traces, metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Log format.
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info,omni_orders=debug`.
    pub level: String,
    /// OTLP/HTTP endpoint (e.g. `http://127.0.0.1:4318`); empty disables export.
    pub otlp_endpoint: String,
}

/// A role a principal may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A partner marketplace: its own orders only.
    Partner,
    /// A store associate: their stores only.
    Associate,
    /// A store manager (their stores, when the key names some) or a merchandising manager (every store).
    Manager,
    /// Reads the audit trail and what it refers to; changes nothing.
    Auditor,
    /// Everything.
    Admin,
    /// Another Omni service (a checkout, the mesh itself): every object its service holds.
    Service,
}

/// One API key and the principal it stands for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// The key as sent in `Authorization: Bearer <key>` (development: hashed at start and never kept). A
    /// production settings file, and any keys file, hold `key_sha256` instead.
    #[serde(default)]
    pub key: Secret,
    /// The SHA-256 of the key, 64 hex digits (`printf %s "$KEY" | sha256sum`).
    #[serde(default)]
    pub key_sha256: Option<String>,
    /// When the key stops being accepted (RFC 3339), for rotation: the old key's last moment.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// A revoked key is refused at once (kept in the file to say so).
    #[serde(default)]
    pub revoked: bool,
    /// The principal's name, used in audit entries.
    pub name: String,
    /// What it may do.
    pub roles: Vec<Role>,
    /// For partners: the partner it is.
    #[serde(default)]
    pub partner_id: Option<String>,
    /// For associates (required) and store managers: the stores they work at.
    #[serde(default)]
    pub locations: Vec<String>,
}

impl ApiKeySettings {
    /// Why the key's scope is ambiguous, if it is: a partner key is a partner and nothing else, an associate
    /// works at named stores, and only associates and managers are scoped to stores.
    pub fn scope_problem(&self) -> std::result::Result<(), &'static str> {
        let partner = self.roles.contains(&Role::Partner);
        if partner && (self.roles.len() > 1 || self.partner_id.is_none()) {
            return Err("a partner key holds the partner role alone and names its `partner_id`");
        }
        if !partner && self.partner_id.is_some() {
            return Err("only a partner key names a `partner_id`");
        }
        if self.roles.contains(&Role::Associate) && self.locations.is_empty() {
            return Err("an associate key names the stores it works at (`locations`)");
        }
        let store_roles_only = self
            .roles
            .iter()
            .all(|r| matches!(r, Role::Associate | Role::Manager));
        if !self.locations.is_empty() && !store_roles_only {
            return Err("only associate and manager keys are scoped to stores (`locations`)");
        }
        Ok(())
    }
}

/// API keys and OIDC bearer tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Keys from the settings.
    pub api_keys: Vec<ApiKeySettings>,
    /// A TOML file of more keys (`[[api_keys]]` as above, by `key_sha256` only), such as a mounted Kubernetes
    /// Secret; re-read when it changes, without a restart. Empty: none.
    #[serde(default)]
    pub keys_file: String,
    /// How often the keys file (and a JWKS file) is looked at for changes, in seconds.
    #[serde(default = "keys_reload_seconds")]
    pub reload_seconds: u64,
    /// OIDC bearer tokens (JWT) from one issuer, beside the API keys.
    #[serde(default)]
    pub oidc: OidcSettings,
}

fn keys_reload_seconds() -> u64 {
    5
}

/// An OIDC issuer whose access tokens (JWT, signed RS256/ES256/EdDSA) are accepted; roles and scope come from
/// claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSettings {
    /// The issuer (`iss`); empty: OIDC is off.
    pub issuer: String,
    /// Accepted audiences (`aud`); at least one when OIDC is on.
    pub audiences: Vec<String>,
    /// The issuer's JSON Web Key Set, as a file (re-read when it changes); or
    pub jwks_file: String,
    /// its URL (`https://…/jwks.json`), fetched at start and every `jwks_refresh_seconds`.
    pub jwks_url: String,
    /// How often the key set is fetched from `jwks_url`, in seconds.
    pub jwks_refresh_seconds: u64,
    /// The claim naming the principal (audit entries name it).
    pub name_claim: String,
    /// The claim listing Omni roles (an array of strings, or one space-separated string).
    pub roles_claim: String,
    /// The claim naming a partner's id (partner tokens).
    pub partner_claim: String,
    /// The claim listing the stores an associate or store manager works at.
    pub locations_claim: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            audiences: Vec::new(),
            jwks_file: String::new(),
            jwks_url: String::new(),
            jwks_refresh_seconds: 300,
            name_claim: "sub".into(),
            roles_claim: "omni_roles".into(),
            partner_claim: "omni_partner_id".into(),
            locations_claim: "omni_locations".into(),
            leeway_seconds: 30,
        }
    }
}

/// The token vault and PSP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsSettings {
    /// Base64 of 32 bytes: wraps the vault's data keys.
    pub key_encryption_key: Secret,
    /// Which PSP adapter: `sandbox` (in process) or `sandbox-http` (the sandbox served by `omni psp-sandbox`).
    pub psp: String,
    /// Where the PSP is, for `sandbox-http` (e.g. `http://127.0.0.1:8090`).
    pub psp_url: String,
    /// How long a card authorization lasts before it lapses at the issuer (the sandbox lapses its own after this
    /// long too); Omni authorizes again before then.
    pub card_authorization_seconds: u64,
    /// Authorize a card again this long before its authorization lapses.
    pub reauthorize_before_seconds: u64,
    /// How often payments looks for authorizations to renew.
    pub reauthorize_check_seconds: u64,
    /// How often the ledger is reconciled with the PSP's record (nightly by default).
    pub reconcile_interval_seconds: u64,
    /// How far back the reconcile looks, by when the intent was made.
    pub reconcile_window_days: u64,
    /// The secret PSP webhooks are signed with (HMAC-SHA256). Empty: a random one per start, which only the
    /// in-process sandbox PSP knows.
    pub webhook_secret: Secret,
}

/// The transactional outbox relay.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// How often the relay looks for unsent rows when nothing woke it.
    pub poll_interval_ms: u64,
    /// Rows per relay round.
    pub batch_size: i64,
}

/// Reservation defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationSettings {
    /// How long an order's hold lasts before the sweeper releases it.
    pub ttl_seconds: u64,
    /// How often the hold store is compared with the ledger.
    pub reconcile_interval_seconds: u64,
}

/// Buffer and segment policies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// A JSON policy file (`{"policies": [...]}`) kept in sync with the database and hot-reloaded; empty: none.
    pub file: String,
    /// How often allocation checks the file, other replicas' changes, rule windows and weather.
    pub reload_interval_seconds: u64,
    /// Kubernetes mode: the namespace whose `BufferPolicy` resources (allocation) and `RoutingPolicy` resources
    /// (fulfillment) are watched and hot-reloaded; empty: off.
    pub kubernetes_namespace: String,
    /// A JSON file of routing rules (`{"rules": [...]}`) for fulfillment, hot-reloaded; empty: none.
    pub routing_file: String,
}

/// Order intake and the saga.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersSettings {
    /// The partner marketplaces whose orders are taken (each on its own `omni.orders.inbound.<id>.v1`, and by
    /// partner keys).
    pub partners: Vec<PartnerSettings>,
    /// Largest partner order message taken, in bytes; bigger ones go to the DLQ.
    pub max_message_bytes: usize,
    /// How long an accepted order may wait for its hold before it fails (routing or allocation silent).
    pub reserve_timeout_seconds: u64,
    /// How long a reserved order may wait for its payment authorization before it fails.
    pub payment_timeout_seconds: u64,
    /// Most orders on their way to a hold at once; the rest wait, closest promise date first.
    pub max_in_flight: usize,
}

/// A partner marketplace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSettings {
    /// Its code, as in `partner_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether its orders are taken now (a disabled partner's orders go to the DLQ, its keys get 403).
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// The customer tiers its orders may name (`standard`, `vip`); an order naming another is refused.
    #[serde(default = "standard_tier_only")]
    pub allowed_tiers: Vec<String>,
    /// The earliest promise date its orders may name, in minutes after Omni takes the order: a sooner promise
    /// (one in the past, with 0) is moved to that earliest time, so no partner moves its orders ahead of
    /// everyone else's (an order already late is due now, not before every other).
    #[serde(default)]
    pub earliest_promise_minutes: u32,
    /// Most lines on one of its orders (at most 100, Omni's own limit).
    #[serde(default = "max_partner_lines")]
    pub max_lines: u32,
}

fn enabled() -> bool {
    true
}

fn standard_tier_only() -> Vec<String> {
    vec!["standard".to_owned()]
}

fn max_partner_lines() -> u32 {
    100
}

/// The customer tiers an order may name.
pub const CUSTOMER_TIERS: [&str; 2] = ["standard", "vip"];

/// A partner code that would name a topic Omni itself uses (`omni.orders.inbound.dlq.v1`).
const RESERVED_PARTNER_IDS: [&str; 1] = ["dlq"];

impl PartnerSettings {
    /// An enabled partner with the default bounds (standard customers, no promise before intake, 100 lines).
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            enabled: true,
            allowed_tiers: standard_tier_only(),
            earliest_promise_minutes: 0,
            max_lines: max_partner_lines(),
        }
    }
}

impl OrdersSettings {
    /// The partner with this id, if registered.
    pub fn partner(&self, id: &str) -> Option<&PartnerSettings> {
        self.partners.iter().find(|p| p.id == id)
    }
}

const DEFAULTS: &str = include_str!("defaults.toml");

/// A keys file (`auth.keys_file`): `[[api_keys]]` entries, each by `key_sha256`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    api_keys: Vec<ApiKeySettings>,
}

/// Why a keys file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeysFileError {
    /// It does not parse as a keys file.
    #[error("not a keys file: {0}")]
    Syntax(#[source] config::ConfigError),
    /// A key is written out in clear.
    #[error("key `{0}` is written out in clear; a keys file holds `key_sha256` only")]
    ClearKey(String),
}

/// Reads a keys file's text (TOML). A key written out in clear is refused: the file holds hashes only.
pub fn parse_keys_file(text: &str) -> std::result::Result<Vec<ApiKeySettings>, KeysFileError> {
    let file: KeysFile = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(KeysFileError::Syntax)?;
    if let Some(key) = file.api_keys.iter().find(|k| !k.key.is_empty()) {
        return Err(KeysFileError::ClearKey(key.name.clone()));
    }
    Ok(file.api_keys)
}

impl Settings {
    /// Loads defaults, then `file` if given, then `OMNI__SECTION__KEY` variables, and checks the result.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        Self::load_with(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let env: std::collections::HashMap<String, String> =
            env.into_iter().filter(|(k, _)| k.starts_with("OMNI__")).collect();
        builder = builder.add_source(
            config::Environment::with_prefix("OMNI")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(Error::Load)?;
        settings.check()?;
        Ok(settings)
    }

    /// The built-in defaults alone.
    pub fn defaults() -> Result<Self> {
        Self::load_with(None, std::iter::empty())
    }

    fn check(&self) -> Result<()> {
        let invalid = |key: &str, reason: &str| {
            Err(Error::Invalid {
                key: key.to_owned(),
                reason: reason.to_owned(),
            })
        };
        if self.http.body_limit_bytes < 1024 {
            return invalid("http.body_limit_bytes", "must be at least 1024");
        }
        let payments = &self.payments;
        if payments.card_authorization_seconds == 0 {
            return invalid("payments.card_authorization_seconds", "must be at least 1");
        }
        if payments.reauthorize_before_seconds >= payments.card_authorization_seconds {
            return invalid(
                "payments.reauthorize_before_seconds",
                "must be less than payments.card_authorization_seconds (or every authorization is renewed at once)",
            );
        }
        if payments.reconcile_interval_seconds == 0 {
            return invalid("payments.reconcile_interval_seconds", "must be at least 1");
        }
        if payments.reauthorize_check_seconds == 0 {
            return invalid("payments.reauthorize_check_seconds", "must be at least 1");
        }
        let retry = &self.kafka.retry;
        if retry.max_attempts == 0 {
            return invalid("kafka.retry.max_attempts", "must be at least 1");
        }
        if retry.initial_backoff_ms == 0 || retry.max_backoff_ms < retry.initial_backoff_ms {
            return invalid(
                "kafka.retry.max_backoff_ms",
                "must be at least kafka.retry.initial_backoff_ms, which must be at least 1",
            );
        }
        for service in Service::ALL {
            if !self.http.ports.contains_key(service.name()) {
                return invalid(&format!("http.ports.{service}"), "is missing");
            }
        }
        let mut seen = std::collections::HashMap::new();
        for (service, port) in &self.http.ports {
            if service.parse::<Service>().is_err() {
                return invalid(&format!("http.ports.{service}"), "names no service");
            }
            if *port != 0
                && let Some(other) = seen.insert(*port, service)
            {
                return invalid(
                    &format!("http.ports.{service}"),
                    &format!("reuses port {port} of {other}"),
                );
            }
        }
        let mut partners = std::collections::HashSet::new();
        for partner in &self.orders.partners {
            if partner.id.is_empty()
                || partner.id.len() > 64
                || !partner
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return invalid(
                    "orders.partners.id",
                    &format!(
                        "`{}` is not a partner code (1 to 64 letters, digits, '-', '_', '.')",
                        partner.id
                    ),
                );
            }
            if !partners.insert(partner.id.as_str()) {
                return invalid("orders.partners.id", &format!("`{}` is listed twice", partner.id));
            }
            if RESERVED_PARTNER_IDS.contains(&partner.id.as_str()) {
                return invalid(
                    "orders.partners.id",
                    &format!("`{}` is reserved: its inbound topic would be the DLQ", partner.id),
                );
            }
            if let Some(tier) = partner
                .allowed_tiers
                .iter()
                .find(|t| !CUSTOMER_TIERS.contains(&t.as_str()))
            {
                return invalid(
                    "orders.partners.allowed_tiers",
                    &format!(
                        "`{tier}` (partner `{}`) is not one of {CUSTOMER_TIERS:?}",
                        partner.id
                    ),
                );
            }
            if !(1..=100).contains(&partner.max_lines) {
                return invalid(
                    "orders.partners.max_lines",
                    &format!(
                        "{} (partner `{}`) must be 1 to 100",
                        partner.max_lines, partner.id
                    ),
                );
            }
        }
        if self.orders.max_message_bytes < 1024 {
            return invalid("orders.max_message_bytes", "must be at least 1024");
        }
        for (name, value) in [
            (
                "pickup_code_attempts_per_task",
                self.fulfillment.pickup_code_attempts_per_task,
            ),
            (
                "pickup_code_attempts_per_client",
                self.fulfillment.pickup_code_attempts_per_client,
            ),
            (
                "pickup_code_lockout_seconds",
                self.fulfillment.pickup_code_lockout_seconds,
            ),
        ] {
            if value == 0 {
                return invalid(&format!("fulfillment.{name}"), "must be at least 1");
            }
        }
        for (kind, windows) in [
            ("store", &self.fulfillment.store),
            ("warehouse", &self.fulfillment.warehouse),
        ] {
            for (name, seconds) in [
                ("accept_within_seconds", windows.accept_within_seconds),
                ("ready_within_seconds", windows.ready_within_seconds),
                ("pickup_window_seconds", windows.pickup_window_seconds),
                ("curbside_handover_seconds", windows.curbside_handover_seconds),
            ] {
                if seconds == 0 {
                    return invalid(&format!("fulfillment.{kind}.{name}"), "must be at least 1");
                }
            }
        }
        let routing = &self.fulfillment.routing;
        for (name, value) in [
            ("cost_per_km", routing.cost_per_km),
            ("split_penalty", routing.split_penalty),
            ("full_day_cost", routing.full_day_cost),
            ("late_hour_cost", routing.late_hour_cost),
        ] {
            if !(0.0..=1e9).contains(&value) {
                return invalid(&format!("fulfillment.routing.{name}"), "must be 0 to 1000000000");
            }
        }
        if !(routing.transit_km_per_hour > 0.0 && routing.transit_km_per_hour <= 10_000.0) {
            return invalid(
                "fulfillment.routing.transit_km_per_hour",
                "must be above 0 and at most 10000",
            );
        }
        if routing.max_splits > MAX_SPLITS {
            return invalid(
                "fulfillment.routing.max_splits",
                &format!("must be 0 to {MAX_SPLITS}"),
            );
        }
        if routing.urgent_reserve_percent > 100 {
            return invalid("fulfillment.routing.urgent_reserve_percent", "must be 0 to 100");
        }
        if self.orders.reserve_timeout_seconds == 0 || self.orders.payment_timeout_seconds == 0 {
            return invalid(
                "orders",
                "reserve_timeout_seconds and payment_timeout_seconds must be at least 1",
            );
        }
        if self.orders.max_in_flight == 0 {
            return invalid("orders.max_in_flight", "must be at least 1");
        }
        if self.database.pool_size == 0 {
            return invalid("database.pool_size", "must be at least 1");
        }
        let db_url = self.database.url.expose();
        if !(db_url.is_empty() || db_url.starts_with("postgres://") || db_url.starts_with("postgresql://")) {
            return invalid(
                "database.url",
                "must be a postgres:// URL (or empty for SQLite in dev mode)",
            );
        }
        for (service, url) in &self.database.urls {
            let url = url.expose();
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite://"))
            {
                return invalid(
                    &format!("database.urls.{service}"),
                    "must be a postgres:// or sqlite:// URL",
                );
            }
        }
        let redis = self.redis.url.expose();
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return invalid(
                "redis.url",
                "must be a redis:// or rediss:// URL (or empty in dev mode)",
            );
        }
        for key in self.kafka.topics.keys() {
            if !omni_topic_keys().contains(&key.as_str()) {
                return invalid(&format!("kafka.topics.{key}"), "names no topic");
            }
        }
        if self.outbox.batch_size <= 0 {
            return invalid("outbox.batch_size", "must be positive");
        }
        if self.policies.reload_interval_seconds == 0 {
            return invalid("policies.reload_interval_seconds", "must be positive");
        }
        if self.returns.manager_approval_above_minor < 0 {
            return invalid(
                "returns.manager_approval_above_minor",
                "must be 0 (never) or positive",
            );
        }
        if self.returns.code_attempts_per_order == 0
            || self.returns.code_attempts_per_client == 0
            || self.returns.code_lockout_seconds == 0
        {
            return invalid(
                "returns.code_attempts_per_order",
                "the return code limits (per order, per client, lockout seconds) must be positive",
            );
        }
        if self.returns.items_within_seconds == 0 {
            return invalid("returns.items_within_seconds", "must be positive");
        }
        if let Some(channel) = self
            .returns
            .channel_window_days
            .keys()
            .find(|c| !["web", "app", "pos", "social", "marketplace"].contains(&c.as_str()))
        {
            return invalid(
                &format!("returns.channel_window_days.{channel}"),
                "is not a channel: web, app, pos, social or marketplace",
            );
        }
        if self.reservations.ttl_seconds == 0 {
            return invalid("reservations.ttl_seconds", "must be positive");
        }
        match self.payments.psp.as_str() {
            "sandbox" => {}
            "sandbox-http"
                if self.payments.psp_url.starts_with("http://")
                    || self.payments.psp_url.starts_with("https://") => {}
            "sandbox-http" => {
                return invalid(
                    "payments.psp_url",
                    "must be the http(s) URL of the sandbox PSP server (`omni psp-sandbox`) when `payments.psp` \
                     is `sandbox-http`",
                );
            }
            _ => {
                return invalid(
                    "payments.psp",
                    "must be `sandbox` (in the payments process) or `sandbox-http` (served by `omni psp-sandbox`)",
                );
            }
        }
        for (i, key) in self.auth.api_keys.iter().enumerate() {
            match (key.key.is_empty(), &key.key_sha256) {
                (false, None) if key.key.expose().len() < 16 => {
                    return invalid(
                        &format!("auth.api_keys[{i}].key"),
                        "must be at least 16 characters",
                    );
                }
                (true, Some(hash)) if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    return invalid(
                        &format!("auth.api_keys[{i}].key_sha256"),
                        "must be the key's SHA-256 in 64 hex digits",
                    );
                }
                (false, None) | (true, Some(_)) => {}
                _ => {
                    return invalid(
                        &format!("auth.api_keys[{i}]"),
                        "give the key either as `key` or as `key_sha256` (its SHA-256), not both or neither",
                    );
                }
            }
            if key.roles.is_empty() {
                return invalid(
                    &format!("auth.api_keys[{i}].roles"),
                    "must name at least one role",
                );
            }
            if let Err(reason) = key.scope_problem() {
                return invalid(&format!("auth.api_keys[{i}]"), reason);
            }
            if let Some(partner) = &key.partner_id
                && self.orders.partner(partner).is_none()
            {
                return invalid(
                    &format!("auth.api_keys[{i}].partner_id"),
                    &format!("`{partner}` is not a registered partner (orders.partners)"),
                );
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, key) in self.auth.api_keys.iter().enumerate() {
            if !names.insert(key.name.as_str()) {
                return invalid(
                    &format!("auth.api_keys[{i}].name"),
                    &format!(
                        "`{}` names two keys; audit entries must tell them apart",
                        key.name
                    ),
                );
            }
        }
        Ok(())
    }

    /// The effective settings as TOML, with every secret replaced by `[redacted]`.
    pub fn to_redacted_toml(&self) -> String {
        match serde_json::to_value(self) {
            Ok(value) => toml_like(&value, ""),
            Err(e) => format!("# could not render settings: {e}"),
        }
    }
}

fn omni_topic_keys() -> [&'static str; 11] {
    [
        "orders_inbound",
        "orders_inbound_dlq",
        "orders",
        "inventory",
        "reservations",
        "availability",
        "fulfillment",
        "payments",
        "returns",
        "catalog",
        "signals",
    ]
}

/// Renders a JSON object as TOML-shaped text (tables for objects, inline values otherwise).
fn toml_like(value: &serde_json::Value, path: &str) -> String {
    let serde_json::Value::Object(map) = value else {
        return String::new();
    };
    let mut out = String::new();
    for (k, v) in map.iter().filter(|(_, v)| !v.is_object()) {
        out.push_str(&format!("{k} = {v}\n"));
    }
    for (k, v) in map.iter().filter(|(_, v)| v.is_object()) {
        let sub = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        out.push_str(&format!("\n[{sub}]\n"));
        out.push_str(&toml_like(v, &sub));
    }
    out
}

#[cfg(test)]
mod tests;

//! Payments' use cases over the vault, the PSP and the outbox.

pub mod authorization;
pub mod capture;
pub mod operations;
pub mod reconcile;
pub mod refunds;
pub mod renewal;
pub mod stored_value;
pub mod vault;
pub mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use omni_db::Db;
use tokio::sync::Notify;

use crate::domain::psp::Psp;
use crate::domain::rate_limit::RateLimiter;
use crate::domain::vault::Kek;

/// Detokenizations allowed in a burst.
pub const DETOKENIZE_BURST: u32 = 500;
/// Detokenizations allowed per second, sustained.
pub const DETOKENIZE_PER_SECOND: u32 = 200;

/// Shared state of the handlers and the consumer.
#[derive(Clone)]
pub struct State {
    /// The payments database.
    pub db: Db,
    /// Wakes the outbox relay after a commit.
    pub relay: Arc<Notify>,
    /// The key-encryption key that wraps the vault's data keys.
    pub kek: Arc<Kek>,
    /// The PSP adapter.
    pub psp: Arc<dyn Psp>,
    /// The detokenization rate limit.
    pub detokenize_limit: Arc<Mutex<RateLimiter>>,
    /// Wrong gift card and store credit codes per caller.
    pub guesses: Arc<stored_value::GuessLimit>,
    /// How long card authorizations last and when they are renewed.
    pub renewal: renewal::Renewal,
    /// The secret PSP webhooks are signed with.
    pub webhook_secret: Arc<Vec<u8>>,
}

impl State {
    /// State with the default detokenization limit.
    pub fn new(db: Db, relay: Arc<Notify>, kek: Kek, psp: Arc<dyn Psp>) -> Self {
        let limiter = RateLimiter::new(DETOKENIZE_BURST, DETOKENIZE_PER_SECOND, Instant::now());
        Self {
            db,
            relay,
            kek: Arc::new(kek),
            psp,
            detokenize_limit: Arc::new(Mutex::new(limiter)),
            guesses: Arc::new(stored_value::GuessLimit::default()),
            renewal: renewal::Renewal::default(),
            webhook_secret: Arc::new(crate::domain::vault::random_bytes::<32>().to_vec()),
        }
    }
}

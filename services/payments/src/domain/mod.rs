//! Payments rules that need no I/O: card numbers, the vault's cryptography, intents, the PSP adapters and the
//! detokenization rate limit. The part most worth unit tests.

pub mod card;
pub mod charges;
pub mod intent;
pub mod ledger;
pub mod psp;
pub mod rate_limit;
pub mod reconcile;
pub mod sandbox;
pub mod sandbox_psp;
pub mod stored_value;
pub mod vault;
pub mod webhook;

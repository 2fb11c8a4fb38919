//! HTTP routes, one handler per file, each registered through its rule in [`AUTHORIZATION`]. No route returns
//! or accepts a card number except tokenization, and no route detokenizes.

pub mod gift_cards;
pub mod intents;
pub mod keys;
pub mod refunds;
pub mod tokens;
pub mod webhooks;

use actix_web::web;
use omni_config::Role::{Associate, Auditor, Manager, Partner, Service};
use omni_http::{Method, Objects, Rule};

use crate::app::State;

/// Tokenizes a card; the token pays only the creator's orders.
pub const CREATE_TOKEN: Rule = Rule::new(
    Method::Post,
    "/v1/payments/tokens",
    &[Partner, Associate, Manager, Service],
    Objects::OwnTokens,
);
/// Rotates the vault's data key.
pub const ROTATE_KEYS: Rule = Rule::new(Method::Post, "/v1/payments/keys/rotate", &[], Objects::Shared);
/// Lists payment intents.
pub const LIST_INTENTS: Rule = Rule::new(
    Method::Get,
    "/v1/payments/intents",
    &[Manager, Auditor, Service],
    Objects::Orders,
);

/// Gives money back on an order (audited).
pub const CREATE_REFUND: Rule = Rule::new(
    Method::Post,
    "/v1/payments/refunds",
    &[Manager, Service],
    Objects::Orders,
);

/// Issues a gift card or store credit (audited; the code shown once).
pub const ISSUE_STORED_VALUE: Rule = Rule::new(
    Method::Post,
    "/v1/payments/gift-cards",
    &[Manager, Service],
    Objects::Shared,
);
/// A gift card's or store credit's balance, by code (wrong codes rate-limited per caller).
pub const STORED_VALUE_BALANCE: Rule = Rule::new(
    Method::Post,
    "/v1/payments/gift-cards/balance",
    &[Associate, Manager, Service],
    Objects::Shared,
);

/// A PSP's webhook (no API key: its signature is the proof).
pub const RECEIVE_WEBHOOK: Rule = Rule::new(
    Method::Post,
    "/v1/payments/webhooks/{psp}",
    &[],
    Objects::PspSignature,
);

/// The payments service's part of the authorization table.
pub const AUTHORIZATION: &[Rule] = &[
    CREATE_TOKEN,
    ROTATE_KEYS,
    LIST_INTENTS,
    CREATE_REFUND,
    ISSUE_STORED_VALUE,
    STORED_VALUE_BALANCE,
    RECEIVE_WEBHOOK,
    omni_http::audit::RULE,
];

/// Registers the payments routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state));
    CREATE_TOKEN.register(cfg, tokens::create::create_token);
    ROTATE_KEYS.register(cfg, keys::rotate::rotate_keys);
    LIST_INTENTS.register(cfg, intents::list::list_intents);
    CREATE_REFUND.register(cfg, refunds::create::create_refund);
    ISSUE_STORED_VALUE.register(cfg, gift_cards::issue::issue_stored_value);
    STORED_VALUE_BALANCE.register(cfg, gift_cards::balance::stored_value_balance);
    RECEIVE_WEBHOOK.register(cfg, webhooks::receive::receive_webhook);
}

//! HTTP routes, one handler per file. No route returns or accepts a card number except tokenization, and no
//! route detokenizes.

pub mod intents;
pub mod keys;
pub mod tokens;

use actix_web::web;

use crate::State;

/// Registers the payments routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route(
            "/v1/payments/tokens",
            web::post().to(tokens::create::create_token),
        )
        .route(
            "/v1/payments/keys/rotate",
            web::post().to(keys::rotate::rotate_keys),
        )
        .route("/v1/payments/intents", web::get().to(intents::list::list_intents));
}

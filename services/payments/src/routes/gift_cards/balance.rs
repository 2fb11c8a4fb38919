use actix_web::{HttpResponse, web};
use omni_contracts::api::{StoredValueCode, StoredValueView};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::app::stored_value::{self, Lookup};

/// The balance of a gift card or store credit, by its code. Wrong codes are limited per caller (a burst of
/// `GUESS_BURST`, then `GUESSES_PER_MINUTE` a minute): codes cannot be guessed here. The code is never echoed.
#[utoipa::path(
    post, path = "/v1/payments/gift-cards/balance", request_body = StoredValueCode,
    responses(
        (status = 200, description = "The card's balance", body = StoredValueView),
        (status = 403, description = "Not an associate, manager or service", body = omni_http::errors::ErrorBody),
        (status = 404, description = "No card has this code", body = omni_http::errors::ErrorBody),
        (status = 429, description = "Too many wrong codes from this caller; retry later", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn stored_value_balance(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<StoredValueCode>,
) -> Result<HttpResponse, ApiError> {
    let card = stored_value::by_code(&state, &principal.name, &body.code)
        .await?
        .map_err(|refused| match refused {
            Lookup::Unknown => ApiError::new(Code::NotFound, refused.to_string()),
            Lookup::TooManyGuesses(_) => ApiError::new(Code::TooManyAttempts, refused.to_string()),
        })?;
    Ok(HttpResponse::Ok().json(StoredValueView {
        reference: card.reference.clone(),
        kind: card.kind.as_str().to_owned(),
        code: None,
        last4: card.last4.clone(),
        currency: card.currency,
        balance_minor: card.balance,
        available_minor: card.available(),
    }))
}

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use omni_contracts::api::{CardToken, TokenizeCard};
use omni_http::{ApiError, Code, Principal};
use secrecy::zeroize::Zeroize;
use serde_json::Value;

use crate::app::State;
use crate::db::vault;
use crate::domain::card::Card;

/// A tokenization body is a few dozen bytes; anything much larger is not a card.
const MAX_BODY_BYTES: usize = 4 * 1024;

const FIELDS: &str = "number, exp_month, exp_year, cvc, customer_id";

/// Tokenizes a card: checks the number (Luhn), the expiry and the CVC's shape, seals number and expiry in the
/// vault and answers with a random token and the parts that may be shown. The CVC is never stored. The token is
/// bound to the caller (to its partner, for a partner key) and, when `customer_id` is given, to that customer: it
/// pays only their orders. Errors never repeat the number or the CVC.
#[utoipa::path(
    post, path = "/v1/payments/tokens", request_body = TokenizeCard,
    responses(
        (status = 201, description = "Tokenized", body = CardToken),
        (status = 400, description = "The body is not a tokenization request", body = omni_http::errors::ErrorBody),
        (status = 413, description = "The body is too large", body = omni_http::errors::ErrorBody),
        (status = 415, description = "The body is not JSON", body = omni_http::errors::ErrorBody),
        (status = 422, description = "Not a valid card (number, expiry or CVC)", body = omni_http::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_token(
    state: web::Data<State>,
    principal: Principal,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The body is read and parsed here rather than by the shared JSON extractor, whose errors quote the
    // offending value: a number sent as a JSON integer would come back in the error body.
    if !is_json(request.content_type()) {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "send the body as `Content-Type: application/json`",
        ));
    }
    let body = payload
        .to_bytes_limited(MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                Code::PayloadTooLarge,
                format!("body exceeds the limit of {MAX_BODY_BYTES} bytes"),
            )
        })?
        .map_err(|_| ApiError::new(Code::InvalidBody, "the body could not be read"))?;
    let mut card_request = parse(&body).map_err(|reason| ApiError::new(Code::InvalidBody, reason.0))?;
    let card = Card::from_request(&card_request, chrono::Utc::now().date_naive());
    card_request.number.zeroize();
    card_request.cvc.zeroize();
    let card = card.map_err(|e| ApiError::new(Code::InvalidCard, e.to_string()))?;

    let kek = state.kek.clone();
    let owner = principal.payer();
    let customer = card_request.customer_id.take();
    let who = principal.name.clone();
    let token = state
        .db
        .transaction(move |conn| -> crate::error::Result<_> {
            let token = vault::tokenize(conn, &kek, &card, &owner, customer.as_ref())?;
            // Audited by reference: the token itself stays in the vault's table.
            let detail = serde_json::json!({
                "brand": token.brand, "last4": token.last4, "owner": owner.as_str(), "customer_id": token.customer_id,
            });
            omni_db::audit::record(conn, &who, "payments.tokenized", &token.reference, &detail)?;
            Ok(token)
        })
        .await?;
    // The token is the card's stand-in: it is logged by its reference only.
    tracing::info!(payment_method = %token.reference, owner = %principal.payer(), brand = %token.brand, "Card tokenized.");
    Ok(HttpResponse::Created().json(token))
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a [`TokenizeCard`] with error messages that name fields and expected shapes, never values.
/// A tokenization body that is refused; the message names the field, never its value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadBody(String);

impl From<&str> for BadBody {
    fn from(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

fn parse(body: &[u8]) -> Result<TokenizeCard, BadBody> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        BadBody(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(mut fields) = value else {
        return Err(BadBody(format!(
            "the body must be a JSON object with the fields {FIELDS}"
        )));
    };
    if fields.keys().any(|k| {
        !matches!(
            k.as_str(),
            "number" | "exp_month" | "exp_year" | "cvc" | "customer_id"
        )
    }) {
        return Err(BadBody(format!("unknown field: the allowed fields are {FIELDS}")));
    }
    let number = match fields.remove("number") {
        Some(Value::String(number)) => number,
        Some(_) => return Err("number: must be a string of digits".into()),
        None => return Err("number: missing".into()),
    };
    let small_integer =
        |name: &str, fields: &mut serde_json::Map<String, Value>, max: u64| match fields.remove(name) {
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|n| *n <= max)
                .ok_or_else(|| BadBody(format!("{name}: out of range"))),
            Some(_) => Err(BadBody(format!("{name}: must be an integer"))),
            None => Err(BadBody(format!("{name}: missing"))),
        };
    let exp_month = u8::try_from(small_integer("exp_month", &mut fields, u64::from(u8::MAX))?)
        .map_err(|_| BadBody::from("exp_month: out of range"))?;
    let exp_year = u16::try_from(small_integer("exp_year", &mut fields, u64::from(u16::MAX))?)
        .map_err(|_| BadBody::from("exp_year: out of range"))?;
    let cvc = match fields.remove("cvc") {
        None | Some(Value::Null) => None,
        Some(Value::String(cvc)) => Some(cvc),
        Some(_) => return Err("cvc: must be a string of 3 or 4 digits".into()),
    };
    let customer_id =
        match fields.remove("customer_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(omni_contracts::CustomerId::parse(&id).map_err(|_| {
                BadBody::from("customer_id: must be a code of letters, digits, `.`, `_` or `-`")
            })?),
            Some(_) => return Err("customer_id: must be a string".into()),
        };
    Ok(TokenizeCard {
        number,
        exp_month,
        exp_year,
        cvc,
        customer_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sandbox::VISA_APPROVED;

    #[test]
    fn a_well_formed_body_is_read() {
        let card =
            parse(br#"{"number":"4242 4242 4242 4242","exp_month":12,"exp_year":2030,"cvc":"123"}"#).unwrap();
        assert_eq!(
            (card.number.as_str(), card.exp_month, card.exp_year),
            ("4242 4242 4242 4242", 12, 2030)
        );
        assert_eq!(card.cvc.as_deref(), Some("123"));
    }

    #[test]
    fn body_errors_never_repeat_the_number_or_the_cvc() {
        let n = VISA_APPROVED;
        for body in [
            format!(r#"{{"number":{n},"exp_month":12,"exp_year":2030}}"#),
            format!(r#"{{"number":"{n}","exp_month":12,"exp_year":2030,"cvc":987}}"#),
            format!(r#"{{"number":"{n}","exp_month":"12","exp_year":2030}}"#),
            format!(r#"{{"number":"{n}","exp_month":12,"exp_year":2030,"{n}":1}}"#),
            format!(r#"{{"number":"{n}","exp_month":12,"exp_year":2030"#),
            format!(r#"["{n}"]"#),
        ] {
            let message = parse(body.as_bytes()).unwrap_err().0;
            assert!(!message.contains("4242"), "{body} -> {message}");
            assert!(!message.contains("987"), "{body} -> {message}");
        }
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}

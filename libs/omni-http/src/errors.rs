//! One table of error codes: each maps to an HTTP status and an error type. Every error body is
//! `{"code", "message", "type"}`; a 5xx logs its cause chain and shows none of it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = ($status:ident, $kind:literal, $code:literal)),+ $(,)?) => {
        /// An error code: the stable, documented name of what went wrong.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)+
        }

        impl Code {
            /// Every code, for documentation and the unused-code test.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The HTTP status it is sent with.
            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status,)+ }
            }

            /// The error type: `invalid_request`, `auth` or `system`.
            pub fn kind(self) -> &'static str {
                match self { $(Code::$variant => $kind,)+ }
            }

            /// The code as sent in bodies.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $code,)+ }
            }

            /// The Rust name of the variant (for the unused-code test).
            pub fn variant(self) -> &'static str {
                match self { $(Code::$variant => stringify!($variant),)+ }
            }
        }
    };
}

error_codes! {
    /// The JSON body does not match the schema: wrong type, unknown or missing field, bad value.
    InvalidBody = (BAD_REQUEST, "invalid_request", "invalid_body"),
    /// A query parameter is wrong.
    InvalidQuery = (BAD_REQUEST, "invalid_request", "invalid_query"),
    /// A path segment is wrong (e.g. not a UUID).
    InvalidPath = (BAD_REQUEST, "invalid_request", "invalid_path"),
    /// A required header is missing or malformed.
    InvalidHeader = (BAD_REQUEST, "invalid_request", "invalid_header"),
    /// The body is not `application/json`.
    UnsupportedMediaType = (UNSUPPORTED_MEDIA_TYPE, "invalid_request", "unsupported_media_type"),
    /// The body is larger than `http.body_limit_bytes`.
    PayloadTooLarge = (PAYLOAD_TOO_LARGE, "invalid_request", "payload_too_large"),
    /// No `Authorization: Bearer <key>` header.
    MissingApiKey = (UNAUTHORIZED, "auth", "missing_api_key"),
    /// The key is not known.
    InvalidApiKey = (UNAUTHORIZED, "auth", "invalid_api_key"),
    /// A webhook's signature is missing or does not match its body, or its timestamp is not recent; nothing was
    /// recorded.
    InvalidSignature = (UNAUTHORIZED, "auth", "invalid_signature"),
    /// The principal lacks the role or scope for this action.
    Forbidden = (FORBIDDEN, "auth", "forbidden"),
    /// The resource does not exist (or the caller may not see it).
    NotFound = (NOT_FOUND, "invalid_request", "not_found"),
    /// No route matches the path and method.
    RouteNotFound = (NOT_FOUND, "invalid_request", "route_not_found"),
    /// The resource already exists with other content.
    Conflict = (CONFLICT, "invalid_request", "conflict"),
    /// The request names something that does not exist (an unknown SKU or location).
    UnknownReference = (UNPROCESSABLE_ENTITY, "invalid_request", "unknown_reference"),
    /// A buffer or segment policy could never match or contradicts itself; the message names the field.
    InvalidPolicy = (UNPROCESSABLE_ENTITY, "invalid_request", "invalid_policy"),
    /// The same `Idempotency-Key` was sent with another body.
    IdempotencyKeyReused = (UNPROCESSABLE_ENTITY, "invalid_request", "idempotency_key_reused"),
    /// Not enough stock to hold what was asked; nothing was held.
    InsufficientStock = (CONFLICT, "invalid_request", "insufficient_stock"),
    /// A card could not be tokenized (bad number, expired).
    InvalidCard = (UNPROCESSABLE_ENTITY, "invalid_request", "invalid_card"),
    /// A field holds what looks like a card number, outside tokenization: nothing card-like is stored.
    CardNumberRefused = (UNPROCESSABLE_ENTITY, "invalid_request", "card_number_refused"),
    /// A refund cannot be carried out as asked (more than the order's tenders can give back); nothing moved.
    InvalidRefund = (UNPROCESSABLE_ENTITY, "invalid_request", "invalid_refund"),
    /// A return the policy or the order does not allow (outside the window, final sale, more than is returnable);
    /// the message names the rule, nothing changed.
    ReturnDeclined = (UNPROCESSABLE_ENTITY, "invalid_request", "return_declined"),
    /// Too many wrong attempts at a secret (a pickup code) for this object or from this address; retry later.
    TooManyAttempts = (TOO_MANY_REQUESTS, "auth", "too_many_attempts"),
    /// A dependency is down; retry later.
    Unavailable = (SERVICE_UNAVAILABLE, "system", "unavailable"),
    /// A bug or an unexpected failure; the cause is in the logs under the request id.
    Internal = (INTERNAL_SERVER_ERROR, "system", "internal"),
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Serialize, utoipa::ToSchema)]
/// The body of every error response.
pub struct ErrorBody {
    /// Stable code from the table, e.g. `invalid_body`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// `invalid_request`, `auth` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl ApiError {
    /// An error with a message for the caller.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// A 5xx whose cause is logged, never shown.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            code: Code::Internal,
            message: "internal error".into(),
            source: Some(Box::new(cause)),
        }
    }

    /// A 503 whose cause is logged, never shown.
    pub fn unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            code: Code::Unavailable,
            message: "a dependency is unavailable; retry later".into(),
            source: Some(Box::new(cause)),
        }
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// `404 not_found` for a resource.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.code.status().is_server_error() {
            let chain = self
                .source
                .as_ref()
                .map(|s| error_chain(s.as_ref()))
                .unwrap_or_default();
            tracing::error!(code = self.code.name(), cause = %chain, "Request failed.");
        }
        HttpResponse::build(self.status_code()).json(ErrorBody {
            code: self.code.name().to_owned(),
            message: redact_card_numbers(&self.message),
            kind: self.code.kind().to_owned(),
        })
    }
}

/// Replaces every run of 12 or more digits (spaces and dashes allowed between them) with `[redacted]`, so a
/// card number echoed by a decoder ("invalid type: integer `4242…`") never reaches an error body.
pub fn redact_card_numbers(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            let mut end = i;
            let mut digits = 0;
            while end < chars.len()
                && (chars[end].is_ascii_digit()
                    || ((chars[end] == ' ' || chars[end] == '-')
                        && end + 1 < chars.len()
                        && chars[end + 1].is_ascii_digit()))
            {
                if chars[end].is_ascii_digit() {
                    digits += 1;
                }
                end += 1;
            }
            if digits >= 12 {
                out.push_str("[redacted]");
            } else {
                out.extend(&chars[start..end]);
            }
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// `cause: source: source...` of an error.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        out.push_str(": ");
        out.push_str(&source.to_string());
        next = source.source();
    }
    out
}

impl From<omni_db::Error> for ApiError {
    fn from(e: omni_db::Error) -> Self {
        match e {
            omni_db::Error::Pool(_) | omni_db::Error::Connect { .. } => ApiError::unavailable(e),
            other => ApiError::internal(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<omni_contracts::ContractError> for ApiError {
    fn from(e: omni_contracts::ContractError) -> Self {
        ApiError::new(Code::InvalidBody, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_never_reach_an_error_body() {
        let echoed = "invalid type: integer `4242424242424241`, expected a string at line 1 column 30";
        assert_eq!(
            redact_card_numbers(echoed),
            "invalid type: integer `[redacted]`, expected a string at line 1 column 30"
        );
        assert_eq!(
            redact_card_numbers("card 4242 4242 4242 4241 declined"),
            "card [redacted] declined"
        );
        assert_eq!(
            redact_card_numbers("quantity: must be positive, got -3"),
            "quantity: must be positive, got -3"
        );
    }

    #[test]
    fn every_code_has_a_distinct_name() {
        let names: std::collections::HashSet<_> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Code::ALL.len());
    }

    /// Lemmy's `test_errors_used`: a code nobody returns is dead weight in the documented table.
    #[test]
    fn every_code_is_used_somewhere() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        // This file's constructors (`not_found`, `unavailable`) count; its tests and the table itself do not.
        let this_file =
            std::fs::read_to_string(root.join("libs/omni-http/src/errors.rs")).unwrap_or_default();
        let table_end = this_file.find("/// An error answer.").unwrap_or(0);
        let tests_start = this_file.find("#[cfg(test)]").unwrap_or(this_file.len());
        let mut sources = this_file[table_end..tests_start].to_owned();
        for dir in [
            "services",
            "libs/omni-http/src/server.rs",
            "libs/omni-http/src/auth.rs",
            "libs/omni-http/src/runtime.rs",
            "libs/omni-http/src/authz.rs",
            "libs/omni-http/src/audit.rs",
            "libs/omni-http/src/oidc.rs",
        ] {
            collect_rust(&root.join(dir), &mut sources);
        }
        let unused: Vec<_> = Code::ALL
            .iter()
            .filter(|c| !sources.contains(&format!("Code::{}", c.variant())))
            .map(|c| c.name())
            .collect();
        assert!(unused.is_empty(), "error codes nobody uses: {unused:?}");
    }

    fn collect_rust(path: &std::path::Path, out: &mut String) {
        if path.is_file() {
            if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(path).unwrap_or_default());
            }
        } else if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                collect_rust(&entry.path(), out);
            }
        }
    }
}

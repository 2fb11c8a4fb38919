//! The sandbox server's bodies, shared by the server and [`crate::http_psp::HttpPsp`].

use omni_contracts::Money;
use serde::{Deserialize, Serialize};

/// `POST /authorize`. The card travels only here, as to a real PSP.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBody {
    /// The card number.
    pub number: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
    /// The amount to hold.
    pub amount: Money,
    /// The call's idempotency key.
    pub idempotency_key: String,
}

/// The answer to an authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AuthorizeReply {
    /// Held.
    Approved {
        /// The hold's reference.
        psp_reference: String,
    },
    /// Refused by the issuer.
    Declined {
        /// Why.
        reason: String,
    },
}

/// `POST /{capture|refund|void}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovementBody {
    /// The authorization.
    pub psp_reference: String,
    /// How much.
    pub amount: Money,
    /// The call's idempotency key.
    pub idempotency_key: String,
    /// For a capture: the last one.
    #[serde(default)]
    pub final_capture: bool,
}

/// A refusal or an outage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorReply {
    /// Why.
    pub reason: String,
}

/// `GET /authorizations/{psp_reference}`: the sandbox's book of one authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReply {
    /// Held.
    pub authorized: i64,
    /// Taken.
    pub captured: i64,
    /// Given back.
    pub refunded: i64,
    /// Released.
    pub voided: i64,
}

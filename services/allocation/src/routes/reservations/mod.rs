pub mod commit;
pub mod create;
pub mod extend;
pub mod get;
pub mod release;

use omni_config::Role;
use omni_http::{ApiError, Code, Principal};

use crate::reservation::HoldFailure;

/// Who may hold stock: checkouts (service keys), stores and managers.
pub(crate) fn may_hold(principal: &Principal) -> Result<(), ApiError> {
    principal.require_any(&[Role::Service, Role::Associate, Role::Manager])
}

impl From<HoldFailure> for ApiError {
    fn from(failure: HoldFailure) -> Self {
        match failure {
            HoldFailure::Invalid(reason) => {
                let code = if reason.contains("unknown") {
                    Code::UnknownReference
                } else {
                    Code::InvalidBody
                };
                ApiError::new(code, reason)
            }
            HoldFailure::NotFound(id) => ApiError::not_found(format!("reservation {id}")),
            e @ HoldFailure::NotHeld { .. } => ApiError::new(Code::Conflict, e.to_string()),
            e @ HoldFailure::Short(_) => ApiError::new(Code::InsufficientStock, e.to_string()),
            HoldFailure::Unavailable(reason) => ApiError::new(Code::Unavailable, reason),
            HoldFailure::Db(e) => e.into(),
        }
    }
}

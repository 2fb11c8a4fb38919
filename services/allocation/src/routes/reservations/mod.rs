pub mod commit;
pub mod create;
pub mod extend;
pub mod get;
pub mod release;

use omni_config::Role;
use omni_http::{ApiError, Code, Principal};

use crate::State;
use crate::db::reservations::StoredHold;
use crate::reservation::HoldFailure;

/// What a caller means to do with a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    /// Read it.
    Read,
    /// Extend, release or commit it.
    Change,
}

/// The stored parts of hold `id` if `principal` may touch them: a store-scoped principal sees only holds at its
/// stores (404 for the rest, as for unknown holds); a hold placed for an order is changed only by the service
/// principal (403), since the order's saga owns it.
pub(crate) async fn authorized(
    state: &State,
    principal: &Principal,
    id: &str,
    intent: Intent,
) -> Result<Vec<StoredHold>, ApiError> {
    let parts = crate::reservation::members(state, id).await?;
    if parts.is_empty() || !principal.sees(None, parts.iter().map(|p| p.location_id.as_str())) {
        return Err(ApiError::not_found(format!("reservation {id}")));
    }
    if intent == Intent::Change && parts.iter().any(|p| p.order_id.is_some()) && !principal.has(Role::Service)
    {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "reservation {id} holds stock for an order; only the order's saga (the service principal) changes it"
            ),
        ));
    }
    Ok(parts)
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
            e @ (HoldFailure::NotHeld { .. } | HoldFailure::WouldShorten { .. }) => {
                ApiError::new(Code::Conflict, e.to_string())
            }
            e @ HoldFailure::Short(_) => ApiError::new(Code::InsufficientStock, e.to_string()),
            HoldFailure::Unavailable(reason) => ApiError::new(Code::Unavailable, reason),
            HoldFailure::Db(e) => e.into(),
        }
    }
}

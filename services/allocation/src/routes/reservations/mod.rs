pub mod commit;
pub mod create;
pub mod extend;
pub mod get;
pub mod release;

use omni_config::Role;
use omni_contracts::ReservationId;
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::reservations::StoredHold;
use crate::error::HoldFailure;

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
) -> Result<(ReservationId, Vec<StoredHold>), ApiError> {
    // An id that is no UUID names no hold: 404, as for an unknown one.
    let id = ReservationId::parse(id).map_err(|_| ApiError::not_found(format!("reservation {id}")))?;
    let parts = crate::app::reservation::members(state, id).await?;
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
    Ok((id, parts))
}

/// What a hold was, for an audit entry's `before`: its status, expiry and parts.
pub(crate) fn described(parts: &[StoredHold]) -> serde_json::Value {
    serde_json::json!(
        parts
            .iter()
            .map(|p| serde_json::json!({
                "location_id": p.location_id, "status": p.status,
                "expires_at": p.expires_at.and_utc().to_rfc3339(), "lines": p.lines,
            }))
            .collect::<Vec<_>>()
    )
}

/// Records a hold placed or ended by a person (anyone but the service principal: the saga's and the checkout's
/// holds come at checkout rates and are traced, not audited), after it happened.
pub(crate) async fn audit_by_person(
    state: &State,
    principal: &Principal,
    action: &'static str,
    id: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    if principal.roles.contains(&Role::Service) {
        return Ok(());
    }
    let (who, id) = (principal.name.clone(), id.to_owned());
    state
        .db
        .transaction(move |conn| omni_db::audit::record(conn, &who, action, &id, &detail))
        .await?;
    Ok(())
}

impl From<HoldFailure> for ApiError {
    fn from(failure: HoldFailure) -> Self {
        match failure {
            HoldFailure::Invalid(reason) => ApiError::new(Code::InvalidBody, reason),
            HoldFailure::UnknownReference(reason) => ApiError::new(Code::UnknownReference, reason),
            e @ HoldFailure::Corrupt(_) => ApiError::internal(e),
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

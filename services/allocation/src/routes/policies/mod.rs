//! Buffer and segment policies over HTTP: managers write, staff and services read; every write is audited and
//! versioned, and the rules take effect on this replica before the answer (others pick them up on their next
//! reload).

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod replace;
pub mod versions;

use omni_config::Role;
use omni_contracts::PolicyId;
use omni_contracts::policies::PolicySpec;
use omni_http::{ApiError, Code, Principal};

use crate::State;
use crate::db::{catalog, policies};

/// Managers and admins may change policies.
fn may_write(principal: &Principal) -> Result<(), ApiError> {
    principal.require_any(&[Role::Manager, Role::Admin])
}

/// Staff and services may read them; partners may not.
fn may_read(principal: &Principal) -> Result<(), ApiError> {
    principal.require_any(&[Role::Associate, Role::Manager, Role::Admin, Role::Service])
}

fn policy_id(raw: &str) -> Result<PolicyId, ApiError> {
    PolicyId::parse(raw).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))
}

/// The rule passes its own checks and can match something the catalog has.
async fn check(state: &State, spec: &PolicySpec) -> Result<(), ApiError> {
    crate::domain::policy::check(spec).map_err(|e| ApiError::new(Code::InvalidPolicy, e))?;
    let spec = spec.clone();
    state
        .db
        .run(move |conn| -> Result<(), ApiError> {
            let skus = catalog::sku_tags(conn)?;
            let locations = catalog::location_facts(conn)?
                .into_iter()
                .map(|l| (l.id.to_string(), l.region))
                .collect();
            crate::domain::policy::check_reachable(&spec, &skus, &locations)
                .map_err(|e| ApiError::new(Code::InvalidPolicy, e))
        })
        .await
}

impl From<policies::WriteRefused> for ApiError {
    fn from(refused: policies::WriteRefused) -> Self {
        match refused {
            policies::WriteRefused::Conflict(m) => ApiError::new(Code::Conflict, m),
            policies::WriteRefused::NotFound(id) => ApiError::not_found(format!("policy `{id}`")),
            policies::WriteRefused::Db(e) => e.into(),
        }
    }
}

/// Makes a change visible on this replica now (the reload loop would within `policies.reload_interval_seconds`).
async fn apply_now(state: &State) {
    if let Err(e) = crate::policies::reload(state).await {
        tracing::warn!(error = %e, "Policy change stored but not yet loaded; the reload loop retries.");
    }
}

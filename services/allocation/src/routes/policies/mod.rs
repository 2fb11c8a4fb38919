//! Buffer and segment policies over HTTP: managers write, staff and services read; every write is audited and
//! versioned, and the rules take effect on this replica before the answer (others pick them up on their next
//! reload).

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod replace;
pub mod versions;

use omni_contracts::PolicyId;
use omni_contracts::policies::PolicySpec;
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::{catalog, policies};

/// Policies act across the network: a manager kept to some stores may not change them (the table admits only
/// managers and admins to the writing routes).
fn may_write(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_scoped() {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "{} is kept to some stores; policies are changed by merchandising managers",
                principal.name
            ),
        ));
    }
    Ok(())
}

fn policy_id(raw: &str) -> Result<PolicyId, ApiError> {
    PolicyId::parse(raw).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))
}

/// The rule passes its own checks and can match something the catalog has.
async fn check(state: &State, spec: &PolicySpec) -> Result<(), ApiError> {
    crate::domain::policy::check(spec).map_err(|e| ApiError::new(Code::InvalidPolicy, e.0))?;
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
                .map_err(|e| ApiError::new(Code::InvalidPolicy, e.0))
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
    if let Err(e) = crate::app::policies::reload(state).await {
        tracing::warn!(error = %e, "Policy change stored but not yet loaded; the reload loop retries.");
    }
}

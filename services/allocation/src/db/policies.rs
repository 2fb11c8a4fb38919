//! Buffer and segment policies: the rules in force and every version of each.

use diesel::prelude::*;
use omni_contracts::PolicyId;
use omni_contracts::policies::{Policy, PolicySource, PolicySpec, PolicyVersion};
use omni_db::DbConnection;

use super::schema::{policies, policy_versions};

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteRefused {
    /// A policy with this id exists (create), or the caller's version is not the current one (update).
    #[error("{0}")]
    Conflict(String),
    /// No such policy.
    #[error("policy `{0}` not found")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for WriteRefused {
    fn from(e: diesel::result::Error) -> Self {
        WriteRefused::Db(omni_db::Error::Query(e))
    }
}

fn source_name(source: PolicySource) -> &'static str {
    match source {
        PolicySource::Database => "database",
        PolicySource::File => "file",
        PolicySource::Kubernetes => "kubernetes",
    }
}

fn parse_source(raw: &str) -> PolicySource {
    match raw {
        "file" => PolicySource::File,
        "kubernetes" => PolicySource::Kubernetes,
        _ => PolicySource::Database,
    }
}

type PolicyRow = (String, String, i64, String, String, chrono::NaiveDateTime);

fn to_policy((_, spec, version, source, updated_by, updated_at): PolicyRow) -> Option<Policy> {
    Some(Policy {
        spec: serde_json::from_str(&spec).ok()?,
        version,
        source: parse_source(&source),
        updated_by,
        updated_at: updated_at.and_utc(),
    })
}

/// Every policy in force, by id. A stored spec that no longer parses is skipped (and logged).
pub fn all(conn: &mut DbConnection) -> omni_db::Result<Vec<Policy>> {
    let rows: Vec<PolicyRow> = policies::table.order(policies::id.asc()).load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let id = row.0.clone();
            let policy = to_policy(row);
            if policy.is_none() {
                tracing::error!(policy.id = %id, "Stored policy does not parse; skipped.");
            }
            policy
        })
        .collect())
}

/// One policy in force.
pub fn find(conn: &mut DbConnection, id: &PolicyId) -> omni_db::Result<Option<Policy>> {
    let row: Option<PolicyRow> = policies::table.find(id.as_str()).first(conn).optional()?;
    Ok(row.and_then(to_policy))
}

/// A number that grows with every change to any policy (replicas poll it to hot-reload).
pub fn revision(conn: &mut DbConnection) -> omni_db::Result<i64> {
    Ok(policy_versions::table.count().get_result(conn)?)
}

fn next_version(conn: &mut DbConnection, id: &PolicyId) -> omni_db::Result<i64> {
    let last: Option<i64> = policy_versions::table
        .filter(policy_versions::id.eq(id.as_str()))
        .select(diesel::dsl::max(policy_versions::version))
        .first(conn)?;
    Ok(last.unwrap_or(0) + 1)
}

fn append_version(
    conn: &mut DbConnection,
    id: &PolicyId,
    version: i64,
    spec: Option<&str>,
    source: PolicySource,
    by: &str,
) -> omni_db::Result<()> {
    diesel::insert_into(policy_versions::table)
        .values((
            policy_versions::id.eq(id.as_str()),
            policy_versions::version.eq(version),
            policy_versions::spec.eq(spec),
            policy_versions::source.eq(source_name(source)),
            policy_versions::changed_by.eq(by),
            policy_versions::changed_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Creates a policy (`expected_version` = `None`) or replaces one at `expected_version` from the same source.
/// Writing the spec it already has is a no-op that answers the stored policy.
pub fn write(
    conn: &mut DbConnection,
    spec: &PolicySpec,
    source: PolicySource,
    by: &str,
    expected_version: Option<i64>,
) -> Result<(Policy, bool), WriteRefused> {
    let current = find(conn, &spec.id)?;
    match (&current, expected_version) {
        (Some(c), _) if c.source != source => {
            return Err(WriteRefused::Conflict(format!(
                "policy `{}` is managed by the {} source; change it there",
                spec.id,
                source_name(c.source)
            )));
        }
        (Some(c), None) if c.spec == *spec => return Ok((c.clone(), false)),
        (Some(_), None) if source == PolicySource::Database => {
            return Err(WriteRefused::Conflict(format!(
                "policy `{}` exists; change it with PUT /v1/policies/{} and its version",
                spec.id, spec.id
            )));
        }
        (Some(c), Some(v)) if c.version != v => {
            return Err(WriteRefused::Conflict(format!(
                "version: policy `{}` is at version {}, not {v}; read it again and retry",
                spec.id, c.version
            )));
        }
        (Some(c), Some(_)) if c.spec == *spec => return Ok((c.clone(), false)),
        (None, Some(_)) => return Err(WriteRefused::NotFound(spec.id.to_string())),
        _ => {}
    }
    let version = next_version(conn, &spec.id)?;
    let json = serde_json::to_string(spec).unwrap_or_default();
    let now = omni_db::now();
    if current.is_some() {
        diesel::update(policies::table.find(spec.id.as_str()))
            .set((
                policies::spec.eq(&json),
                policies::version.eq(version),
                policies::updated_by.eq(by),
                policies::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(policies::table)
            .values((
                policies::id.eq(spec.id.as_str()),
                policies::spec.eq(&json),
                policies::version.eq(version),
                policies::source.eq(source_name(source)),
                policies::updated_by.eq(by),
                policies::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    append_version(conn, &spec.id, version, Some(&json), source, by)?;
    let stored = find(conn, &spec.id)?.ok_or_else(|| WriteRefused::NotFound(spec.id.to_string()))?;
    Ok((stored, true))
}

/// Deletes a policy from `source`; its history stays, ending in a version without a spec.
pub fn delete(
    conn: &mut DbConnection,
    id: &PolicyId,
    source: PolicySource,
    by: &str,
) -> Result<Policy, WriteRefused> {
    let current = find(conn, id)?.ok_or_else(|| WriteRefused::NotFound(id.to_string()))?;
    if current.source != source {
        return Err(WriteRefused::Conflict(format!(
            "policy `{id}` is managed by the {} source; remove it there",
            source_name(current.source)
        )));
    }
    let version = next_version(conn, id)?;
    diesel::delete(policies::table.find(id.as_str())).execute(conn)?;
    append_version(conn, id, version, None, source, by)?;
    Ok(current)
}

/// Every version of a policy, oldest first (empty when it never existed).
pub fn versions(conn: &mut DbConnection, id: &PolicyId) -> omni_db::Result<Vec<PolicyVersion>> {
    let rows: Vec<(String, i64, Option<String>, String, String, chrono::NaiveDateTime)> =
        policy_versions::table
            .filter(policy_versions::id.eq(id.as_str()))
            .order(policy_versions::version.asc())
            .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(_, version, spec, source, changed_by, changed_at)| PolicyVersion {
                id: id.clone(),
                version,
                spec: spec.and_then(|s| serde_json::from_str(&s).ok()),
                source: parse_source(&source),
                changed_by,
                changed_at: changed_at.and_utc(),
            },
        )
        .collect())
}

/// Ids of the policies from `source`.
pub fn ids_from(conn: &mut DbConnection, source: PolicySource) -> omni_db::Result<Vec<PolicyId>> {
    let ids = policies::table
        .filter(policies::source.eq(source_name(source)))
        .select(policies::id)
        .load(conn)?;
    omni_db::typed::parse_all(ids, "a policy's id")
}

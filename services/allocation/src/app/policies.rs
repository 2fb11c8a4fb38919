//! Policies at run time: the set in force (swapped atomically), kept in step with the database (other replicas'
//! changes) and the policy file, and availability re-published when rules change, a rule window opens or
//! closes, or the weather changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::Utc;
use omni_contracts::policies::{PolicyFile, PolicySource};
use omni_contracts::{LocationId, PolicyId, Sku};
use omni_db::DbConnection;

use crate::app::State;
use crate::db::{catalog, ledger, policies};
use crate::domain::policy::InvalidPolicy;
use crate::domain::policy::{CompiledPolicy, PolicySet};
use crate::error::PolicyError;

/// Most SKUs re-published in one transaction.
const REPUBLISH_BATCH: usize = 200;

/// The policy runtime shared by handlers and the reload loop.
#[derive(Debug, Default)]
pub struct Policies {
    current: RwLock<Arc<PolicySet>>,
    revision: Mutex<Option<i64>>,
    file_content: Mutex<Option<String>>,
    scheduled: Mutex<BTreeMap<LocationId, BTreeSet<PolicyId>>>,
    /// The policy file, if configured.
    pub file: Option<PathBuf>,
}

impl Policies {
    /// A runtime reading `file` (if any).
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            ..Self::default()
        }
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<PolicySet> {
        self.current
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn swap(&self, set: PolicySet) -> Arc<PolicySet> {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *current, Arc::new(set))
    }
}

/// Compiles stored policies; one that no longer passes the checks is left out (and logged), not fatal.
pub fn compile(stored: Vec<omni_contracts::policies::Policy>) -> PolicySet {
    PolicySet::new(
        stored
            .into_iter()
            .filter_map(|p| {
                let id = p.spec.id.clone();
                CompiledPolicy::new(p.spec, p.version)
                    .map_err(|e| tracing::error!(policy.id = %id, error = %e, "Stored policy is invalid; ignored."))
                    .ok()
            })
            .collect(),
    )
}

/// Loads the rules from the database if they changed since the last load, and re-publishes the availability of
/// every SKU a changed rule concerns. Returns how many SKUs were re-published.
pub async fn reload(state: &State) -> Result<usize, PolicyError> {
    let known = *state.policies.revision.lock().unwrap_or_else(|p| p.into_inner());
    let loaded = state
        .db
        .run(move |conn| -> omni_db::Result<Option<(i64, Vec<_>)>> {
            let revision = policies::revision(conn)?;
            if Some(revision) == known {
                return Ok(None);
            }
            Ok(Some((revision, policies::all(conn)?)))
        })
        .await?;
    let Some((revision, stored)) = loaded else {
        return Ok(0);
    };
    let set = compile(stored);
    let before = {
        // Two reloads can race (the loop and an HTTP change): the newer revision wins, never the older.
        let mut loaded = state.policies.revision.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.is_some_and(|r| r >= revision) {
            return Ok(0);
        }
        *loaded = Some(revision);
        state.policies.swap(set.clone())
    };
    let changed: Vec<CompiledPolicy> = set.changed_since(&before).into_iter().cloned().collect();
    tracing::info!(
        revision,
        rules = set.iter().count(),
        changed = changed.len(),
        "Policies loaded."
    );
    if known.is_none() {
        // The first load of this process: nothing published before was computed with other rules here.
        return Ok(0);
    }
    republish_concerned(state, &changed).await
}

/// Reads the policy file and, if its content changed, brings the database's file policies in line with it:
/// all of the file or none of it (a bad file changes nothing and is logged with the rule and field at fault).
pub async fn sync_file(state: &State, path: &Path) -> Result<bool, PolicyError> {
    let content = std::fs::read_to_string(path).map_err(|source| PolicyError::Unreadable {
        path: path.display().to_string(),
        source,
    })?;
    if state
        .policies
        .file_content
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_deref()
        == Some(content.as_str())
    {
        return Ok(false);
    }
    let file = parse_file(&content).map_err(|source| PolicyError::InvalidFile {
        path: path.display().to_string(),
        source,
    })?;
    let by = format!("file:{}", path.display());
    state
        .db
        .transaction(move |conn| -> Result<(), omni_db::Error> {
            apply_source(conn, &file.policies, PolicySource::File, &by)
        })
        .await?;
    *state
        .policies
        .file_content
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(content);
    Ok(true)
}

/// Parses and checks a policy file: JSON `{"policies": [...]}`, unique ids, every rule valid.
pub fn parse_file(content: &str) -> Result<PolicyFile, InvalidPolicy> {
    let file: PolicyFile = serde_json::from_str(content).map_err(|e| InvalidPolicy(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for (i, spec) in file.policies.iter().enumerate() {
        if !seen.insert(spec.id.clone()) {
            return Err(InvalidPolicy(format!(
                "policies[{i}].id: `{}` appears twice",
                spec.id
            )));
        }
        crate::domain::policy::check(spec)
            .map_err(|e| InvalidPolicy(format!("policies[{i}] (`{}`).{e}", spec.id)))?;
    }
    Ok(file)
}

/// Brings the database's policies from `source` in line with `specs`: writes what changed, deletes what is gone,
/// audits each change as `by`. An entry the store refuses (an id another source manages) is logged and skipped.
fn apply_source(
    conn: &mut DbConnection,
    specs: &[omni_contracts::policies::PolicySpec],
    source: PolicySource,
    by: &str,
) -> omni_db::Result<()> {
    let source_json = serde_json::to_value(source).unwrap_or_default();
    let wanted: BTreeSet<&str> = specs.iter().map(|p| p.id.as_str()).collect();
    for spec in specs {
        match policies::write(conn, spec, source, by, None) {
            Ok((stored, true)) => omni_db::audit::record(
                conn,
                by,
                "policy.written",
                spec.id.as_str(),
                &serde_json::json!({ "version": stored.version, "source": source_json }),
            )?,
            Ok((_, false)) => {}
            Err(policies::WriteRefused::Db(e)) => return Err(e),
            Err(refused) => {
                tracing::error!(policy.id = %spec.id, error = %refused, source = %source_json, "Policy not applied.");
            }
        }
    }
    for id in policies::ids_from(conn, source)? {
        if wanted.contains(id.as_str()) {
            continue;
        }
        match policies::delete(conn, &id, source, by) {
            Ok(_) => omni_db::audit::record(
                conn,
                by,
                "policy.deleted",
                id.as_str(),
                &serde_json::json!({ "source": source_json }),
            )?,
            Err(policies::WriteRefused::Db(e)) => return Err(e),
            Err(_) => {}
        }
    }
    Ok(())
}

/// Applies the `BufferPolicy` resources of the watched namespace: every valid one is written as a `kubernetes`
/// policy, any other `kubernetes` policy is deleted, and the rules in force are reloaded at once. A resource that
/// is not a valid rule is logged with the field at fault and left out; the rest still apply.
pub async fn sync_kubernetes(
    state: &State,
    namespace: &str,
    resources: Vec<omni_kube::BufferPolicy>,
) -> Result<usize, PolicyError> {
    let specs: Vec<_> = resources
        .iter()
        .filter_map(|resource| {
            let name = resource.metadata.name.clone().unwrap_or_default();
            resource
                .to_spec()
                .map_err(|e| e.to_string())
                .and_then(|spec| {
                    crate::domain::policy::check(&spec)
                        .map(|()| spec)
                        .map_err(|e| e.to_string())
                })
                .map_err(|e| tracing::error!(resource = %name, namespace, error = %e, "BufferPolicy is not a valid rule; ignored."))
                .ok()
        })
        .collect();
    let applied = specs.len();
    let by = format!("kubernetes:{namespace}");
    state
        .db
        .transaction(move |conn| -> Result<(), omni_db::Error> {
            apply_source(conn, &specs, PolicySource::Kubernetes, &by)
        })
        .await?;
    reload(state).await?;
    Ok(applied)
}

/// Outside Kubernetes mode no resource is watched, so no rule comes from one: policies a Kubernetes-mode run left
/// behind are deleted (audited), as if their resources were. Without this they would stay in force and, being
/// managed by a source that is gone, could not be changed or removed at all.
pub async fn retire_kubernetes(state: &State) -> Result<(), PolicyError> {
    state
        .db
        .transaction(move |conn| -> Result<(), omni_db::Error> {
            apply_source(conn, &[], PolicySource::Kubernetes, "kubernetes mode off")
        })
        .await?;
    reload(state).await.map(|_| ())
}

/// Keeps the `BufferPolicy` resources of `namespace` applied until shutdown (Kubernetes mode).
pub async fn watch_kubernetes(
    state: State,
    client: kube::Client,
    namespace: String,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let api = kube::Api::<omni_kube::BufferPolicy>::namespaced(client, &namespace);
    let (sink, mut snapshots) = tokio::sync::mpsc::channel(1);
    let watch = tokio::spawn(omni_kube::watch::snapshots(api, sink, shutdown.clone()));
    while let Some(mut snapshot) = snapshots.recv().await {
        // Only the newest set matters; skip any that queued up behind a slow database.
        while let Ok(newer) = snapshots.try_recv() {
            snapshot = newer;
        }
        loop {
            match sync_kubernetes(&state, &namespace, snapshot.clone()).await {
                Ok(applied) => {
                    tracing::info!(namespace = %namespace, applied, "BufferPolicy resources applied.");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "BufferPolicy resources not applied; retrying.");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }
    watch.abort();
}

/// Re-publishes availability where a rule's time window, dates or weather condition turned on or off since the
/// last check. Returns how many SKUs were re-published.
pub async fn check_schedule(state: &State) -> Result<usize, PolicyError> {
    let set = state.policies.current();
    if !set.iter().any(|p| p.is_scheduled()) {
        state
            .policies
            .scheduled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        return Ok(0);
    }
    let facts = state.db.run(catalog::location_facts).await?;
    let now = Utc::now();
    let states: BTreeMap<LocationId, BTreeSet<PolicyId>> = facts
        .iter()
        .map(|location| (location.id.clone(), set.scheduled_state(location, now)))
        .collect();
    // A location not seen before counts as "everything off", so a rule that is on when first seen is published.
    let toggled: BTreeSet<PolicyId> = {
        let scheduled = state.policies.scheduled.lock().unwrap_or_else(|p| p.into_inner());
        let none = BTreeSet::new();
        states
            .iter()
            .flat_map(|(id, on)| {
                on.symmetric_difference(scheduled.get(id).unwrap_or(&none))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    if toggled.is_empty() {
        return Ok(0);
    }
    tracing::info!(rules = ?toggled, "Rule windows or weather changed; re-publishing availability.");
    let changed: Vec<CompiledPolicy> = set
        .iter()
        .filter(|p| toggled.contains(&p.spec.id))
        .cloned()
        .collect();
    let republished = republish_concerned(state, &changed).await?;
    // Only once published: a failed attempt is retried on the next check.
    state
        .policies
        .scheduled
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(states);
    Ok(republished)
}

/// Re-publishes the availability of every SKU in the ledger that one of `changed` concerns.
async fn republish_concerned(state: &State, changed: &[CompiledPolicy]) -> Result<usize, PolicyError> {
    if changed.is_empty() {
        return Ok(0);
    }
    let changed = changed.to_vec();
    let skus = state
        .db
        .run(move |conn| -> omni_db::Result<Vec<Sku>> {
            let tags = catalog::sku_tags(conn)?;
            Ok(ledger::skus(conn)?
                .into_iter()
                .filter(|sku| {
                    let tags = tags.get(sku.as_str()).map(Vec::as_slice).unwrap_or_default();
                    changed.iter().any(|p| p.concerns_sku(sku, tags))
                })
                .collect())
        })
        .await?;
    republish(state, skus).await
}

/// Publishes the current availability of `skus` again (marks them for the publisher, in bounded transactions).
pub async fn republish(state: &State, skus: Vec<Sku>) -> Result<usize, PolicyError> {
    let count = skus.len();
    for batch in skus.chunks(REPUBLISH_BATCH) {
        let batch = batch.to_vec();
        state
            .db
            .transaction(move |conn| -> omni_db::Result<()> {
                for sku in &batch {
                    crate::app::availability::availability_changed(conn, sku)?;
                }
                Ok(())
            })
            .await?;
    }
    if count > 0 {
        state.changed();
    }
    Ok(count)
}

/// Keeps policies current until shutdown: the file, other replicas' changes, windows and weather.
pub async fn keep_current(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
    every: std::time::Duration,
) {
    loop {
        if let Some(path) = state.policies.file.clone() {
            match sync_file(&state, &path).await {
                Ok(true) => tracing::info!(file = %path.display(), "Policy file applied."),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "Policy file not applied; the rules in force stay."),
            }
        }
        if let Err(e) = reload(&state).await {
            tracing::warn!(error = %e, "Policy reload failed; retrying.");
        }
        if let Err(e) = check_schedule(&state).await {
            tracing::warn!(error = %e, "Rule window check failed; retrying.");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

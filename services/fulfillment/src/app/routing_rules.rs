//! Routing rules at run time: the set in force, swapped atomically, from the routing file
//! (`policies.routing_file`) and, in Kubernetes mode, the `RoutingPolicy` resources of the watched namespace.
//! Both hot-reload; a bad file or resource changes nothing and is logged naming the rule and field.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use omni_contracts::routing::{RoutingFile, RoutingRule};
use tokio_util::sync::CancellationToken;

use crate::error::{InvalidRules, RulesError};

/// The routing rules shared by the order consumer and the reload tasks.
#[derive(Debug, Default)]
pub struct RoutingRules {
    from_file: RwLock<Arc<Vec<RoutingRule>>>,
    from_kubernetes: RwLock<Arc<Vec<RoutingRule>>>,
    file_content: Mutex<Option<String>>,
    /// The routing file, if configured.
    pub file: Option<PathBuf>,
}

impl RoutingRules {
    /// Rules read from `file` (if any), none loaded yet.
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            ..Self::default()
        }
    }

    /// Every rule in force: the file's, then the resources' (a resource with the id of a file rule is left out).
    pub fn current(&self) -> Vec<RoutingRule> {
        let read = |lock: &RwLock<Arc<Vec<RoutingRule>>>| {
            lock.read()
                .map(|r| r.clone())
                .unwrap_or_else(|p| p.into_inner().clone())
        };
        let (file, kubernetes) = (read(&self.from_file), read(&self.from_kubernetes));
        let ids: BTreeSet<_> = file.iter().map(|r| r.id.clone()).collect();
        file.iter()
            .cloned()
            .chain(kubernetes.iter().filter(|r| !ids.contains(&r.id)).cloned())
            .collect()
    }

    fn set(lock: &RwLock<Arc<Vec<RoutingRule>>>, rules: Vec<RoutingRule>) {
        *lock.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
    }

    /// Reads the routing file and, if its content changed, puts its rules in force. `Ok(true)`: applied.
    pub fn sync_file(&self, path: &Path) -> Result<bool, RulesError> {
        let content = std::fs::read_to_string(path).map_err(|source| RulesError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        let mut seen = self.file_content.lock().unwrap_or_else(|p| p.into_inner());
        if seen.as_deref() == Some(content.as_str()) {
            return Ok(false);
        }
        let rules = parse_file(&content).map_err(|reason| RulesError::Invalid {
            path: path.display().to_string(),
            reason,
        })?;
        Self::set(&self.from_file, rules);
        *seen = Some(content);
        Ok(true)
    }

    /// Puts the rules of the watched `RoutingPolicy` resources in force; one that is not a valid rule is logged
    /// and left out. Returns how many apply.
    pub fn apply_resources(&self, namespace: &str, resources: &[omni_kube::RoutingPolicy]) -> usize {
        let rules: Vec<RoutingRule> = resources
            .iter()
            .filter_map(|resource| {
                resource
                    .to_rule()
                    .map_err(|e| {
                        let name = resource.metadata.name.as_deref().unwrap_or_default();
                        tracing::error!(resource = %name, namespace, error = %e, "RoutingPolicy is not a valid rule; ignored.");
                    })
                    .ok()
            })
            .collect();
        let applied = rules.len();
        Self::set(&self.from_kubernetes, rules);
        applied
    }
}

/// Parses and checks a routing file: JSON `{"rules": [...]}`, unique ids, every rule valid.
pub fn parse_file(content: &str) -> Result<Vec<RoutingRule>, InvalidRules> {
    let file: RoutingFile = serde_json::from_str(content).map_err(|e| InvalidRules(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for (i, rule) in file.rules.iter().enumerate() {
        if !seen.insert(rule.id.clone()) {
            return Err(InvalidRules(format!(
                "rules[{i}].id: `{}` appears twice",
                rule.id
            )));
        }
        rule.check()
            .map_err(|e| InvalidRules(format!("rules[{i}] (`{}`).{e}", rule.id)))?;
    }
    Ok(file.rules)
}

/// Re-reads the routing file every `every` until shutdown.
pub async fn keep_file_current(rules: Arc<RoutingRules>, every: Duration, shutdown: CancellationToken) {
    let Some(path) = rules.file.clone() else {
        return;
    };
    loop {
        match rules.sync_file(&path) {
            Ok(true) => tracing::info!(file = %path.display(), "Routing rules applied."),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "Routing file not applied; the rules in force stay."),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Keeps the `RoutingPolicy` resources of `namespace` in force until shutdown (Kubernetes mode).
pub async fn watch_kubernetes(
    rules: Arc<RoutingRules>,
    client: kube::Client,
    namespace: String,
    shutdown: CancellationToken,
) {
    let api = kube::Api::<omni_kube::RoutingPolicy>::namespaced(client, &namespace);
    let (sink, mut snapshots) = tokio::sync::mpsc::channel(1);
    let watch = tokio::spawn(omni_kube::watch::snapshots(api, sink, shutdown));
    while let Some(snapshot) = snapshots.recv().await {
        let applied = rules.apply_resources(&namespace, &snapshot);
        tracing::info!(namespace = %namespace, applied, "RoutingPolicy resources applied.");
    }
    watch.abort();
}

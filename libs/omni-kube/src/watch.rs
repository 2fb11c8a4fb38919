//! Watching custom resources as whole snapshots. Services do not need each add and delete: they need "the set
//! of resources now", to apply all of it (the database sync in allocation, the rule set in fulfillment). This
//! watch keeps the set from kube's watcher (list, then watch, re-listing after a gap) and hands it on after the
//! first complete list and after every change.

use std::collections::BTreeMap;
use std::fmt::Debug;

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Objects by namespace and name, as last seen.
pub type Snapshot<K> = Vec<K>;

/// The set of objects of one kind, kept from watch events; `None` from [`Self::apply`] means "no new complete
/// set yet" (a re-list under way).
#[derive(Debug)]
pub struct SnapshotKeeper<K> {
    current: BTreeMap<(String, String), K>,
    relisting: Option<BTreeMap<(String, String), K>>,
    complete: bool,
}

impl<K> Default for SnapshotKeeper<K> {
    fn default() -> Self {
        Self {
            current: BTreeMap::new(),
            relisting: None,
            complete: false,
        }
    }
}

impl<K: Resource + Clone> SnapshotKeeper<K> {
    /// Takes one watch event; returns the whole set when it changed and is complete.
    pub fn apply(&mut self, event: Event<K>) -> Option<Snapshot<K>> {
        let key = |k: &K| (k.namespace().unwrap_or_default(), k.name_any());
        match event {
            Event::Init => {
                self.relisting = Some(BTreeMap::new());
                None
            }
            Event::InitApply(object) => {
                self.relisting
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key(&object), object);
                None
            }
            Event::InitDone => {
                self.current = self.relisting.take().unwrap_or_default();
                self.complete = true;
                Some(self.snapshot())
            }
            Event::Apply(object) => {
                self.current.insert(key(&object), object);
                self.complete.then(|| self.snapshot())
            }
            Event::Delete(object) => {
                self.current.remove(&key(&object));
                self.complete.then(|| self.snapshot())
            }
        }
    }

    fn snapshot(&self) -> Snapshot<K> {
        self.current.values().cloned().collect()
    }
}

/// Watches `api` until shutdown, sending the whole set after the first complete list and after each change.
/// The watcher re-lists after errors and gaps with kube's default backoff; errors are logged, never fatal.
pub async fn snapshots<K>(api: Api<K>, sink: mpsc::Sender<Snapshot<K>>, shutdown: CancellationToken)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut keeper = SnapshotKeeper::default();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = stream.next() => event,
        };
        match event {
            None => return,
            Some(Err(e)) => tracing::warn!(kind = %kind, error = %e, "Kubernetes watch failed; retrying."),
            Some(Ok(event)) => {
                if let Some(snapshot) = keeper.apply(event) {
                    tracing::debug!(kind = %kind, objects = snapshot.len(), "Kubernetes resources changed.");
                    if sink.send(snapshot).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// A client for watching `namespace` (`policies.kubernetes_namespace`): from the pod's service account, or
/// `KUBECONFIG` / `~/.kube/config` outside a cluster. The error names the setting, for a failed start.
pub async fn client(namespace: &str) -> Result<kube::Client, crate::Error> {
    kube::Client::try_default()
        .await
        .map_err(|source| crate::Error::NoApi {
            namespace: namespace.to_owned(),
            source,
        })
}

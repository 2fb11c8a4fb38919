//! The embedded broker for `omni dev`: librdkafka's in-process mock cluster, speaking the real Kafka protocol
//! on a loopback port, so other processes (a partner simulator, `kcat`-like tools) can connect too.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

use crate::topics::{DEFAULT_PARTITIONS, TopicNames};
use crate::{Error, Result};

/// A running mock cluster with every Omni topic created. Stops when dropped.
#[derive(Debug)]
pub struct EmbeddedKafka {
    bootstrap: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedKafka {
    /// Starts the cluster on its own thread (the mock handle is not `Send`) and creates the topics.
    pub fn start(topics: &TopicNames) -> Result<Self> {
        let names: Vec<String> = topics.all_physical().into_iter().map(|(name, _)| name).collect();
        let (ready_tx, ready_rx) = mpsc::channel::<std::result::Result<String, Error>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("omni-embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(1) {
                    Ok(cluster) => cluster,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Client(e)));
                        return;
                    }
                };
                for name in &names {
                    if let Err(e) = cluster.create_topic(name, DEFAULT_PARTITIONS, 1) {
                        let _ = ready_tx.send(Err(Error::Client(e)));
                        return;
                    }
                }
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                // Keep the cluster alive until told to stop (or the handle is gone).
                let _ = stop_rx.recv();
                drop(cluster);
            })
            .map_err(|e| Error::Unreachable {
                bootstrap: "embedded".into(),
                reason: e.to_string(),
            })?;
        let bootstrap = ready_rx.recv().map_err(|e| Error::Unreachable {
            bootstrap: "embedded".into(),
            reason: e.to_string(),
        })??;
        Ok(Self {
            bootstrap,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `host:port` of the mock broker.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

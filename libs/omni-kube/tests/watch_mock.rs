//! The watch against kube's tower-test mock: the list, then the watch from its resource version, and a snapshot
//! after each change (no API server involved; tests/end_to_end/policy_crd_watch.rs runs one in memory).

use futures::FutureExt;
use http::{Request, Response};
use kube::Api;
use kube::client::Body;
use omni_kube::BufferPolicy;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn policy(name: &str, units: u32, resource_version: &str) -> serde_json::Value {
    json!({
        "apiVersion": "omni.dev/v1alpha1", "kind": "BufferPolicy",
        "metadata": { "name": name, "namespace": "omni", "resourceVersion": resource_version },
        "spec": { "effect": { "hold_back": { "units": units } } }
    })
}

/// `(rule id, units held back)` of each resource; a resource that is not such a rule is left out (and the
/// comparison fails).
fn units(snapshot: &[BufferPolicy]) -> Vec<(String, u32)> {
    use omni_contracts::policies::{Amount, Effect};
    snapshot
        .iter()
        .filter_map(|p| {
            let spec = p.to_spec().ok()?;
            match spec.effect {
                Effect::HoldBack(Amount::Units(n)) => Some((spec.id.to_string(), n)),
                _ => None,
            }
        })
        .collect()
}

#[tokio::test]
async fn the_watch_sends_the_whole_set_after_the_list_and_after_each_change() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "omni");
    let api: Api<BufferPolicy> = Api::namespaced(client, "omni");
    let (sink, mut snapshots) = mpsc::channel(8);
    let shutdown = CancellationToken::new();
    let watch = tokio::spawn(omni_kube::watch::snapshots(api, sink, shutdown.clone()));

    // 1. The list.
    let (request, reply) = handle.next_request().await.expect("a list request");
    let uri = request.uri().to_string();
    assert!(
        uri.starts_with("/apis/omni.dev/v1alpha1/namespaces/omni/bufferpolicies?"),
        "{uri}"
    );
    assert!(!uri.contains("watch=true"), "{uri}");
    let list = json!({
        "apiVersion": "omni.dev/v1alpha1", "kind": "BufferPolicyList",
        "metadata": { "resourceVersion": "10" },
        "items": [policy("storm-buffer", 2, "9"), policy("vip-fence", 1, "10")]
    });
    reply.send_response(Response::new(Body::from(
        serde_json::to_vec(&list).expect("json"),
    )));
    let first = snapshots.recv().await.expect("the first snapshot");
    assert_eq!(
        units(&first),
        [("storm-buffer".into(), 2), ("vip-fence".into(), 1)]
    );

    // 2. The watch from the list's version: one rule changed, the other deleted.
    let (request, reply) = handle.next_request().await.expect("a watch request");
    let uri = request.uri().to_string();
    assert!(
        uri.contains("watch=true") && uri.contains("resourceVersion=10"),
        "{uri}"
    );
    let events = [
        json!({ "type": "MODIFIED", "object": policy("storm-buffer", 5, "11") }),
        json!({ "type": "DELETED", "object": policy("vip-fence", 1, "12") }),
    ];
    let body: Vec<u8> = events
        .iter()
        .flat_map(|e| {
            let mut line = serde_json::to_vec(e).expect("json");
            line.push(b'\n');
            line
        })
        .collect();
    reply.send_response(Response::new(Body::from(body)));
    let changed = snapshots.recv().await.expect("after the change");
    assert_eq!(
        units(&changed),
        [("storm-buffer".into(), 5), ("vip-fence".into(), 1)]
    );
    let deleted = snapshots.recv().await.expect("after the delete");
    assert_eq!(units(&deleted), [("storm-buffer".into(), 5)]);

    // The watch goes on from the last version it saw; shutdown ends it.
    let (request, _reply) = handle.next_request().await.expect("the next watch");
    assert!(
        request.uri().to_string().contains("resourceVersion=12"),
        "{}",
        request.uri()
    );
    shutdown.cancel();
    watch.now_or_never();
}

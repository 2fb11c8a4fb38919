//! The custom resources: `BufferPolicy` (a buffer or segment rule for allocation) and `RoutingPolicy` (a routing
//! rule for fulfillment), group `omni.dev`, version `v1alpha1`, namespaced. A resource's name is the rule's id;
//! its spec is the rule without the id. `omni crdgen` writes their definitions (`charts/omni/crds/`), and a
//! test fails when the committed files differ from what these types generate.

use kube::CustomResource;
use kube::CustomResourceExt;
use omni_contracts::PolicyId;
use omni_contracts::policies::{Conditions, Effect, PolicySpec};
use omni_contracts::routing::{RoutingConditions, RoutingEffect, RoutingRule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A buffer or segment rule: which availability it withholds or ring-fences, and when (docs/POLICIES.md).
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "omni.dev",
    version = "v1alpha1",
    kind = "BufferPolicy",
    plural = "bufferpolicies",
    shortname = "bufpol",
    namespaced,
    doc = "A buffer or segment rule that allocation applies to online availability.",
    printcolumn = r#"{"name":"Enabled","type":"boolean","jsonPath":".spec.enabled"}"#,
    printcolumn = r#"{"name":"Priority","type":"integer","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(deny_unknown_fields)]
pub struct BufferPolicySpec {
    /// What the rule is for, in words.
    #[serde(default)]
    pub description: String,
    /// A disabled rule is kept but never applies.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Among matching hold-backs (and among ring-fences of one segment) only the highest priority counts.
    #[serde(default)]
    pub priority: i32,
    /// When the rule applies; an absent condition matches everything.
    #[serde(default)]
    pub when: Conditions,
    /// What it does: `hold_back` units or a percentage, or `ring_fence` them for a segment.
    pub effect: Effect,
}

/// A routing rule: which nodes fulfillment may send the orders it matches to, or prefers.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "omni.dev",
    version = "v1alpha1",
    kind = "RoutingPolicy",
    plural = "routingpolicies",
    shortname = "routepol",
    namespaced,
    doc = "A routing rule that fulfillment applies when it chooses a node for an order.",
    printcolumn = r#"{"name":"Enabled","type":"boolean","jsonPath":".spec.enabled"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(deny_unknown_fields)]
pub struct RoutingPolicySpec {
    /// What the rule is for, in words.
    #[serde(default)]
    pub description: String,
    /// A disabled rule is kept but never applies.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Which orders it applies to; an absent condition matches everything.
    #[serde(default)]
    pub when: RoutingConditions,
    /// What it does: `exclude` nodes, `max_distance_km` for shipments, or `prefer` nodes.
    pub effect: RoutingEffect,
}

fn enabled() -> bool {
    true
}

/// The rule id a resource stands for: its name, which must be a valid policy code.
fn rule_id(name: Option<&String>) -> Result<PolicyId, crate::Error> {
    let name = name.ok_or_else(|| crate::Error::InvalidResource("metadata.name: missing".into()))?;
    PolicyId::parse(name).map_err(|e| crate::Error::InvalidResource(format!("metadata.name: {e}")))
}

impl BufferPolicy {
    /// The rule this resource describes (checked by allocation like any other).
    pub fn to_spec(&self) -> Result<PolicySpec, crate::Error> {
        let spec = self.spec.clone();
        Ok(PolicySpec {
            id: rule_id(self.metadata.name.as_ref())?,
            description: spec.description,
            enabled: spec.enabled,
            priority: spec.priority,
            when: spec.when,
            effect: spec.effect,
        })
    }
}

impl RoutingPolicy {
    /// The rule this resource describes, checked.
    pub fn to_rule(&self) -> Result<RoutingRule, crate::Error> {
        let spec = self.spec.clone();
        let rule = RoutingRule {
            id: rule_id(self.metadata.name.as_ref())?,
            description: spec.description,
            enabled: spec.enabled,
            when: spec.when,
            effect: spec.effect,
        };
        rule.check()
            .map_err(|e| crate::Error::InvalidResource(e.to_string()))?;
        Ok(rule)
    }
}

/// The definitions of every Omni custom resource, as `(file name, YAML)`, in a stable order.
pub fn definitions() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    [BufferPolicy::crd(), RoutingPolicy::crd()]
        .into_iter()
        .map(|crd| {
            let name = format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("crd"));
            let yaml = serde_yaml::to_string(&crd)?;
            Ok((
                name,
                format!("# Generated by `omni crdgen` from libs/omni-kube/src/crd.rs; do not edit.\n{yaml}"),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed definitions (charts/omni/crds/) are exactly what the types generate: run `omni crdgen` after
    /// changing a policy type.
    #[test]
    fn the_committed_definitions_match_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/omni/crds");
        let generated = definitions().expect("definitions serialise");
        for (name, yaml) in &generated {
            let committed = std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("charts/omni/crds/{name}: {e}; run `omni crdgen`"));
            assert!(
                committed == *yaml,
                "charts/omni/crds/{name} differs from the Rust types; run `cargo run -- crdgen`"
            );
        }
        let committed: Vec<String> = std::fs::read_dir(&dir)
            .expect("charts/omni/crds")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".yaml"))
            .collect();
        assert_eq!(
            committed.len(),
            generated.len(),
            "stale files in charts/omni/crds: {committed:?}"
        );
    }

    #[test]
    fn a_resource_is_its_rule_named_by_the_resource() {
        let resource: BufferPolicy = serde_json::from_value(serde_json::json!({
            "apiVersion": "omni.dev/v1alpha1", "kind": "BufferPolicy",
            "metadata": { "name": "storm-buffer", "namespace": "omni" },
            "spec": { "priority": 5, "effect": { "hold_back": { "units": 2 } } }
        }))
        .expect("a valid resource");
        let spec = resource.to_spec().expect("a valid rule");
        assert_eq!(spec.id.as_str(), "storm-buffer");
        assert!(spec.enabled);
        assert_eq!(spec.priority, 5);

        let bad: RoutingPolicy = serde_json::from_value(serde_json::json!({
            "apiVersion": "omni.dev/v1alpha1", "kind": "RoutingPolicy",
            "metadata": { "name": "far" },
            "spec": { "effect": { "max_distance_km": 0 } }
        }))
        .expect("parses");
        assert!(bad.to_rule().unwrap_err().to_string().contains("max_distance_km"));
    }

    #[test]
    fn the_definitions_are_structural_and_name_the_group() {
        let crd = serde_json::to_value(BufferPolicy::crd()).expect("json");
        assert_eq!(crd["spec"]["group"], "omni.dev");
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["required"], serde_json::json!(["effect"]));
        // Kubernetes refuses `oneOf` branches that declare types, and `additionalProperties` beside properties.
        let text = serde_json::to_string(&crd).expect("text");
        assert!(!text.contains("additionalProperties"), "{text}");
    }
}

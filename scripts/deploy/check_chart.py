#!/usr/bin/env python3
"""Lints and renders charts/omni with Helm's own Go SDK (helm-python-sdk), checks what it renders, and checks that
bad values are refused.

    check_chart.py --out DIR

1. `helm lint --strict` (kube 1.30) with the default values and with charts/omni/ci/production-values.yaml.
2. Renders the default, production-like and development (values-dev.yaml) values into DIR/<name>.yaml, for
   kubernetes-validate and checkov (run by scripts/check-deploy.sh), and asserts what a platform team relies on:
   a Deployment, Service, HPA, PodDisruptionBudget and NetworkPolicy per service running `omni serve <service>`,
   probes on /health/live and /health/ready, the restricted security context, the default-deny policy, the
   migrations hook Job, and (production-like) the ServiceMonitor, the PrometheusRule with every alert's
   runbook_url pointing at an anchor that exists in docs/OPERATIONS.md, and the dashboards ConfigMaps.
   Kubernetes mode (policies.kubernetes.enabled, on in all three): allocation and fulfillment, and only they,
   run as their own ServiceAccount with a token mounted, OMNI__POLICIES__KUBERNETES_NAMESPACE = the release
   namespace and egress to the API server, each bound by a RoleBinding to a Role that may only get, list and
   watch its one kind of charts/omni/crds/ (group omni.dev). With the switch off (DIR/policies-off.yaml) there
   is no Role, RoleBinding or extra ServiceAccount and no pod mounts a token. No values yield a ClusterRole.
3. Every file in charts/tests/bad-values/ is refused: `# expect: schema` files by values.schema.json (and so by
   install, lint and template), `# expect: render` files by the templates' own checks.
4. The policy custom resources: charts/omni/crds/ defines BufferPolicy and RoutingPolicy (omni.dev/v1alpha1,
   namespaced), and every resource in charts/omni/examples/ is valid against its CRD's openAPIV3Schema (with
   python-jsonschema, which the deploy venv has through checkov; unknown fields refused, as kubectl's strict
   field validation does). scripts/check-deploy.sh validates the CRDs themselves with kubernetes-validate.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

import jsonschema
import yaml
from helm_python import chart as helm

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "omni"
BAD = ROOT / "charts" / "tests" / "bad-values"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
CRDS = CHART / "crds"
EXAMPLES = CHART / "examples"
SERVICES = ["catalog", "allocation", "orders", "fulfillment", "payments", "returns"]
KUBE = "v1.30.0"
RELEASE, NAMESPACE = "omni", "omni"

DEFAULTS = ROOT / "libs" / "omni-config" / "src" / "defaults.toml"
# Settings the chart may set that the binary does not have yet (docs/OPERATIONS.md, "Current limits"); only
# rendered when their value is switched on.
PLANNED_SETTINGS = {"redis.cluster"}
# Tables of libs/omni-config whose keys are free (maps), and the list of API keys with its fields.
MAP_SETTINGS = {"http.ports", "kafka.topics", "kafka.properties", "database.urls"}
API_KEY_FIELDS = {"key", "name", "roles", "partner_id", "locations"}
# Kubernetes mode: the kind of charts/omni/crds/ each service watches, and all its Role may do with it.
POLICY_KINDS = {"allocation": "BufferPolicy", "fulfillment": "RoutingPolicy"}
POLICY_GROUP, POLICY_VERSION = "omni.dev", "v1alpha1"
READ_VERBS = ["get", "list", "watch"]

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    if not ok:
        failures.append(what)
        print(f"  FAIL: {what}")


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def lint(name: str, values: dict | None) -> None:
    report = helm.lint(str(CHART), values, strict=True, kube_version=KUBE, namespace=NAMESPACE)
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + [
        {"error": e} for e in report.get("errors", [])
    ]
    for p in problems:
        print(f"  {p.get('path', '')}: {p['error']}")
    check(not problems, f"helm lint --strict with {name} values")
    if not problems:
        print(f"ok: helm lint --strict ({name} values, kube {KUBE})")


def render(chart: helm.Chart, values: dict | None) -> list[dict]:
    manifests = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__template", path)
                docs.append(doc)
    return docs


def write(docs: list[dict], out: Path) -> None:
    clean = [{k: v for k, v in d.items() if k != "__template"} for d in docs]
    out.write_text(yaml.safe_dump_all(clean, sort_keys=False))


def find(docs: list[dict], kind: str, name: str) -> dict | None:
    return next((d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name), None)


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    out = set()
    for line in markdown.splitlines():
        if m := re.match(r"^#{1,6}\s+(.*)$", line):
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(text.replace(" ", "-"))
    return out


def setting_known(path: str, defaults: dict) -> bool:
    """Whether a dotted settings key exists in libs/omni-config's defaults (or below one of its maps)."""
    parts = path.split(".")
    node = defaults
    for i, part in enumerate(parts):
        if ".".join(parts[:i]) in MAP_SETTINGS:
            return i == len(parts) - 1
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, dict) or path in MAP_SETTINGS


def assert_settings(label: str, docs: list[dict]) -> None:
    """Every OMNI__ variable and every key of the settings file names a real setting of libs/omni-config."""
    defaults = tomllib.loads(DEFAULTS.read_text())
    names: set[str] = set()
    for d in docs:
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-env"):
            names.update(k for k in d["data"] if k.startswith("OMNI__"))
        if d["kind"] in ("Deployment", "Job"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                names.update(e["name"] for e in c.get("env", []) if e["name"].startswith("OMNI__"))
    for name in sorted(names):
        path = ".".join(name.removeprefix("OMNI__").lower().split("__"))
        check(setting_known(path, defaults) or path in PLANNED_SETTINGS,
              f"{label}: {name} names a setting of libs/omni-config ({path})")
    settings = next((d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-settings")), None)
    if settings:
        try:
            toml = tomllib.loads(settings["stringData"]["omni.toml"])
        except tomllib.TOMLDecodeError as e:
            check(False, f"{label}: the settings file is TOML ({e})")
            return
        for section, table in toml.items():
            if section == "auth":
                for i, key in enumerate(table.get("api_keys", [])):
                    check(set(key) <= API_KEY_FIELDS, f"{label}: auth.api_keys[{i}] has only known fields")
                    check(len(key.get("key", "")) >= 16, f"{label}: auth.api_keys[{i}].key has 16+ characters")
            elif section == "kafka":
                check(set(table) <= {"properties"} and all(isinstance(v, str) for v in table["properties"].values()),
                      f"{label}: kafka.properties in the settings file are strings")
            else:
                for key in table:
                    check(setting_known(f"{section}.{key}", defaults), f"{label}: settings file key {section}.{key}")


def assert_common(label: str, docs: list[dict], values: dict) -> None:
    assert_settings(label, docs)
    assert_policy_access(label, docs, values)
    merged_services = values.get("services", {})
    hpa_default = values.get("serviceDefaults", {}).get("autoscaling", {}).get("enabled", True)
    check(find(docs, "NetworkPolicy", f"{RELEASE}-default-deny") is not None, f"{label}: default-deny NetworkPolicy")
    deny = find(docs, "NetworkPolicy", f"{RELEASE}-default-deny") or {"spec": {}}
    check(deny["spec"].get("policyTypes") == ["Ingress", "Egress"] and "ingress" not in deny["spec"]
          and "egress" not in deny["spec"], f"{label}: default-deny denies both directions")
    for svc in SERVICES:
        name = f"{RELEASE}-{svc}"
        dep = find(docs, "Deployment", name)
        check(dep is not None, f"{label}: Deployment {name}")
        if dep is None:
            continue
        pod = dep["spec"]["template"]["spec"]
        c = pod["containers"][0]
        check(c.get("args") == ["serve", svc], f"{label}: {name} runs `omni serve {svc}`")
        check(c["livenessProbe"]["httpGet"]["path"] == "/health/live", f"{label}: {name} liveness on /health/live")
        check(c["startupProbe"]["httpGet"]["path"] == "/health/live", f"{label}: {name} startup probe")
        check(c["readinessProbe"]["httpGet"]["path"] == "/health/ready", f"{label}: {name} readiness on /health/ready")
        check(bool(c["resources"].get("requests")) and bool(c["resources"].get("limits")), f"{label}: {name} resources")
        sc, psc = c["securityContext"], pod["securityContext"]
        check(sc.get("runAsNonRoot") and psc.get("runAsNonRoot"), f"{label}: {name} runAsNonRoot")
        check(sc.get("readOnlyRootFilesystem") is True, f"{label}: {name} readOnlyRootFilesystem")
        check(sc.get("allowPrivilegeEscalation") is False, f"{label}: {name} allowPrivilegeEscalation false")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{label}: {name} drops ALL capabilities")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{label}: {name} seccomp RuntimeDefault")
        check(any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), f"{label}: {name} writable /tmp")
        env = {e["name"]: e for e in c.get("env", [])}
        db = env.get(f"OMNI__DATABASE__URLS__{svc.upper()}") or env.get("OMNI__DATABASE__URL")
        check(db is not None and "secretKeyRef" in db.get("valueFrom", {}), f"{label}: {name} database URL from a Secret")
        check(("OMNI__REDIS__URL" in env) == (svc == "allocation"), f"{label}: only allocation gets the Redis URL")
        check(("OMNI__PAYMENTS__KEY_ENCRYPTION_KEY" in env) == (svc == "payments"), f"{label}: only payments gets the KEK")
        port = c["ports"][0]["containerPort"]
        svc_obj = find(docs, "Service", name)
        check(svc_obj is not None and svc_obj["spec"]["ports"][0]["port"] == port, f"{label}: Service {name}")
        hpa = find(docs, "HorizontalPodAutoscaler", name)
        own_hpa = merged_services.get(svc, {}).get("autoscaling", {}).get("enabled", hpa_default)
        check((hpa is not None) == own_hpa, f"{label}: HPA {name} {'present' if own_hpa else 'absent'}")
        check(("replicas" in dep["spec"]) != own_hpa, f"{label}: {name} replicas left to the HPA")
        np = find(docs, "NetworkPolicy", name)
        check(np is not None, f"{label}: NetworkPolicy {name}")
        if np:
            ports = {p["port"] for rule in np["spec"]["egress"] for p in rule.get("ports", [])}
            check(53 in ports, f"{label}: {name} may resolve DNS")
            redis_port = values.get("networkPolicy", {}).get("egress", {}).get("redis", {}).get("ports", [{"port": 6379}])[0]["port"]
            check((redis_port in ports) == (svc == "allocation"), f"{label}: only allocation may reach Redis")
    job = find(docs, "Job", f"{RELEASE}-migrations")
    check(job is not None, f"{label}: migrations Job")
    if job:
        ann = job["metadata"].get("annotations", {})
        check(ann.get("helm.sh/hook") == "pre-install,pre-upgrade", f"{label}: migrations Job is a pre-install/pre-upgrade hook")
        check(job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"], f"{label}: the Job runs `omni migrate`")
        check(job["spec"]["template"]["spec"].get("automountServiceAccountToken") is False,
              f"{label}: the migrations Job mounts no API token")


def load_crds() -> dict[str, dict]:
    """The committed CustomResourceDefinitions by kind."""
    crds = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                crds[doc["spec"]["names"]["kind"]] = doc
    return crds


def policy_egress(values: dict) -> dict:
    """The egress rule to the API server as omni.egressRule renders it."""
    rule = values["networkPolicy"]["egress"]["kubernetesApi"]
    return {"ports": rule["ports"], **({"to": rule["to"]} if rule.get("to") else {})}


def assert_policy_access(label: str, docs: list[dict], values: dict) -> None:
    """Kubernetes mode: only the pods that watch policy resources get a token, their own account, the namespace
    variable and egress to the API server, and their Roles only read their own kind. Off: none of it."""
    on = values["policies"]["kubernetes"]["enabled"]
    services = values.get("services", {})
    plurals = {kind: crd["spec"]["names"]["plural"] for kind, crd in load_crds().items()}
    readers = {svc: plurals.get(kind) for svc, kind in POLICY_KINDS.items() if on and services[svc]["enabled"]}
    shared_sa = values["serviceAccount"]["name"] or (RELEASE if values["serviceAccount"]["create"] else "default")
    env_map = next((d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-env")), {})
    check("OMNI__POLICIES__KUBERNETES_NAMESPACE" not in env_map,
          f"{label}: the policy namespace is no shared setting (not in the env ConfigMap)")
    api_rule = policy_egress(values)
    for svc in SERVICES:
        name = f"{RELEASE}-{svc}"
        dep = find(docs, "Deployment", name)
        if dep is None:
            continue
        pod = dep["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0].get("env", [])}
        watches = svc in readers
        check(pod.get("automountServiceAccountToken") is watches,
              f"{label}: {name} {'mounts its API token' if watches else 'mounts no API token'}")
        check(pod.get("serviceAccountName") == (name if watches else shared_sa),
              f"{label}: {name} runs as {name if watches else shared_sa}")
        ns = env.get("OMNI__POLICIES__KUBERNETES_NAMESPACE")
        check((ns is not None and ns.get("value") == NAMESPACE) if watches else ns is None,
              f"{label}: {name} {'watches' if watches else 'does not watch'} the release namespace's policies")
        np = find(docs, "NetworkPolicy", name)
        if np:
            check((api_rule in np["spec"]["egress"]) == watches,
                  f"{label}: {name} {'may' if watches else 'may not'} reach the Kubernetes API server")
    watchers = {f"{RELEASE}-{svc}" for svc in readers}
    for d in docs:
        what = f"{d['kind']} {d['metadata']['name']}"
        workload = d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
        if workload and d["metadata"]["name"] not in watchers:
            pod = d["spec"].get("jobTemplate", d)["spec"]["template"]["spec"]
            check(pod.get("automountServiceAccountToken") is False, f"{label}: {what} mounts no API token")
        if d["kind"] == "ServiceAccount":
            check(d.get("automountServiceAccountToken") is False, f"{label}: {what} leaves the token to the pods")
    check(not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")], f"{label}: no cluster-wide RBAC")
    roles = [d for d in docs if d["kind"] == "Role"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    check(len(roles) == len(readers) and len(bindings) == len(readers),
          f"{label}: one Role and one RoleBinding per policy watcher ({len(readers)}; found {len(roles)} Roles, "
          f"{len(bindings)} RoleBindings)")
    check(accounts - {shared_sa, f"{RELEASE}-migrations"} == watchers,
          f"{label}: ServiceAccounts are the shared one, the migrations Job's and one per policy watcher "
          f"(found {sorted(accounts)})")
    for svc, plural in readers.items():
        name = f"{RELEASE}-{svc}"
        role = find(docs, "Role", f"{name}-policy-reader")
        binding = find(docs, "RoleBinding", f"{name}-policy-reader")
        check(plural is not None, f"{label}: charts/omni/crds/ defines {POLICY_KINDS[svc]}")
        check(role is not None and role["metadata"].get("namespace") == NAMESPACE
              and role.get("rules") == [{"apiGroups": [POLICY_GROUP], "resources": [plural], "verbs": READ_VERBS}],
              f"{label}: Role {name}-policy-reader may only get, list and watch {plural}.{POLICY_GROUP}")
        check(binding is not None and binding["metadata"].get("namespace") == NAMESPACE
              and binding.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                             "name": f"{name}-policy-reader"}
              and binding.get("subjects") == [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
              f"{label}: RoleBinding {name}-policy-reader binds that Role to ServiceAccount {name} only")


def structural(schema: dict) -> dict:
    """A CRD's openAPIV3Schema as JSON Schema: `nullable` admits null, and an object with `properties` refuses
    unknown fields (the API server would prune them; kubectl's strict field validation refuses them)."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: structural(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = structural(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [structural(v) for v in value]
        elif key != "nullable":
            out[key] = value
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out and "additionalProperties" not in out and not schema.get(
            "x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uint32")
def _uint32(value: object) -> bool:
    return not isinstance(value, int) or 0 <= value < 2**32


@FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def resource_errors(resource: dict, crds: dict[str, dict]) -> list[str]:
    """Why a custom resource would not be accepted by its CRD (empty: it would)."""
    crd = crds.get(resource.get("kind"))
    if crd is None:
        return [f"kind {resource.get('kind')!r} is not defined in charts/omni/crds/"]
    group = crd["spec"]["group"]
    version = next((v for v in crd["spec"]["versions"] if f"{group}/{v['name']}" == resource.get("apiVersion")), None)
    if version is None or not version.get("served"):
        return [f"apiVersion {resource.get('apiVersion')!r} is not served by {crd['metadata']['name']}"]
    errors = []
    meta = resource.get("metadata") or {}
    name = meta.get("name", "")
    # A resource's name is its rule's id: a DNS subdomain (Kubernetes) and a code of at most 64 characters (Omni).
    if not (re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name) and len(name) <= 64):
        errors.append(f"metadata.name {name!r}: lower-case letters, digits, '-' and '.', at most 64 characters")
    if "namespace" in meta:
        errors.append("metadata.namespace: leave it out, so that `kubectl -n <release namespace>` decides")
    body = {k: v for k, v in resource.items() if k not in ("apiVersion", "kind", "metadata")}
    validator = jsonschema.Draft7Validator(structural(version["schema"]["openAPIV3Schema"]), format_checker=FORMATS)
    for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        errors.append(f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:160]}")
    return errors


def check_policy_resources() -> None:
    crds = load_crds()
    for kind in POLICY_KINDS.values():
        crd = crds.get(kind)
        check(crd is not None, f"charts/omni/crds/ defines {kind}")
        if crd:
            spec = crd["spec"]
            check(spec["group"] == POLICY_GROUP and spec["scope"] == "Namespaced"
                  and [v["name"] for v in spec["versions"] if v.get("served")] == [POLICY_VERSION],
                  f"CRD {crd['metadata']['name']}: namespaced, {POLICY_GROUP}/{POLICY_VERSION} served")
            check(crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}",
                  f"CRD {crd['metadata']['name']} is named <plural>.<group>")
    seen = set()
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for resource in (d for d in yaml.safe_load_all(path.read_text()) if d):
            errors = resource_errors(resource, crds)
            what = f"{path.relative_to(ROOT)}: {resource.get('kind')} {resource.get('metadata', {}).get('name')}"
            for e in errors:
                print(f"  {what}: {e}")
            check(not errors, f"{what} is valid against its CRD")
            if not errors:
                seen.add(resource["kind"])
                print(f"ok: {what} is valid against its CRD's openAPIV3Schema")
    check(seen >= set(POLICY_KINDS.values()),
          f"charts/omni/examples/ has a valid {' and a valid '.join(POLICY_KINDS.values())}")
    # The validation itself bites: each of these is refused.
    storm = {"apiVersion": f"{POLICY_GROUP}/{POLICY_VERSION}", "kind": "BufferPolicy", "metadata": {"name": "storm"},
             "spec": {"when": {"weather": ["storm"]}, "effect": {"hold_back": {"units": 2}}}}
    check(not resource_errors(storm, crds), "a minimal BufferPolicy is valid")
    for change, why in (
            ({"when": {"wether": ["storm"]}}, "a misspelt condition"),
            ({"effect": {"hold_back": {"units": 2}, "ring_fence": {"segment": "vip", "amount": {"percent": 10}}}},
             "two effects at once"),
            ({"effect": {"hold_back": {"units": "2"}}}, "a string amount"),
            ({"effect": {"hold_back": {"units": 2, "percent": 5}}}, "two amounts at once"),
            ({"when": {"weather": ["drizzle"]}}, "an unknown weather"),
    ):
        bad = {**storm, "spec": {**storm["spec"], **change}}
        check(bool(resource_errors(bad, crds)), f"a BufferPolicy with {why} is refused by the CRD schema check")


def assert_production(docs: list[dict], values: dict) -> None:
    label = "production"
    check(find(docs, "ServiceMonitor", RELEASE) is not None, f"{label}: ServiceMonitor")
    sm = find(docs, "ServiceMonitor", RELEASE)
    if sm:
        check(sm["spec"]["endpoints"][0].get("honorLabels") is True,
              f"{label}: ServiceMonitor keeps the metrics' own service label (honorLabels)")
    rule = find(docs, "PrometheusRule", RELEASE)
    check(rule is not None, f"{label}: PrometheusRule")
    if rule:
        alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
        expected = {"OmniAvailabilityLagHigh", "OmniOversoldUnits", "OmniKafkaConsumerLagHigh", "OmniMessagesParked", "OmniOutboxBacklog",
                    "OmniHttp5xxRateHigh", "OmniReservationLatencyHigh"}
        check({a["alert"] for a in alerts} >= expected, f"{label}: PrometheusRule has every SLO alert")
        base = values["metrics"]["prometheusRule"]["runbookBaseUrl"]
        have = anchors(OPERATIONS.read_text()) if OPERATIONS.exists() else set()
        for a in alerts:
            url = a.get("annotations", {}).get("runbook_url", "")
            check(url.startswith(base + "#"), f"{label}: {a['alert']} runbook_url uses runbookBaseUrl")
            anchor = url.partition("#")[2]
            check(anchor in have, f"{label}: {a['alert']} runbook anchor #{anchor} exists in docs/OPERATIONS.md")
    boards = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    want = len(list((ROOT / "charts" / "omni" / "files" / "dashboards").glob("*.json")))
    check(len(boards) == want, f"{label}: {want} Grafana dashboard ConfigMaps labelled grafana_dashboard=\"1\", one per generated dashboard (found {len(boards)})")
    for b in boards:
        for key, text in b["data"].items():
            try:
                json.loads(text)
            except ValueError as e:
                check(False, f"{label}: dashboard {key} is JSON ({e})")
    settings = find(docs, "Secret", f"{RELEASE}-settings")
    check(settings is not None, f"{label}: settings Secret")
    if settings:
        toml = settings["stringData"]["omni.toml"]
        check('"security.protocol" = "SASL_SSL"' in toml, f"{label}: Kafka SASL_SSL in the settings file")
        check("[[auth.api_keys]]" in toml, f"{label}: API keys in the settings file")


def negative(chart: helm.Chart) -> None:
    files = sorted(BAD.glob("*.yaml"))
    check(len(files) >= 2, "bad-values files exist")
    for path in files:
        header = path.read_text().splitlines()[0]
        m = re.match(r"#\s*expect:\s*(schema|render)", header)
        check(m is not None, f"{path.name}: first line is `# expect: schema|render`")
        if not m:
            continue
        expect = m.group(1)
        values = load_values(path)
        schema_error = render_error = None
        try:
            chart.validate_schema(values)  # merges the chart defaults itself, as install does
        except Exception as e:  # noqa: BLE001 - any refusal counts; the message is printed
            schema_error = str(e)
        try:
            render(chart, values)
        except Exception as e:  # noqa: BLE001
            render_error = str(e)
        if expect == "schema":
            ok = schema_error is not None and render_error is not None
            why = (schema_error or "").splitlines()[0:3]
        else:
            ok = schema_error is None and render_error is not None
            why = (render_error or "").splitlines()[0:1]
        check(ok, f"{path.name} must fail the {expect} check (schema: {schema_error is not None}, "
                  f"render: {render_error is not None})")
        if ok:
            print(f"ok: {path.name} refused by the {expect} check: {' '.join(w.strip() for w in why)[:200]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    prod_values = load_values(CHART / "ci" / "production-values.yaml")
    dev_values = load_values(CHART / "values-dev.yaml")
    lint("default", None)
    lint("production-like", prod_values)

    chart = helm.Chart.load(str(CHART))
    chart.validate_schema({})
    policies_off = {"policies": {"kubernetes": {"enabled": False}}}
    for name, values in (("default", {}), ("production", prod_values), ("dev", dev_values),
                         ("policies-off", policies_off)):
        docs = render(chart, values)
        write(docs, args.out / f"{name}.yaml")
        kinds: dict[str, int] = {}
        for d in docs:
            kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        print(f"ok: rendered {name} values: {len(docs)} objects ("
              + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + f") -> {args.out / (name + '.yaml')}")
        assert_common(name, docs, chart.merge_values(values))
    assert_production(render(chart, prod_values), chart.merge_values(prod_values))
    negative(chart)
    check_policy_resources()

    if failures:
        print(f"{len(failures)} chart check(s) failed")
        return 1
    print("ok: chart assertions passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

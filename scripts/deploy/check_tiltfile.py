#!/usr/bin/env python3
"""Parses, lints and evaluates the Tiltfile with starlark-rust (starlark-pyo3) against stand-in Tilt builtins, then
asserts what it declares. There is no tilt binary to run it with.

    check_tiltfile.py [--tiltfile Tiltfile]

The stand-ins record their calls and check their arguments the way Tilt would: files and directories named must
exist, `helm(...)` really renders the chart with the given values (Helm's Go SDK) so that `k8s_yaml` sees the
objects Tilt would deploy, and `k8s_resource` must name a workload that k8s_yaml declared. Then:
  * the omni binary is built by a local_resource running `cargo build`, and the image `omni` by docker_build
    from the repository's Dockerfile; the chart's workloads use that image;
  * the chart is deployed from charts/omni with charts/omni/values-dev.yaml;
  * every service (catalog, allocation, orders, fulfillment, payments, returns) is port-forwarded on its port,
    and so are the dependencies (kafka, redis, postgres), whose images are built or pulled;
  * every resource has a label (Tilt's UI groups by them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import starlark as sl
import yaml
from helm_python import chart as helm_chart

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"catalog": 8081, "allocation": 8082, "orders": 8083, "fulfillment": 8084, "payments": 8085, "returns": 8086}
DEPENDENCIES = {"kafka": 9092, "redis": 6379, "postgres": 5432}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"}


class TiltError(Exception):
    pass


class FakeTilt:
    """Stand-ins for the Tilt builtins the Tiltfile may use. Anything else is an undefined name."""

    def __init__(self) -> None:
        self.contexts: list[str] = []
        self.local_resources: dict[str, dict] = {}
        self.images: dict[str, dict] = {}
        self.objects: list[dict] = []
        self.helm_calls: list[dict] = []
        self.resources: dict[str, dict] = {}

    # -- helpers -------------------------------------------------------------------------------------------
    @staticmethod
    def _path(p: str, what: str) -> Path:
        if not isinstance(p, str):
            raise TiltError(f"{what}: expected a path string, got {p!r}")
        path = ROOT / p
        if not path.exists():
            raise TiltError(f"{what}: {p} does not exist")
        return path

    def _yaml(self, text: str, origin: str) -> None:
        for doc in yaml.safe_load_all(text):
            if doc:
                if "kind" not in doc or "metadata" not in doc:
                    raise TiltError(f"k8s_yaml({origin}): an object without kind/metadata")
                self.objects.append(doc)

    # -- builtins ------------------------------------------------------------------------------------------
    def allow_k8s_contexts(self, contexts) -> None:
        self.contexts.extend([contexts] if isinstance(contexts, str) else list(contexts))

    def update_settings(self, k8s_upsert_timeout_secs=None, max_parallel_updates=None,
                        suppress_unused_image_warnings=None) -> None:
        for v in (k8s_upsert_timeout_secs, max_parallel_updates):
            if v is not None and (not isinstance(v, int) or v <= 0):
                raise TiltError(f"update_settings: expected a positive int, got {v!r}")

    def local_resource(self, name, cmd=None, deps=None, serve_cmd=None, resource_deps=None, labels=None,
                       auto_init=True, trigger_mode=None, allow_parallel=False, readiness_probe=None,
                       ignore=None, dir=None, env=None) -> None:
        if name in self.local_resources or name in self.resources:
            raise TiltError(f"local_resource: {name} declared twice")
        if not (cmd or serve_cmd):
            raise TiltError(f"local_resource({name}): needs cmd or serve_cmd")
        for d in deps or []:
            self._path(d, f"local_resource({name}) deps")
        self.local_resources[name] = {"cmd": cmd, "serve_cmd": serve_cmd, "deps": list(deps or []),
                                      "resource_deps": list(resource_deps or []), "labels": self._labels(labels),
                                      "auto_init": auto_init, "trigger_mode": trigger_mode}

    def docker_build(self, ref, context, dockerfile=None, build_args=None, only=None, ignore=None, target=None,
                     live_update=None, dockerfile_contents=None) -> None:
        ctx = self._path(context, f"docker_build({ref}) context")
        df = self._path(dockerfile, f"docker_build({ref}) dockerfile") if dockerfile else ctx / "Dockerfile"
        if not df.is_file():
            raise TiltError(f"docker_build({ref}): no Dockerfile at {df.relative_to(ROOT)}")
        for o in only or []:
            if not (ctx / o).exists():
                raise TiltError(f"docker_build({ref}) only: {o} does not exist in {context}")
        text = df.read_text()
        for arg in build_args or {}:
            if f"ARG {arg}" not in text:
                raise TiltError(f"docker_build({ref}): build arg {arg} is not an ARG of {df.relative_to(ROOT)}")
        self.images[ref] = {"context": context, "dockerfile": str(df.relative_to(ROOT)), "build_args": build_args or {},
                            "only": list(only or [])}

    def k8s_yaml(self, yaml_or_paths, allow_duplicates=False) -> None:
        items = yaml_or_paths if isinstance(yaml_or_paths, list) else [yaml_or_paths]
        for item in items:
            if isinstance(item, Blob):
                self._yaml(item.text, "helm()")
            else:
                self._yaml(self._path(item, "k8s_yaml").read_text(), item)

    def helm(self, path, name=None, namespace=None, values=None, set=None, kube_version=None) -> "Blob":
        self._path(path, "helm")
        merged: dict = {}
        for v in values or []:
            merged = deep_merge(merged, yaml.safe_load(self._path(v, "helm values").read_text()) or {})
        for s in set or []:
            key, _, value = s.partition("=")
            cur = merged
            parts = key.split(".")
            for p in parts[:-1]:
                cur = cur.setdefault(p, {})
            cur[parts[-1]] = value
        with helm_chart.Chart.load(str(ROOT / path)) as chart:
            rendered = chart.render(values=merged, name=name, namespace=namespace)
        self.helm_calls.append({"path": path, "name": name, "namespace": namespace, "values": list(values or [])})
        docs = [t for p, t in sorted(rendered.items()) if not p.endswith("NOTES.txt")]
        return Blob("\n---\n".join(docs))

    def k8s_resource(self, workload, port_forwards=None, resource_deps=None, labels=None, new_name=None,
                     objects=None, trigger_mode=None, auto_init=True) -> None:
        names = {o["metadata"]["name"] for o in self.objects if o["kind"] in WORKLOAD_KINDS}
        if workload not in names:
            raise TiltError(f"k8s_resource: no workload named {workload} (have: {', '.join(sorted(names))})")
        forwards = [port_forwards] if isinstance(port_forwards, (str, int)) else list(port_forwards or [])
        self.resources[new_name or workload] = {"workload": workload, "port_forwards": [str(p) for p in forwards],
                                                "resource_deps": list(resource_deps or []),
                                                "labels": self._labels(labels)}

    @staticmethod
    def _labels(labels) -> list[str]:
        return [labels] if isinstance(labels, str) else list(labels or [])


class Blob:
    def __init__(self, text: str) -> None:
        self.text = text


def deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def tilt_dialect() -> sl.Dialect:
    """Tilt's Starlark (starlark-go with top-level control flow, no f-strings or type annotations)."""
    d = sl.Dialect.standard()
    d.enable_top_level_stmt = True
    d.enable_load = True
    d.enable_f_strings = False
    return d


def evaluate(path: Path) -> FakeTilt:
    shown = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    ast = sl.parse(shown, path.read_text(), tilt_dialect())
    lints = [l for l in ast.lint() if l.severity in (sl.EvalSeverity.Error, sl.EvalSeverity.Warning)]
    for l in ast.lint():
        print(f"  lint {l.short_name}: {l.problem} ({l.resolved_location.span.begin.line + 1})")
    if lints:
        raise TiltError(f"{len(lints)} lint warning(s)/error(s)")
    if ast.loads():
        raise TiltError("load() of extensions is not evaluated here: keep the Tiltfile to builtins")
    tilt = FakeTilt()
    blobs: list[Blob] = []
    module = sl.Module()
    for name in ("allow_k8s_contexts", "update_settings", "local_resource", "docker_build", "k8s_yaml",
                 "k8s_resource"):
        module.add_callable(name, getattr(tilt, name))

    # helm() returns an opaque handle that k8s_yaml() takes back.
    def helm(*args, **kwargs):
        blobs.append(tilt.helm(*args, **kwargs))
        return f"__blob__{len(blobs) - 1}"

    def k8s_yaml(yaml_or_paths, allow_duplicates=False):
        items = yaml_or_paths if isinstance(yaml_or_paths, list) else [yaml_or_paths]
        resolved = [blobs[int(i.removeprefix("__blob__"))] if isinstance(i, str) and i.startswith("__blob__") else i
                    for i in items]
        tilt.k8s_yaml(resolved, allow_duplicates)

    module.add_callable("helm", helm)
    module.add_callable("k8s_yaml", k8s_yaml)
    module["TRIGGER_MODE_AUTO"] = "auto"
    module["TRIGGER_MODE_MANUAL"] = "manual"
    sl.eval(module, ast, sl.Globals.standard())
    return tilt


def assert_declared(t: FakeTilt) -> list[str]:
    problems: list[str] = []
    checked: list[str] = []

    def want(ok: bool, what: str) -> None:
        checked.append(what)
        if not ok:
            print(f"  FAIL: {what}")
            problems.append(what)

    want(any(c.startswith("kind-") for c in t.contexts), "allow_k8s_contexts names a kind context")
    want(any("cargo build" in (r["cmd"] or "") and "omni" in (r["cmd"] or "") for r in t.local_resources.values()),
         "a local_resource builds the omni binary with cargo build")
    img = t.images.get("omni")
    want(img is not None and img["dockerfile"] == "Dockerfile", "docker_build builds image `omni` from ./Dockerfile")
    want("nisshi" in t.images, "docker_build builds the nisshi broker image")
    want(any(h["path"] == "charts/omni" and "charts/omni/values-dev.yaml" in h["values"] for h in t.helm_calls),
         "helm deploys charts/omni with charts/omni/values-dev.yaml")

    def image_of(workload: str) -> str:
        for o in t.objects:
            if o["kind"] in WORKLOAD_KINDS and o["metadata"]["name"] == workload:
                spec = o["spec"]["template"]["spec"]
                return spec["containers"][0]["image"]
        return ""

    for svc, port in SERVICES.items():
        r = t.resources.get(f"omni-{svc}")
        want(r is not None, f"k8s_resource omni-{svc}")
        if r:
            want(any(p.split(":")[0] == str(port) and p.split(":")[-1] == str(port) for p in r["port_forwards"]),
                 f"omni-{svc} port-forwarded on {port}")
        image = image_of(f"omni-{svc}")
        want(image.split(":")[0].split("@")[0] == "omni", f"omni-{svc} runs the image Tilt builds (omni), got {image}")
    for dep, port in DEPENDENCIES.items():
        r = t.resources.get(dep)
        want(r is not None and any(p.split(":")[0] == str(port) for p in r["port_forwards"]),
             f"dependency {dep} deployed and port-forwarded on {port}")
    want(image_of("kafka").startswith("nisshi"), "the kafka dependency runs the nisshi image")
    for name, r in {**t.resources, **t.local_resources}.items():
        want(bool(r["labels"]), f"resource {name} has a label")
        for dep in r["resource_deps"]:
            want(dep in t.resources or dep in t.local_resources, f"{name} depends on a declared resource ({dep})")
    print(f"  {len(checked) - len(problems)} of {len(checked)} assertions hold")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiltfile", type=Path, default=ROOT / "Tiltfile")
    args = ap.parse_args()
    try:
        tilt = evaluate(args.tiltfile.resolve())
    except (TiltError, sl.StarlarkError) as e:
        print(f"FAIL: the Tiltfile does not evaluate: {e}")
        return 1
    print(f"ok: Tiltfile parsed, linted and evaluated: {len(tilt.local_resources)} local resources, "
          f"{len(tilt.images)} images, {len(tilt.objects)} objects, {len(tilt.resources)} k8s resources")
    problems = assert_declared(tilt)
    if problems:
        print(f"{len(problems)} Tiltfile assertion(s) failed")
        return 1
    print("ok: Tiltfile declares the build, the deployment and every port-forward")
    return 0


if __name__ == "__main__":
    sys.exit(main())

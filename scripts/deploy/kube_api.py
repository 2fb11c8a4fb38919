#!/usr/bin/env python3
"""In-memory Kubernetes API over HTTP on 127.0.0.1 for the Rust tests that use the `kube` crate (its client and
kube-runtime's watcher) on Omni's custom resources. It is for the CRD watch test, not a deploy check.

    $PY scripts/deploy/kube_api.py --port 0 --crd charts/omni/crds/ [--kubeconfig PATH] [--namespace omni]

prints `listening 127.0.0.1:PORT` once it serves; exits on SIGTERM/SIGINT or when its stdin closes (a test that
spawns it with a piped stdin cannot leave it behind). $PY: the deploy-checks venv, where scripts/check-deploy.sh
pins kmock. --crd: CRD YAML/JSON files or folders; while they hold no CRD, BufferPolicy and RoutingPolicy
(omni.dev/v1alpha1, namespaced) are served. A CRD POSTed to the API is served from then on.

Built on kmock 0.8's KubernetesScaffold: its aiohttp server, request parsing (group, version, plural, namespace,
name, subresource), routing, discovery (/api, /apis, /apis/GROUP[/VERSION], /version) and Status errors. kmock's
KubernetesEmulator is not used: it sets no resourceVersion, uid or generation, lists with resourceVersion "...",
has no PUT, and its watch ignores resourceVersion (replays every object as ADDED) and timeoutSeconds, sends no
bookmarks and can miss a write made during that replay. Here a global, bounded event log feeds each watch with
the events after its resourceVersion.
Served: list (limit/continue; label and field selectors with =, ==, !=, exists); watch (ADDED, MODIFIED, DELETED,
BOOKMARK every --bookmark-seconds, sendInitialEvents streaming lists, timeoutSeconds, an ERROR 410 event for a
resourceVersion older than the log); create (generateName); get; PUT (a stale resourceVersion: 409); merge,
strategic and apply patches (all as JSON merge patches; apply creates) and JSON patches; delete (finalizers
hold it); the status subresource. POST /_test/compact empties the log: older resourceVersions then get 410.
Not served: validation, defaulting, conversion, admission, dryRun, deletecollection, set-based selectors,
protobuf, metadata-only (PartialObjectMetadata) answers, field ownership of server-side apply.
"""
import argparse
import asyncio
import bisect
import collections
import contextlib
import copy
import datetime
import json
import os
import pathlib
import signal
import sys
import threading
import uuid

import jsonpatch  # a dependency of kmock
import kmock

# Served while --crd holds no CRD: what `omni crdgen` generates from libs/omni-kube/src/crd.rs (no status).
DEFAULT_CRDS = [{"spec": {"group": "omni.dev", "scope": "Namespaced", "versions": [{"name": "v1alpha1"}], "names": n}}
                for n in ({"kind": "BufferPolicy", "plural": "bufferpolicies", "shortNames": ["bufpol"]},
                          {"kind": "RoutingPolicy", "plural": "routingpolicies", "shortNames": ["routepol"]})]
CRD_RESOURCE = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def error(code, reason, message, **details):
    return kmock.KubernetesError(status=code, reason=reason, message=message, details=details or {"causes": []})


def load_crds(paths):
    """CRD documents from files or folders (*.yaml, *.yml, *.json); PyYAML is only needed for YAML files."""
    files = [f for p in map(pathlib.Path, paths) for f in (sorted(p.iterdir()) if p.is_dir() else [p])
             if f.suffix in (".yaml", ".yml", ".json")]
    docs = []
    for f in files:
        if f.suffix == ".json":
            docs.append(json.loads(f.read_text()))
        else:
            import yaml  # in the deploy venv (kubernetes-validate and checkov depend on it)
            docs.extend(yaml.safe_load_all(f.read_text()))
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]


def matches(obj, params, name=None):
    """labelSelector (k=v, k==v, k!=v, k, !k) and fieldSelector (metadata.name/namespace) of list and watch."""
    meta = obj["metadata"]
    labels = meta.get("labels") or {}
    fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}
    for sel, values in ((params.get("labelSelector", ""), labels), (params.get("fieldSelector", ""), fields)):
        for term in filter(None, (t.strip() for t in sel.split(","))):
            if "!=" in term:
                k, v = term.split("!=", 1)
                ok = values.get(k.strip()) != v.strip()
            elif "=" in term:
                k, v = term.replace("==", "=").split("=", 1)
                ok = values.get(k.strip()) == v.strip()
            else:
                ok = (term.lstrip("!") in values) != term.startswith("!")
            if not ok:
                return False
    return name is None or meta.get("name") == name


class KubeAPI(kmock.KubernetesScaffold):
    """kmock's scaffold (server side, discovery, errors) plus a store and an event log for the resources."""

    def __init__(self, history, bookmark_seconds):
        super().__init__()  # kmock: discovery, error rendering, the 404 fallback
        self.rv = 1  # the global resourceVersion counter; each write takes the next value
        self.store = {}  # (resource, namespace or None, name) -> the object as last written (never mutated)
        self.log = []  # (rv, resource, type, object) of every write, at most `history` entries
        self.compacted = 0  # events up to this rv were dropped: a watch from before it gets 410 Gone
        self.history, self.bookmark_seconds = history, bookmark_seconds
        self.changed = asyncio.Event()  # set (and replaced) on every write: wakes up the open watches
        self.kinds = {}  # resource -> {'kind', 'namespaced', 'status'}
        self.pages = collections.OrderedDict()  # continue token -> (rv, remaining items)
        self.stopping = False  # set at exit: ends the open watches at once
        self["post /_test/compact"] << self.compact
        self.register({"spec": {"group": CRD_RESOURCE.group, "scope": "Cluster", "versions": [{"name": "v1"}],
                                "names": {"kind": "CustomResourceDefinition", "plural": CRD_RESOURCE.plural}}})

    def register(self, crd):
        """Serve the resources of a CRD (each served version); also kept as a CRD object."""
        spec, names = crd["spec"], crd["spec"]["names"]
        for v in spec["versions"]:
            res = kmock.resource(spec["group"], v["name"], names["plural"])
            if not v.get("served", True) or res in self.kinds:
                continue
            status = "status" in (v.get("subresources") or spec.get("subresources") or {})
            self.kinds[res] = {"kind": names["kind"], "namespaced": spec.get("scope") == "Namespaced",
                               "status": status}
            self.resources[res] = kmock.ResourceInfo(  # what kmock's discovery answers
                kind=names["kind"], namespaced=spec.get("scope") == "Namespaced", singular=names.get("singular"),
                shortnames=names.get("shortNames", []), categories=names.get("categories", []), verbs=VERBS,
                subresources=["status"] if status else [])
            self.fallback[res] << self.serve
        if "metadata" in crd and (CRD_RESOURCE, None, crd["metadata"]["name"]) not in self.store:
            self.write(CRD_RESOURCE, "ADDED", crd)

    def write(self, res, etype, obj):
        """Stamp a new resourceVersion, store (or drop), append the `etype` event to the log, wake the watches."""
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = (res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if etype == "DELETED":
            self.store.pop(key, None)
        else:
            self.store[key] = obj
        self.log.append((self.rv, res, etype, obj))
        if len(self.log) > self.history:
            self.compacted = self.log.pop(0)[0]
        self.changed.set()
        self.changed = asyncio.Event()
        return obj

    async def compact(self, request):
        self.compacted, self.log = self.rv, []
        return {"compacted": str(self.rv)}

    async def serve(self, req):
        # kmock keeps the status of a returned Response on the (shared) reaction: always set one explicitly.
        result = self.dispatch(req)
        return result if isinstance(result, kmock.Response) else kmock.Response(status=200, payload=result)

    def dispatch(self, req):
        """One reaction for every request on a registered resource, dispatched like the API server does."""
        res, info, p = req.resource, self.kinds[req.resource], req.params
        ns = req.namespace if info["namespaced"] else None
        if (req.namespace and not info["namespaced"]) or req.subresource not in (None, "status") or (
                req.subresource == "status" and not info["status"]) or (req.name and info["namespaced"] and not ns):
            raise error(404, "NotFound", "the server could not find the requested resource")
        if req.method == "GET" and p.get("watch") in ("true", "1"):
            stream = self.watch(req, ns)
            return kmock.Response(status=200, headers={"Content-Type": "application/json"}, payload=stream)
        if req.name is None and req.method == "GET":
            return self.list(res, info, ns, p)
        if req.name is None and req.method == "POST":
            return kmock.Response(status=201, payload=self.create(res, info, ns, req.data))
        key = (res, ns, req.name)
        current = self.store.get(key)
        if current is None and not (req.method == "PATCH" and "apply-patch" in content_type(req)):
            raise error(404, "NotFound", f'{res.plural}.{res.group} "{req.name}" not found',
                        name=req.name, group=res.group, kind=res.plural)
        if req.method == "GET":
            return current
        if req.method == "DELETE":
            if current["metadata"].get("finalizers"):  # marked; deleted once the last finalizer is removed
                if "deletionTimestamp" in current["metadata"]:
                    return kmock.Response(status=202, payload=current)
                gone = copy.deepcopy(current)
                gone["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
                return kmock.Response(status=202, payload=self.write(res, "MODIFIED", gone))
            return self.write(res, "DELETED", current)
        if req.method in ("PUT", "PATCH"):
            if current is None:  # server-side apply of a new object creates it
                return kmock.Response(status=201, payload=self.create(res, info, ns, req.data))
            return self.update(res, info, current, req)
        raise error(405, "MethodNotAllowed", f"{req.method} is not supported here")

    def list(self, res, info, ns, p):
        if p.get("continue"):
            if p["continue"] not in self.pages:
                raise error(410, "Expired", "The provided continue parameter is too old")
            rv, items = self.pages.pop(p["continue"])
        else:
            rv = self.rv
            items = [o for (r, n, _), o in sorted_store(self) if r == res and (ns is None or n == ns)
                     and matches(o, p)]
        meta = {"resourceVersion": str(rv)}
        limit = int(p["limit"]) if p.get("limit", "").isdigit() else 0
        if 0 < limit < len(items):
            token = uuid.uuid4().hex
            self.pages[token] = (rv, items[limit:])
            while len(self.pages) > 100:
                self.pages.popitem(last=False)
            items = items[:limit]
            meta.update({"continue": token, "remainingItemCount": len(self.pages[token][1])})
        return {"apiVersion": api_version(res), "kind": info["kind"] + "List", "metadata": meta, "items": items}

    def create(self, res, info, ns, body):
        if not isinstance(body, dict):
            raise error(400, "BadRequest", "the body must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if ns and meta.get("namespace", ns) != ns:
            raise error(400, "BadRequest", "the namespace of the object does not match the namespace of the URL")
        if info["namespaced"] and not (ns or meta.get("namespace")):
            raise error(400, "BadRequest", "a namespace is required")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise error(422, "Invalid", "metadata.name: Required value")
        if info["namespaced"]:
            meta["namespace"] = ns or meta["namespace"]
        if (res, meta.get("namespace"), meta["name"]) in self.store:
            raise error(409, "AlreadyExists", f'{res.plural}.{res.group} "{meta["name"]}" already exists',
                        name=meta["name"], group=res.group, kind=res.plural)
        if info["status"]:
            obj.pop("status", None)  # only the status subresource writes it
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        meta.pop("resourceVersion", None)
        obj = self.write(res, "ADDED", typed(res, info, obj))
        if res == CRD_RESOURCE:
            self.register(obj)
        return obj

    def update(self, res, info, current, req):
        ctype, body = content_type(req), req.data
        if req.method == "PATCH" and "json-patch" in ctype:  # a list of operations
            try:
                new = jsonpatch.apply_patch(current, body)
            except Exception as e:  # malformed, a failed test op, a missing path...
                raise error(422, "Invalid", f"the JSON patch cannot be applied: {e}") from None
        elif req.method == "PATCH":  # merge, strategic merge and apply patches all merge here (kmock's merge)
            if not isinstance(body, dict):
                raise error(400, "BadRequest", "a merge patch must be a JSON object")
            patched = kmock.Object(copy.deepcopy(current))
            try:
                patched.patch(body)
            except ValueError as e:
                raise error(400, "BadRequest", str(e)) from None
            new = copy.deepcopy(patched.raw)
        elif isinstance(body, dict):
            new = copy.deepcopy(body)
        else:
            raise error(400, "BadRequest", "the body must be a JSON object")
        meta, old = new.setdefault("metadata", {}), current["metadata"]
        if meta.get("name", old["name"]) != old["name"]:
            raise error(400, "BadRequest", "the name of the object does not match the name of the URL")
        if meta.get("resourceVersion") not in (None, "", old["resourceVersion"]):  # optimistic concurrency
            raise error(409, "Conflict", f'Operation cannot be fulfilled on {res.plural}.{res.group} '
                        f'"{old["name"]}": the object has been modified; please apply your changes to the '
                        'latest version and try again', name=old["name"], group=res.group, kind=res.plural)
        if req.subresource == "status":  # only .status changes
            new = dict(current, status=new.get("status"))
        else:
            if info["status"]:
                new["status"] = current.get("status")
            new["metadata"] = dict(meta, **{k: old[k] for k in ("uid", "creationTimestamp", "namespace",
                                   "deletionTimestamp", "deletionGracePeriodSeconds") if k in old})
            spec_of = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}
            new["metadata"]["generation"] = old["generation"] + (spec_of(new) != spec_of(current))
        new = typed(res, info, {k: v for k, v in new.items() if v is not None})
        if dict(new, metadata=dict(new["metadata"], resourceVersion=old["resourceVersion"])) == current:
            return current  # no change: no new resourceVersion, no event (as the API server does)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            return self.write(res, "DELETED", new)  # the last finalizer is gone
        return self.write(res, "MODIFIED", new)

    async def watch(self, req, ns):
        """The watch stream: one JSON event per line, from the log after the resourceVersion asked for."""
        res, p, loop = req.resource, req.params, asyncio.get_running_loop()
        deadline = loop.time() + float(p.get("timeoutSeconds") or 1800)
        types = {"apiVersion": api_version(res), "kind": self.kinds[res]["kind"]}
        bookmark = lambda rv, **ann: {"type": "BOOKMARK", "object": dict(
            types, metadata={"resourceVersion": str(rv), **({"annotations": ann} if ann else {})})}
        wanted = lambda r, o: r == res and (ns is None or o["metadata"].get("namespace") == ns) and matches(
            o, p, req.name)
        rv = p.get("resourceVersion", "")
        if rv and not rv.isdigit():  # (raised before the first chunk: an ordinary 400 response)
            raise error(400, "BadRequest", f"invalid resource version: {rv!r}")
        yield b""  # sends the response headers now: the client's watch() call returns before any event
        if rv in ("", "0") or p.get("sendInitialEvents") == "true":  # the current objects first, as ADDED
            pos = self.rv
            for (r, _, _), o in sorted_store(self):
                if wanted(r, o):
                    yield {"type": "ADDED", "object": o}
            if p.get("sendInitialEvents") == "true":
                yield bookmark(pos, **{"k8s.io/initial-events-end": "true"})
        elif int(rv) > self.rv:
            yield gone(504, "Timeout", f"Too large resource version: {rv}, current: {self.rv}")
            return
        else:
            pos = int(rv)
        last_bookmark = loop.time()
        while True:
            if pos < self.compacted:  # the events after `pos` were dropped: the client must list again
                yield gone(410, "Expired", f"too old resource version: {pos} ({self.compacted})")
                return
            changed = self.changed  # taken before reading the log, so no write is missed
            start = bisect.bisect_right(self.log, pos, key=lambda e: e[0])
            for erv, r, etype, o in self.log[start:]:
                pos = erv
                if wanted(r, o):
                    yield {"type": etype, "object": o}
            left = deadline - loop.time()
            transport = req._raw_request.transport if req._raw_request is not None else None
            if left <= 0 or transport is None or transport.is_closing() or self.stopping:
                return  # timeoutSeconds reached, the client went away, or we exit
            if p.get("allowWatchBookmarks") == "true" and loop.time() - last_bookmark >= self.bookmark_seconds:
                yield bookmark(pos)
                last_bookmark = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(left, 1.0))


def sorted_store(api):
    """The stored objects by (namespace, name): the order of lists and of a watch's initial ADDED events."""
    return sorted(api.store.items(), key=lambda kv: (kv[0][1] or "", kv[0][2]))


def content_type(req):
    return next((v for k, v in req.headers.items() if k.lower() == "content-type"), "")


def typed(res, info, obj):
    """The object with the apiVersion and kind of its resource, first."""
    return {"apiVersion": api_version(res), "kind": info["kind"],
            **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}}


def api_version(res):
    return f"{res.group}/{res.version}" if res.group else res.version


def now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gone(code, reason, message):
    return {"type": "ERROR", "object": {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
                                        "code": code, "reason": reason, "message": message}}


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: omni-kube-api
  cluster:
    server: http://127.0.0.1:{port}
users:
- name: omni-kube-api
  user: {{}}
contexts:
- name: omni-kube-api
  context:
    cluster: omni-kube-api
    user: omni-kube-api
    namespace: {namespace}
current-context: omni-kube-api
"""


def watch_stdin(loop, stop):
    """stdin at EOF means the test process that started us is gone: stop. (os.read: no buffered-reader lock
    is held by this daemon thread when the interpreter exits.)"""
    try:
        while os.read(0, 65536):
            pass
    except OSError:  # no stdin at all: only a signal stops us
        return
    with contextlib.suppress(RuntimeError):  # the loop is already closed
        loop.call_soon_threadsafe(stop.set)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--crd", action="append", default=[], help="CRD file or folder (repeatable)")
    ap.add_argument("--kubeconfig", help="write a kubeconfig for this server to this path")
    ap.add_argument("--namespace", default="omni", help="the kubeconfig's namespace (default: omni)")
    ap.add_argument("--history", type=int, default=10000, help="events kept for watches to resume from")
    ap.add_argument("--bookmark-seconds", type=float, default=5.0, help="BOOKMARK interval of watches")
    args = ap.parse_args()
    missing = [c for c in args.crd if not pathlib.Path(c).exists()]
    if missing:
        ap.error(f'no such CRD file or folder: {", ".join(missing)}')
    crds = load_crds(args.crd)
    if not crds:
        print(f'kube_api: no CRD in {args.crd or "(no --crd)"}: serving BufferPolicy and RoutingPolicy',
              file=sys.stderr)
    loop, stop = asyncio.get_running_loop(), asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    threading.Thread(target=watch_stdin, args=(loop, stop), daemon=True).start()
    api = KubeAPI(args.history, args.bookmark_seconds)
    for crd in crds or DEFAULT_CRDS:
        api.register(crd)
    async with api, kmock.Server(api, host="127.0.0.1", port=args.port) as server:
        if args.kubeconfig:
            tmp = pathlib.Path(args.kubeconfig + ".tmp")  # written whole, then renamed: never seen half-written
            tmp.write_text(KUBECONFIG.format(port=server.port, namespace=args.namespace))
            tmp.replace(args.kubeconfig)
        print(f"listening 127.0.0.1:{server.port}", flush=True)
        await stop.wait()
        api.stopping = True
        api.changed.set()


if __name__ == "__main__":
    asyncio.run(main())

#!/usr/bin/env python3
"""Checks the Grafana dashboards and the alert rules against what Omni exports and what Grafana accepts.

    check_dashboards.py --node-modules DIR --promtool PATH --scratch DIR

1. The committed dashboards are what scripts/deploy/dashboards.py generates.
2. Each dashboard type-checks as a `Dashboard` of @grafana/schema: it is written into a .ts file as an object
   literal typed `Dashboard` (stricter than importing the JSON, which would widen every string and miss unknown
   fields) and compiled with `tsc --noEmit --strict`.
3. Every panel's PromQL parses: Grafana's variables are replaced by sample values and each expression becomes a
   recording rule in a throwaway file for `promtool check rules`.
4. Every metric the dashboards and the alert rules name is listed in scripts/deploy/metrics.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "charts" / "omni" / "files" / "dashboards"
RULES = ROOT / "charts" / "omni" / "files" / "prometheus" / "omni-alerts.yaml"
METRICS = ROOT / "scripts" / "deploy" / "metrics.txt"

# Grafana's built-in and dashboard variables, replaced by values PromQL accepts.
GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "6h",
    "${datasource}": "prometheus",
    "$namespace": "omni",
}
METRIC_RE = re.compile(r"\bomni_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum")


def fail(msg: str) -> None:
    print(f"FAIL: {msg}")
    sys.exit(1)


def panel_exprs(panels: list[dict]) -> list[tuple[str, str]]:
    out = []
    for p in panels:
        out.extend(panel_exprs(p.get("panels", [])))
        for t in p.get("targets", []):
            if "expr" in t:
                out.append((p.get("title", "?"), t["expr"]))
    return out


def known_metrics() -> set[str]:
    names = set()
    for line in METRICS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(line.split()[0])
    return names


def unknown_metrics(text: str, known: set[str]) -> set[str]:
    bad = set()
    for name in METRIC_RE.findall(text):
        base = name
        for s in SUFFIXES:
            if name.endswith(s) and name[: -len(s)] in known:
                base = name[: -len(s)]
        if base not in known:
            bad.add(name)
    return bad


def check_generated() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts/deploy/dashboards.py"), "--check"], text=True,
                       capture_output=True)
    print(r.stdout.strip())
    if r.returncode != 0:
        fail("dashboards differ from the generator")


def check_types(boards: dict[str, dict], node_modules: Path, scratch: Path) -> None:
    ts_dir = scratch / "dashboards-ts"
    ts_dir.mkdir(parents=True, exist_ok=True)
    link = ts_dir / "node_modules"
    if not link.exists():
        link.symlink_to(node_modules)
    files = []
    for name, board in boards.items():
        stem = name.removesuffix(".json").replace("-", "_")
        path = ts_dir / f"{stem}.ts"
        path.write_text(
            "import type { Dashboard } from '@grafana/schema';\n\n"
            f"// charts/omni/files/dashboards/{name}\n"
            f"export const dashboard: Dashboard = {json.dumps(board, indent=2)};\n"
        )
        files.append(path.name)
    (ts_dir / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {
            "strict": True, "noEmit": True, "target": "es2022", "module": "esnext",
            "moduleResolution": "bundler", "skipLibCheck": True, "types": [],
        },
        "files": files,
    }, indent=2))
    tsc = node_modules / ".bin" / "tsc"
    r = subprocess.run([str(tsc), "-p", str(ts_dir / "tsconfig.json")], text=True, capture_output=True, cwd=ts_dir)
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0:
        print(out)
        fail("a dashboard is not a valid @grafana/schema Dashboard")
    version = json.loads((node_modules / "@grafana/schema/package.json").read_text())["version"]
    print(f"ok: {len(files)} dashboards type-check as Dashboard (@grafana/schema {version})")


def check_promql(boards: dict[str, dict], promtool: str, scratch: Path) -> int:
    rules = []
    for name, board in boards.items():
        for title, expr in panel_exprs(board.get("panels", [])):
            e = expr
            for var, val in GRAFANA_VARS.items():
                e = e.replace(var, val)
            if "$" in e:
                fail(f"{name} / {title}: unknown Grafana variable in {expr!r}")
            rules.append({"record": f"omni:dashboard_check:{len(rules)}", "expr": e,
                          "labels": {"dashboard": name, "panel": title}})
    path = scratch / "dashboard-exprs.rules.yaml"
    # JSON is YAML: no YAML library needed.
    path.write_text(json.dumps({"groups": [{"name": "dashboard-exprs", "rules": rules}]}, indent=2))
    r = subprocess.run([promtool, "check", "rules", str(path)], text=True, capture_output=True)
    if r.returncode != 0:
        print((r.stdout + r.stderr).strip())
        fail("a panel's PromQL does not parse")
    print(f"ok: {len(rules)} panel expressions parse (promtool check rules)")
    return len(rules)


def check_metric_names(boards: dict[str, dict]) -> None:
    known = known_metrics()
    bad: dict[str, set[str]] = {}
    for name, board in boards.items():
        text = " ".join(e for _, e in panel_exprs(board.get("panels", [])))
        if u := unknown_metrics(text, known):
            bad[name] = u
    if u := unknown_metrics(RULES.read_text(), known):
        bad[str(RULES.relative_to(ROOT))] = u
    if bad:
        for where, names in bad.items():
            print(f"  {where}: {', '.join(sorted(names))}")
        fail("metrics not listed in scripts/deploy/metrics.txt")
    print(f"ok: dashboards and alert rules use only the {len(known)} metrics of scripts/deploy/metrics.txt")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--node-modules", type=Path, required=True)
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--scratch", type=Path, required=True)
    args = ap.parse_args()
    boards = {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}
    if len(boards) < 7:
        fail(f"expected the overview and six service dashboards, found {sorted(boards)}")
    check_generated()
    check_metric_names(boards)
    check_types(boards, args.node_modules.resolve(), args.scratch)
    check_promql(boards, args.promtool, args.scratch)
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())

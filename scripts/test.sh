#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Omni's one test command: installs and starts what the tests need, then runs the whole suite.
# CI runs it through .ci/run (CI=true, fresh clone, no stdin).
#
#   scripts/test.sh [--no-lint] [--infra-only] [--] [nextest args...]
#
#   --no-lint      skip cargo fmt --check and cargo clippy (quick local runs)
#   --infra-only   set up PostgreSQL, Redis and a Nisshi broker, print the environment as
#                  `export` lines on stdout (progress on stderr) and exit, leaving the broker
#                  running (its PID is in the nisshi.pid named on stderr; stop it with the
#                  printed kill command). For developers:
#                    eval "$(scripts/test.sh --infra-only)" && cargo nextest run
#   other args     go to `cargo nextest run` (a filter, -E 'test(foo)', --run-ignored all, ...)
#
# Steps:
#   1. system packages (apt-get only for what is missing): postgresql, redis-server, libpq-dev,
#      libsqlite3-dev, libssl-dev, pkg-config, build-essential, python3; cargo-nextest
#   2. PostgreSQL on 127.0.0.1:5432, trust auth, superuser role postgres
#   3. Redis on 127.0.0.1:6379
#   4. Nisshi (Kafka protocol) broker, built once into $OMNI_TOOL_CACHE; when it is not there yet, a
#      full run builds it in the background while steps 5 and 6 build the workspace
#   5. cargo fmt --check, scripts/check-deploy.sh (deployment artifacts), .ci/check-boundaries,
#      cargo clippy -D warnings (with the workspace's unreachable_pub lint), cargo machete (no unused
#      dependency; cargo-machete pinned and built once into $OMNI_TOOL_CACHE), cargo doc --no-deps
#      with -D warnings (no broken doc link)
#   6. the broker started on a free port, cargo nextest run
#
# Exports for the tests:
#   OMNI_TEST_DATABASE_URL     postgres://postgres@127.0.0.1:5432/postgres
#   OMNI_TEST_REDIS_URL        redis://127.0.0.1:6379
#   OMNI_REDIS_SERVER_BIN      path of redis-server (for tests that run their own)
#   OMNI_TEST_KAFKA_BOOTSTRAP  127.0.0.1:<port> of this run's Nisshi broker
#   OMNI_NISSHI_BIN            path of the nisshi binary
#   OMNI_PROMTOOL_BIN          promtool (from the deploy checks), for the /metrics lint test
#   OMNI_PROMETHEUS_BIN        the Prometheus server (same package), for the live dashboards test
#   OMNI_OTELTAP_PYTHON        a python with oteltap (from the deploy checks), for the trace test
#   OMNI_KUBE_API_PYTHON       a python with kmock (from the deploy checks), for the policy resource watch test
#
# Environment knobs:
#   OMNI_TOOL_CACHE   heavy tools (nisshi, cargo-nextest if absent); default ~/.cache/omni-tools
#   CARGO_TARGET_DIR  under CI defaults to ~/.cache/omni-target so fresh clones reuse compiled
#                     dependencies; locally cargo's default target/ is kept
#   OMNI_TARGET_MAX_GB  under CI, the shared target dir is wiped when bigger (default 40)
#
# Services: PostgreSQL and Redis are machine services; if this script has to start them it leaves
# them running. Only the Nisshi broker is per run: the EXIT trap stops it (by its PID) and removes
# the scratch dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/common.sh
source "$ROOT/scripts/lib/common.sh"
# shellcheck source=lib/infra.sh
source "$ROOT/scripts/lib/infra.sh"

usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

LINT=1
INFRA_ONLY=0
NEXTEST_ARGS=()
while (($#)); do
    case $1 in
        --no-lint) LINT=0 ;;
        --infra-only) INFRA_ONLY=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        --)
            shift
            NEXTEST_ARGS+=("$@")
            break
            ;;
        *) NEXTEST_ARGS+=("$1") ;;
    esac
    shift
done

# --infra-only: progress goes to stderr, only the `export` lines to stdout, so that
# `eval "$(scripts/test.sh --infra-only)"` works.
# (fd 3 is open only then; services are started with 3>&- so that they never hold it.)
if ((INFRA_ONLY)); then
    exec 3>&1 1>&2
fi

export HOME="${HOME:-/root}"
[[ -d "$HOME/.cargo/bin" && ":$PATH:" != *":$HOME/.cargo/bin:"* ]] && export PATH="$HOME/.cargo/bin:$PATH"
export OMNI_TOOL_CACHE="${OMNI_TOOL_CACHE:-$HOME/.cache/omni-tools}"
mkdir -p "$OMNI_TOOL_CACHE"
[[ -d "$OMNI_TOOL_CACHE/cargo-nextest/bin" ]] && export PATH="$OMNI_TOOL_CACHE/cargo-nextest/bin:$PATH"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/omni-test.XXXXXX")
STARTED_PIDS=()
KEEP_RUNNING=0
NEXTEST_LOG=""

cleanup() {
    local rc=$?
    set +e
    if [[ -n $CURRENT_STEP ]]; then
        printf '!! step "%s" failed (exit %s) after %ss\n' "$CURRENT_STEP" "$rc" $((SECONDS - STEP_T0)) >&2
        TIMINGS+=("$(printf '%-34s %6ss  FAILED' "$CURRENT_STEP" $((SECONDS - STEP_T0)))")
    fi
    if ((KEEP_RUNNING == 0)); then
        local pid
        for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
    fi
    # A background build of the broker still running (the run failed before the tests): stop its process group.
    # It resumes where it stopped next time (its target dir is kept).
    if [[ -n ${NISSHI_BUILD_PID:-} ]]; then
        kill -TERM -- "-$NISSHI_BUILD_PID" 2>/dev/null
        wait "$NISSHI_BUILD_PID" 2>/dev/null
    fi
    print_timings
    # Repeat the test runner's closing line last, so it is the run's last word.
    if [[ -n $NEXTEST_LOG && -f $NEXTEST_LOG ]]; then
        grep -E '^[[:space:]]*Summary \[' "$NEXTEST_LOG" | tail -n1
    fi
    ((KEEP_RUNNING)) || rm -rf "$SCRATCH"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if is_ci; then
    log "CI mode (CI=${CI})"
else
    log "local mode"
fi

# --- infrastructure ---------------------------------------------------------------------------
step_begin "system packages"
ensure_system_packages
step_end

if ((INFRA_ONLY == 0)); then
    step_begin "cargo-nextest"
    ensure_nextest
    step_end
fi

step_begin "postgresql"
ensure_postgres
step_end

step_begin "redis"
ensure_redis
step_end

# Starts the broker and exports the test environment (printed as `export` lines).
start_broker_and_export() {
    step_begin "nisshi broker"
    ((INFRA_ONLY)) && NISSHI_DETACH=1
    start_nisshi
    step_end

    export OMNI_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    export OMNI_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    OMNI_REDIS_SERVER_BIN=$(command -v redis-server)
    export OMNI_REDIS_SERVER_BIN
    export OMNI_TEST_KAFKA_BOOTSTRAP="127.0.0.1:$NISSHI_PORT"
    export OMNI_NISSHI_BIN="$NISSHI_BIN"

    log "test environment"
    local var
    for var in OMNI_TEST_DATABASE_URL OMNI_TEST_REDIS_URL OMNI_REDIS_SERVER_BIN OMNI_TEST_KAFKA_BOOTSTRAP OMNI_NISSHI_BIN; do
        if ((INFRA_ONLY)); then
            printf 'export %s=%q\n' "$var" "${!var}" >&3
        else
            printf 'export %s=%q\n' "$var" "${!var}"
        fi
    done
}

# On a new machine the broker takes about 20 minutes to build. A full run builds it in the background, beside the
# lint and the workspace's build, which need no broker (each leaves a core idle at times: linking, the last crates
# of the graph); the tests wait for it. Only --infra-only needs the broker at once.
NISSHI_BUILD_PID=""
if ((INFRA_ONLY)) || nisshi_ok; then
    step_begin "nisshi binary"
    ensure_nisshi
    step_end
else
    log "nisshi binary: building in the background (log $SCRATCH/nisshi-build.out)"
    # Its own process group, so that a failed run stops the whole build (cargo and every rustc) on exit.
    setsid bash -c 'set -euo pipefail; source "$1/scripts/lib/common.sh"; source "$1/scripts/lib/infra.sh"; ensure_nisshi' \
        _ "$ROOT" >"$SCRATCH/nisshi-build.out" 2>&1 </dev/null 3>&- &
    NISSHI_BUILD_PID=$!
fi

if ((INFRA_ONLY)); then
    start_broker_and_export
    KEEP_RUNNING=1
    log "infrastructure is up; the broker keeps running after this script"
    info "nisshi PID $NISSHI_PID (also in $SCRATCH/nisshi.pid), log $SCRATCH/nisshi.log"
    info "stop it with: kill \$(cat $SCRATCH/nisshi.pid) && rm -rf $SCRATCH"
    exit 0
fi

# --- cargo ------------------------------------------------------------------------------------
if is_ci; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/omni-target}"
    export CARGO_TERM_COLOR=never
    export CARGO_INCREMENTAL=0
    # The shared target dir only grows (every clone's path adds its own workspace artifacts):
    # start it afresh when it gets too big.
    if [[ -d $CARGO_TARGET_DIR ]]; then
        size_mb=$(du -sm "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1)
        if ((${size_mb:-0} > ${OMNI_TARGET_MAX_GB:-40} * 1024)); then
            log "CARGO_TARGET_DIR is ${size_mb} MiB: wiping it"
            rm -rf "$CARGO_TARGET_DIR"
        fi
    fi
fi
info "$(cargo --version), $(rustc --version)"
info "CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-<default: $ROOT/target>}"

if ((LINT)); then
    step_begin "cargo fmt --check"
    cargo fmt --all -- --check
    step_end
fi

# Deployment artifacts (chart, manifests, Dockerfile, alerts, dashboards, Tiltfile): no cargo, no cluster.
step_begin "deploy checks"
bash "$ROOT/scripts/check-deploy.sh"
step_end
# The deploy checks installed promtool; tests lint each service's /metrics with it (`promtool check metrics`),
# and the Prometheus server of the same package scrapes a running demo to query every dashboard panel.
export OMNI_PROMTOOL_BIN="$OMNI_TOOL_CACHE/prometheus-2.42/promtool"
OMNI_PROMETHEUS_BIN=$(command -v prometheus || echo "$OMNI_TOOL_CACHE/prometheus-2.42/prometheus")
export OMNI_PROMETHEUS_BIN
# ...and oteltap into their venv, the OTLP receiver of the trace test.
export OMNI_OTELTAP_PYTHON="$OMNI_TOOL_CACHE/deploy-venv/bin/python"
export OMNI_KUBE_API_PYTHON="$OMNI_TOOL_CACHE/deploy-venv/bin/python"

step_begin "check-boundaries"
bash "$ROOT/.ci/check-boundaries"
step_end

if ((LINT)); then
    step_begin "cargo clippy"
    cargo clippy --workspace --all-targets -- -D warnings
    step_end
    step_begin "cargo machete"
    ensure_machete
    cargo machete
    step_end
    step_begin "cargo doc"
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
    step_end
fi

nextest=(cargo nextest run --workspace --no-fail-fast)
nextest_build=(cargo nextest run --workspace --no-run)
is_ci && nextest+=(--profile ci) && nextest_build+=(--profile ci)
nextest+=("${NEXTEST_ARGS[@]}")

if [[ -n $NISSHI_BUILD_PID ]]; then
    # Build the tests while the broker still builds; then wait for it.
    step_begin "cargo nextest --no-run"
    "${nextest_build[@]}"
    step_end
    step_begin "nisshi binary (background build)"
    if ! wait "$NISSHI_BUILD_PID"; then
        NISSHI_BUILD_PID=""
        cat "$SCRATCH/nisshi-build.out" >&2
        die "the background build of nisshi failed (above)"
    fi
    NISSHI_BUILD_PID=""
    cat "$SCRATCH/nisshi-build.out"
    ensure_nisshi
    step_end
fi
start_broker_and_export

step_begin "cargo nextest"
info "${nextest[*]}"
if is_ci; then
    NEXTEST_LOG="$SCRATCH/nextest.log"
    "${nextest[@]}" 2>&1 | tee "$NEXTEST_LOG"
else
    "${nextest[@]}"
fi
step_end

log "all steps passed"

# shellcheck shell=bash
# Logging and step timing shared by scripts/test.sh. Sourced, never run.

log() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

is_ci() {
    case "${CI:-}" in
        true | TRUE | True | 1 | yes) return 0 ;;
        *) return 1 ;;
    esac
}

# Step timing. A step runs between step_begin and step_end in the caller's own shell, so `set -e`
# stays in force inside it (wrapping a function in `f || rc=$?` would switch errexit off inside
# f). A failure exits through the EXIT trap, which reports the step in CURRENT_STEP.
CURRENT_STEP=""
STEP_T0=0
TIMINGS=()
SCRIPT_T0=$SECONDS

step_begin() {
    CURRENT_STEP="$1"
    STEP_T0=$SECONDS
    log "$1"
}

step_end() {
    local dt=$((SECONDS - STEP_T0))
    TIMINGS+=("$(printf '%-34s %6ss' "$CURRENT_STEP" "$dt")")
    info "($CURRENT_STEP: ${dt}s)"
    CURRENT_STEP=""
}

print_timings() {
    local t
    ((${#TIMINGS[@]})) || return 0
    log "timings"
    for t in "${TIMINGS[@]}"; do info "$t"; done
    info "$(printf '%-34s %6ss' total $((SECONDS - SCRIPT_T0)))"
}

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

# A free TCP port on 127.0.0.1 (the kernel picks it; there is a small window before our server
# binds it, so callers retry when the server fails to start).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, no extra tools).
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# shellcheck shell=bash
# shellcheck disable=SC2034 # NISSHI_BIN, NISSHI_PORT, NISSHI_PID are read by scripts/test.sh
# Installs and starts what the test suite talks to: PostgreSQL, Redis and the Nisshi Kafka-protocol
# broker. Sourced by scripts/test.sh after scripts/lib/common.sh; never run on its own.
#
# Servers started here get `3>&-`: scripts/test.sh --infra-only keeps its stdout on fd 3, and a
# server holding it would keep `$(scripts/test.sh --infra-only)` waiting for ever.
#
# Expects: OMNI_TOOL_CACHE (heavy tools, kept outside the work tree), SCRATCH (this run's scratch
# dir), STARTED_PIDS (array of PIDs this run started, stopped by the caller's EXIT trap).

PG_PORT=5432
REDIS_PORT=6379
NISSHI_VERSION=0.8.1

# --------------------------------------------------------------------------------------------
# System packages
# --------------------------------------------------------------------------------------------

# True when a Debian package is installed (not merely known, as `dpkg -s` says for a package
# that was removed but left its config files).
pkg_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

ensure_system_packages() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: the Rust toolchain (rustup, see rust-version in Cargo.toml) must be installed first"

    local missing=()
    # The server itself, not just a client: any versioned server counts.
    if ! pkg_installed postgresql && ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
        missing+=(postgresql)
    fi
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
    pkg_installed libpq-dev || missing+=(libpq-dev)          # diesel's postgres backend
    pkg_installed libsqlite3-dev || missing+=(libsqlite3-dev) # diesel's sqlite backend
    pkg_installed libssl-dev || missing+=(libssl-dev)         # rdkafka's TLS (OpenSSL)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    pkg_installed build-essential || missing+=(build-essential) # cc/make for the bundled librdkafka
    command -v python3 >/dev/null 2>&1 || missing+=(python3)     # free_port

    if ((${#missing[@]} == 0)); then
        info "all present"
        return 0
    fi
    info "installing: ${missing[*]}"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install by hand: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# cargo-nextest is in /usr/local/bin on the project's machines; elsewhere it is built once into
# the tool cache.
ensure_nextest() {
    local root="$OMNI_TOOL_CACHE/cargo-nextest"
    if cargo nextest --version >/dev/null 2>&1; then
        info "$(cargo nextest --version 2>/dev/null | head -n1)"
        return 0
    fi
    export PATH="$root/bin:$PATH"
    if ! cargo nextest --version >/dev/null 2>&1; then
        info "building cargo-nextest into $root"
        cargo install cargo-nextest --locked --root "$root" --target-dir "$OMNI_TOOL_CACHE/cargo-nextest-build"
        rm -rf "$OMNI_TOOL_CACHE/cargo-nextest-build"
    fi
    info "$(cargo nextest --version 2>/dev/null | head -n1)"
}

# cargo-machete, pinned, built once into the tool cache: the lint step fails on a dependency nothing uses.
CARGO_MACHETE_VERSION=0.9.2
ensure_machete() {
    local root="$OMNI_TOOL_CACHE/cargo-machete"
    export PATH="$root/bin:$PATH"
    if ! cargo machete --version 2>/dev/null | grep -qF "$CARGO_MACHETE_VERSION"; then
        info "building cargo-machete $CARGO_MACHETE_VERSION into $root"
        cargo install cargo-machete --locked --version "$CARGO_MACHETE_VERSION" --root "$root" \
            --target-dir "$OMNI_TOOL_CACHE/cargo-machete-build"
        rm -rf "$OMNI_TOOL_CACHE/cargo-machete-build"
    fi
    info "$(cargo machete --version 2>/dev/null | head -n1)"
}

# --------------------------------------------------------------------------------------------
# PostgreSQL: 127.0.0.1:5432, trust auth, superuser role `postgres`
# --------------------------------------------------------------------------------------------

# "VERSION NAME" of the cluster configured on port 5432 (empty when there is none).
pg_cluster() {
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }'
}

# psql as ROLE over TCP, never prompting for a password (-w): there is no stdin in CI.
pg_sql() {
    local role=$1 sql=$2
    psql -w -h 127.0.0.1 -p "$PG_PORT" -U "$role" -d postgres -v ON_ERROR_STOP=1 -tAqc "$sql"
}

# Runs SQL as any superuser we can reach: the roles root and the current user over TCP, then the
# OS user postgres over the socket (peer or trust auth).
pg_admin_sql() {
    local sql=$1 role
    for role in root "$(id -un)"; do
        pg_sql "$role" "$sql" >/dev/null 2>&1 && return 0
    done
    if id postgres >/dev/null 2>&1; then
        as_root runuser -u postgres -- psql -w -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -tAqc "$sql" \
            >/dev/null && return 0
    fi
    return 1
}

# Makes the cluster trust local socket and loopback connections: puts trust rules at the top of
# pg_hba.conf (first match wins), once, keeping a copy of the original. Test machines only.
pg_trust_loopback() {
    local ver=$1 name=$2
    local hba="/etc/postgresql/$ver/$name/pg_hba.conf"
    [[ -f $hba ]] || die "no $hba"
    if grep -q '^# omni scripts/test.sh: trust loopback' "$hba"; then
        return 0
    fi
    info "pg_hba: trust for local and 127.0.0.1/::1 in $hba (original kept as $hba.omni-orig)"
    [[ -e "$hba.omni-orig" ]] || as_root cp -p "$hba" "$hba.omni-orig"
    local tmp="$SCRATCH/pg_hba.conf"
    {
        printf '%s\n' '# omni scripts/test.sh: trust loopback (test machine)' \
            'local   all   all                  trust' \
            'host    all   all   127.0.0.1/32   trust' \
            'host    all   all   ::1/128        trust'
        cat "$hba"
    } >"$tmp"
    # Write into the existing file so that its owner and mode stay as they are.
    # shellcheck disable=SC2016 # $1/$2 expand in the inner sh
    as_root sh -c 'cat "$1" > "$2"' sh "$tmp" "$hba"
}

pg_wait_ready() {
    local i
    for ((i = 0; i < 60; i++)); do
        pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 1 && return 0
        sleep 0.5
    done
    return 1
}

ensure_postgres() {
    local cluster ver name created=0
    cluster=$(pg_cluster)
    if [[ -z $cluster ]]; then
        ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
        [[ -n $ver ]] || die "no PostgreSQL server under /usr/lib/postgresql"
        info "creating cluster $ver/main on port $PG_PORT"
        as_root pg_createcluster --port "$PG_PORT" "$ver" main
        cluster="$ver main"
        created=1
    fi
    read -r ver name <<<"$cluster"

    if ((created)); then
        pg_trust_loopback "$ver" "$name"
    fi
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2; then
        info "cluster $ver/$name is running"
    else
        info "starting cluster $ver/$name"
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start 3>&-
        pg_wait_ready || die "PostgreSQL did not accept connections on 127.0.0.1:$PG_PORT within 30 s"
    fi

    local out
    if ! out=$(pg_sql postgres 'select 1' 2>&1); then
        if [[ $out != *'role "postgres" does not exist'* ]]; then
            info "cannot connect as postgres: ${out//$'\n'/ }"
            pg_trust_loopback "$ver" "$name"
            as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload
            sleep 1
            out=$(pg_sql postgres 'select 1' 2>&1) || true
        fi
        if [[ $out == *'role "postgres" does not exist'* ]]; then
            info "creating role postgres (SUPERUSER)"
            pg_admin_sql 'CREATE ROLE postgres WITH LOGIN SUPERUSER CREATEDB CREATEROLE' ||
                die "could not create the postgres role"
        fi
        out=$(pg_sql postgres 'select 1' 2>&1) ||
            die "cannot connect: psql -h 127.0.0.1 -U postgres -d postgres: $out"
    fi

    if [[ $(pg_sql postgres 'select rolsuper from pg_roles where rolname = current_user') != t ]]; then
        info "granting SUPERUSER to role postgres"
        pg_admin_sql 'ALTER ROLE postgres WITH SUPERUSER CREATEDB' ||
            die "role postgres is not a superuser and no other superuser could make it one"
    fi
    info "$(pg_sql postgres 'select version()' | cut -d, -f1) at 127.0.0.1:$PG_PORT, role postgres is superuser"
}

# --------------------------------------------------------------------------------------------
# Redis: 127.0.0.1:6379
# --------------------------------------------------------------------------------------------

redis_ping() {
    [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

# A machine service: when this script has to start it, it is left running afterwards (like the
# one the machines start), with its dir, log and pidfile in the tool cache, not in the scratch
# dir that is removed on exit. It keeps nothing on disk (--save "" --appendonly no).
ensure_redis() {
    if redis_ping; then
        info "redis is running at 127.0.0.1:$REDIS_PORT"
        return 0
    fi
    local dir="$OMNI_TOOL_CACHE/redis"
    mkdir -p "$dir"
    info "starting redis-server on 127.0.0.1:$REDIS_PORT (dir $dir)"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" 3>&-
    local i
    for ((i = 0; i < 30; i++)); do
        redis_ping && return 0
        sleep 0.5
    done
    tail -n 20 "$dir/redis.log" >&2 || true
    die "redis did not answer PING on 127.0.0.1:$REDIS_PORT within 15 s"
}

# --------------------------------------------------------------------------------------------
# Nisshi: Kafka-protocol broker, built once into the tool cache, one broker per run
# --------------------------------------------------------------------------------------------

nisshi_root() { printf '%s/nisshi' "$OMNI_TOOL_CACHE"; }

nisshi_ok() {
    local bin version
    bin="$(nisshi_root)/bin/nisshi"
    [[ -x $bin ]] || return 1
    version=$("$bin" --version 2>/dev/null) || return 1
    if [[ $version != "nisshi $NISSHI_VERSION" ]]; then
        warn "$bin is '$version', not nisshi $NISSHI_VERSION: rebuilding"
        return 1
    fi
}

# PID of another process running `cargo install nisshi ... --root <our root>` (a build started by
# hand or by a concurrent run that predates the lock), if any.
nisshi_foreign_build() {
    local root f pid args cmd
    root=$(nisshi_root)
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        mapfile -d '' -t args <"$f" 2>/dev/null || continue
        cmd=" ${args[*]-} "
        if [[ $cmd == *cargo* && $cmd == *" install "* && $cmd == *" nisshi "* && $cmd == *" $root "* ]]; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

ensure_nisshi() {
    local root log
    root=$(nisshi_root)
    log="$OMNI_TOOL_CACHE/nisshi-build.log"
    mkdir -p "$OMNI_TOOL_CACHE"
    if nisshi_ok; then
        info "cached: $root/bin/nisshi"
        NISSHI_BIN="$root/bin/nisshi"
        return 0
    fi

    # One build at a time: concurrent runs of this script queue on the lock.
    local lock_fd
    exec {lock_fd}>"$OMNI_TOOL_CACHE/nisshi.lock"
    info "waiting for the nisshi build lock"
    flock -w 3600 "$lock_fd" || die "timed out waiting for $OMNI_TOOL_CACHE/nisshi.lock"

    # A build already under way without our lock: wait for it instead of starting a second one.
    local pid waited=0
    while pid=$(nisshi_foreign_build); do
        if ((waited == 0)); then info "another build of nisshi is running (PID $pid): waiting for it"; fi
        if ((waited >= 3600)); then
            warn "still building after ${waited}s; building here too"
            break
        fi
        if ((waited % 60 == 0)) && [[ -f $log ]]; then info "[${waited}s] $(tail -n1 "$log")"; fi
        sleep 10
        waited=$((waited + 10))
    done

    if ! nisshi_ok; then
        info "building nisshi $NISSHI_VERSION into $root (about 10 min on 2 cores; log $log)"
        # An explicit --target-dir outside the work tree: a build cut short resumes where it
        # stopped, and CARGO_TARGET_DIR (the workspace's build cache) is left alone.
        local target="$OMNI_TOOL_CACHE/nisshi-build-target" t0=$SECONDS
        cargo install nisshi --version "$NISSHI_VERSION" --locked --ignore-rust-version \
            --no-default-features --features dynostore --root "$root" --target-dir "$target" 2>&1 |
            tee "$log"
        rm -rf "$target"
        info "built nisshi in $((SECONDS - t0))s"
        nisshi_ok || die "nisshi build finished but $root/bin/nisshi does not run"
    else
        info "cached: $root/bin/nisshi"
    fi
    exec {lock_fd}>&-
    NISSHI_BIN="$root/bin/nisshi"
}

# Starts one broker on a free loopback port, in memory. Flags as in `nisshi broker --help`
# (nisshi 0.8.1): --listener-url (default tcp://[::]:9092, i.e. every interface, so always
# passed), --advertised-listener-url, --storage-engine, --group-initial-rebalance-delay (default
# 3s; 0s lets a test's first consumer join at once).
# Sets NISSHI_PORT and NISSHI_PID. With NISSHI_DETACH=1 the broker runs under nohup (it outlives
# this script and a closed terminal); nohup execs, so $! is still the broker's own PID.
start_nisshi() {
    local attempt port pid i launcher=()
    [[ ${NISSHI_DETACH:-0} == 1 ]] && launcher=(nohup)
    for attempt in 1 2 3; do
        port=$(free_port)
        "${launcher[@]}" "$NISSHI_BIN" broker \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine memory://nisshi/ \
            --group-initial-rebalance-delay 0s \
            >"$SCRATCH/nisshi.log" 2>&1 </dev/null 3>&- &
        pid=$!
        STARTED_PIDS+=("$pid")
        printf '%s\n' "$pid" >"$SCRATCH/nisshi.pid"
        for ((i = 0; i < 60; i++)); do
            if port_open "$port"; then
                NISSHI_PORT=$port
                NISSHI_PID=$pid
                info "nisshi broker PID $pid on 127.0.0.1:$port (log $SCRATCH/nisshi.log)"
                nisshi_smoke_test
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        warn "nisshi did not come up on port $port (attempt $attempt):"
        tail -n 20 "$SCRATCH/nisshi.log" >&2 || true
        stop_pid "$pid"
        forget_pid "$pid"
    done
    die "could not start the nisshi broker"
}

# Creates, lists and deletes a topic through the broker with nisshi's own client.
nisshi_smoke_test() {
    local broker="tcp://127.0.0.1:$NISSHI_PORT" topic="omni-smoke-$$"
    timeout 30 "$NISSHI_BIN" topic create --broker "$broker" --partitions 1 "$topic" >"$SCRATCH/smoke.log" 2>&1 ||
        { cat "$SCRATCH/smoke.log" >&2; die "nisshi smoke test: topic create failed"; }
    timeout 30 "$NISSHI_BIN" topic list --broker "$broker" >"$SCRATCH/smoke.log" 2>&1 ||
        { cat "$SCRATCH/smoke.log" >&2; die "nisshi smoke test: topic list failed"; }
    grep -q -- "$topic" "$SCRATCH/smoke.log" ||
        { cat "$SCRATCH/smoke.log" >&2; die "nisshi smoke test: created topic $topic not listed"; }
    timeout 30 "$NISSHI_BIN" topic delete --broker "$broker" "$topic" >"$SCRATCH/smoke.log" 2>&1 ||
        { cat "$SCRATCH/smoke.log" >&2; die "nisshi smoke test: topic delete failed"; }
    info "smoke test passed: topic create, list, delete"
}

# True when PID is a live child of this script (so a recycled PID is never signalled).
is_our_child() {
    local stat rest
    stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
    rest=${stat##*) } # fields after "(comm) ": state ppid ...
    read -r _ rest <<<"$rest"
    [[ ${rest%% *} == "$$" ]]
}

forget_pid() {
    local p kept=()
    for p in "${STARTED_PIDS[@]}"; do [[ $p == "$1" ]] || kept+=("$p"); done
    STARTED_PIDS=("${kept[@]}")
}

# Stops a process this script started: TERM, up to 10 s, then KILL. Only ever called with PIDs
# recorded in STARTED_PIDS, and only signals them while they are still our children.
stop_pid() {
    local pid=$1 i
    is_our_child "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

#!/usr/bin/env bash
# The raw floor of partner intake: PostgreSQL alone storing rows shaped like intake's (time-ordered ids, a
# 353-byte request, partner order ids, timestamps, traceparent, ce_id) in the orders table as the real migrations
# build it (every index), loaded with psql's \copy: in intake's batches of 512 rows per transaction, and in one
# statement. Prints rows/s and the backend's CPU per row (from /proc: run it on the database's machine).
# docs/PERFORMANCE.md compares it with `omni-loadtest intake`.
#
#   scripts/bench/intake-floor.sh [ROWS]      (default 200000)
#
# Database: OMNI_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). Works in its own
# schema and scratch directory, both removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWS=${1:-200000}
[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 512 ]] || { echo "ROWS must be a number, at least 512" >&2; exit 2; }
DB=${OMNI_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SCHEMA="intake_floor_$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/intake-floor.XXXXXX")
chmod 755 "$WORK"
sql() { psql "$DB" -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    sql -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== the orders table from the migrations, in schema $SCHEMA"
{
    echo "CREATE SCHEMA $SCHEMA; SET search_path = $SCHEMA;"
    for up in "$ROOT"/services/orders/migrations/*/up.sql; do cat "$up"; echo; done
} | sql >/dev/null

echo "== $ROWS rows shaped like intake's"
sql -c "\\copy (SELECT
    '019ab000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'), 'accepted', 'marketplace', 'acme-market',
    'TP-' || lpad(n::text, 7, '0'),
    '{\"channel\":\"marketplace\",\"customer\":{\"tier\":\"standard\"},\"currency\":\"EUR\",\"lines\":[{\"sku\":\"LT-INTAKE-1\",\"quantity\":1,\"unit_price_minor\":1000}],\"delivery\":{\"type\":\"ship\",\"lat\":52.51,\"lon\":13.39},\"promise_by\":\"2026-11-26T20:00:00.000000Z\",\"tenders\":[{\"type\":\"marketplace_prepaid\"}],\"partner_order_id\":\"TP-' || lpad(n::text, 7, '0') || '\",\"placed_at\":\"2026-11-24T20:00:00.000000Z\"}',
    'EUR', 1000, now()::timestamp + n * interval '5 microseconds', now()::timestamp + n * interval '5 microseconds',
    now()::timestamp + interval '2 days' + n * interval '5 microseconds',
    '00-' || md5(n::text) || '-' || substr(md5(n::text), 1, 16) || '-01', gen_random_uuid()::text
    FROM generate_series(1, $ROWS) n ORDER BY n) TO '$WORK/rows.csv' CSV"
split -l 512 -d -a 5 "$WORK/rows.csv" "$WORK/batch-"

COLUMNS="id,status,channel,partner_id,partner_order_id,request,currency,total_minor,created_at,updated_at,promise_by,traceparent,intake_event_id"
# One psql session: its backend's CPU ticks before and after the load (utime + stime, fields 14 and 15).
load() {
    local what=$1 script="$WORK/load.sql" t0 t1 before after
    shift
    {
        echo "SET search_path = $SCHEMA;"
        echo "TRUNCATE orders;"
        echo "SELECT pg_backend_pid() AS pid \\gset"
        echo "\\setenv BACKEND :pid"
        echo "\\! cat /proc/\$BACKEND/stat > $WORK/before"
        for file in "$@"; do
            echo "BEGIN;"
            echo "\\copy orders($COLUMNS) FROM '$file' CSV"
            echo "COMMIT;"
        done
        echo "\\! cat /proc/\$BACKEND/stat > $WORK/after"
    } >"$script"
    t0=$(date +%s.%N)
    sql -f "$script" >/dev/null
    t1=$(date +%s.%N)
    before=$(awk '{print $14 + $15}' "$WORK/before")
    after=$(awk '{print $14 + $15}' "$WORK/after")
    awk -v what="$what" -v rows="$ROWS" -v wall="$(echo "$t1 - $t0" | bc)" -v ticks="$((after - before))" \
        'BEGIN { printf "%-40s %6.2f s  %8.0f rows/s  backend CPU %5.1f µs/row\n", what, wall, rows / wall, ticks * 10000 / rows }'
}
echo "== loading (CPU from /proc at 100 ticks/s)"
load "512 rows per transaction, every index" "$WORK"/batch-*
load "one statement, every index" "$WORK/rows.csv"

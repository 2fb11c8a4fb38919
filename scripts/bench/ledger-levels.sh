#!/usr/bin/env bash
# A hot SKU's on-hand with a long ledger, the two ways side by side in one run: summing the SKU's whole history
# (before 2026-11-27-000001_ledger_checkpoints) and the newest checkpoint plus the tail since its cut (the SQL of
# services/allocation/src/db/ledger.rs). The ledger holds MOVEMENTS rows of the hot SKU at 20 locations and as many
# of 5,000 other SKUs; the tail is 800 movements. Each read runs three times; psql's \timing gives the times.
#
#   scripts/bench/ledger-levels.sh [MOVEMENTS]      (default 1000000)
#
# Database: OMNI_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). Works in its own schema,
# removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOVEMENTS=${1:-1000000}
[[ $MOVEMENTS =~ ^[0-9]+$ && $MOVEMENTS -ge 1000 ]] || { echo "MOVEMENTS must be a number, at least 1000" >&2; exit 2; }
DB=${OMNI_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SCHEMA="ledger_levels_$$"
sql() { psql "$DB" -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() { sql -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# What ledger.rs runs: the safe cut, a checkpoint over (previous, cut], the newest checkpoint, the tail's sums.
CUT="CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT)"
checkpoint() { # $1: the previous cut (or NULL), $2: whether this is the SKU's first checkpoint
    echo "INSERT INTO stock_checkpoints (sku, cut, location_id, on_hand)
          SELECT 'HOT', $CUT, location_id, CAST(SUM(on_hand) AS BIGINT) FROM (
              SELECT location_id, on_hand FROM stock_checkpoints WHERE sku = 'HOT' AND cut = $1
              UNION ALL
              SELECT location_id, delta AS on_hand FROM movements
              WHERE sku = 'HOT' AND ((written_by >= $1 AND written_by < $CUT) OR ($2 AND written_by IS NULL))
          ) AS moved WHERE true GROUP BY location_id ON CONFLICT DO NOTHING;"
}
WHOLE="SELECT location_id, CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM movements WHERE sku = 'HOT'
       GROUP BY location_id ORDER BY location_id;"
NEWEST="SELECT MAX(cut) AS cut FROM stock_checkpoints WHERE sku = 'HOT' \\gset
        SELECT location_id, on_hand FROM stock_checkpoints WHERE sku = 'HOT' AND cut = :cut;"
TAIL="SELECT location_id, CAST(COALESCE(SUM(delta), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM movements
      WHERE sku = 'HOT' AND written_by >= :cut GROUP BY location_id;"

echo "== allocation's tables from the migrations, in schema $SCHEMA; $MOVEMENTS movements of the hot SKU"
{
    echo "CREATE SCHEMA $SCHEMA; SET search_path = $SCHEMA;"
    for up in "$ROOT"/services/allocation/migrations/*/up.sql; do cat "$up"; echo; done
    # Written before the checkpoints existed (written_by NULL), as a migrated ledger has them.
    echo "INSERT INTO movements (event_id, location_id, sku, kind, quantity, delta, recorded_at)
          SELECT 'hot-' || n, 'S' || (n % 20), 'HOT', 'pos_sale', 1, -1, now() FROM generate_series(1, $MOVEMENTS) n;
          INSERT INTO movements (event_id, location_id, sku, kind, quantity, delta, recorded_at)
          SELECT 'other-' || n, 'S' || (n % 20), 'SKU-' || (n % 5000), 'receipt', 1, 1, now()
          FROM generate_series(1, $MOVEMENTS) n;
          ANALYZE movements;"
} | sql >/dev/null

{
    echo "SET search_path = $SCHEMA;"
    echo "\\o /dev/null"
    echo "\\timing on"
    for _ in 1 2 3; do echo "\\echo 'the whole history:'"; echo "$WHOLE"; done
    echo "\\echo 'the first checkpoint (sums the history once):'"; checkpoint NULL true
    echo "\\timing off"
    echo "INSERT INTO movements (event_id, location_id, sku, kind, quantity, delta, recorded_at, written_by)
          SELECT 'tail-' || n, 'S' || (n % 20), 'HOT', 'pos_sale', 1, -1, now(), txid_current()
          FROM generate_series(1, 800) n;"
    echo "\\timing on"
    for _ in 1 2 3; do
        echo "\\echo 'the newest checkpoint:'"; echo "$NEWEST"
        echo "\\echo 'the tail of 800 since its cut:'"; echo "$TAIL"
    done
    echo "\\echo 'a checkpoint over that tail:'"; checkpoint :cut false
} | sql 2>&1 | awk '/^Time:/ { printf " %s ms", $2; next } { if (NR > 1) print ""; printf "%-52s", $0 } END { print "" }'

# shellcheck shell=bash
# Rewards: grants of ONE hot reward at 64 concurrent clients, straight to the rewards port as the canvas
# calls it (each grant: limits row, one unit from a stock shard, the grant row, its outbox fact — one
# autocommit statement, one round trip, synchronous commit). The reference in the same run: pgbench doing the naive thing on the
# same PostgreSQL — one hot stock row `UPDATE … SET remaining = remaining - 1 WHERE remaining > 0` plus
# the grant INSERT per transaction, 64 clients. Oversold is counted from the database after a second run
# that drives a small stock well past empty: grants beyond the units, plus any unit neither granted nor
# left in the shards (a leak would show there).
#   BENCH_DURATION (15 s), BENCH_CLIENTS (64), BENCH_SHARDS (16), BENCH_PG_PORT (25485)

source "$LATTICE_ROOT/scripts/lib/postgres.sh"
ensure_build_dependencies
ensure_packages curl python3 wrk
DURATION="${BENCH_DURATION:-15}"
CLIENTS="${BENCH_CLIENTS:-64}"
SHARDS="${BENCH_SHARDS:-16}"
source "$LATTICE_ROOT/scripts/bench.d/lib/bench.sh"
bench_setup rewards 25485

BUILD_ARGS=(-c release)
[ -n "${LATTICE_BUILD_PATH:-}" ] && BUILD_ARGS+=(--build-path "$LATTICE_BUILD_PATH")
log "building (release)"
(cd "$LATTICE_ROOT" && swift build "${BUILD_ARGS[@]}" --product lattice-rewards >/dev/null)
BIN="$(cd "$LATTICE_ROOT" && swift build "${BUILD_ARGS[@]}" --show-bin-path)"

rm -rf "$PG_DATA"
pg_start "$PG_DATA" "$PG_PORT"      # fsync on: grants and the reference pay the same durability
pg_createdb "$PG_PORT" lattice_bench
DB="postgres://postgres@127.0.0.1:$PG_PORT/lattice_bench"
SECRET="bench-internal-secret-0123456789"
PORT=$(free_port)
# Facts are written to the outbox for a subscriber that is not listening: the grant pays for its fact,
# the relay's retries back off. NOTIFY is off (BENCH_NOTIFY=true to measure it on): at this rate its
# global commit lock costs about a third of the throughput, and the relay polls anyway.
DATABASE_URL="$DB" LATTICE_INTERNAL_SECRET="$SECRET" LATTICE_PORT="$PORT" LATTICE_LOG_LEVEL=warning \
LATTICE_DB_POOL_SIZE="${BENCH_POOL:-24}" LATTICE_REWARDS_STOCK_SHARDS="$SHARDS" LATTICE_REWARDS_OUTBOX_NOTIFY="${BENCH_NOTIFY:-false}" \
LATTICE_EVENT_SUBSCRIBERS="analytics=http://127.0.0.1:$(free_port)/internal/v1/events" \
LATTICE_GATEWAY_URL="http://127.0.0.1:1" "$BIN/lattice-rewards" > "$WORK/rewards.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/rewards.log" >&2; die "the rewards service did not start"; }

api() {  # METHOD PATH [BODY] [USER]
    curl -sf -X "$1" "http://127.0.0.1:$PORT$2" -H 'content-type: application/json' \
        -H "x-lattice-internal: $SECRET" -H "x-lattice-user: ${4:-bench-operator}" -H 'x-lattice-org: hq' \
        -H 'x-lattice-org-path: /hq/' -H 'x-lattice-roles: operator' -H 'x-lattice-rights: view,edit,publish' ${3:+-d "$3"}
}
reward() {  # CODE STOCK: an approved cash coupon; prints its id
    local id
    id=$(api POST /api/v1/rewards "{\"code\":\"$1\",\"name\":\"bench\",\"kind\":\"coupon\",\"couponType\":\"cash\",\"faceValue\":\"5.00\",\"stock\":$2,\"unitCost\":\"5.00\",\"validity\":{\"days\":30}}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || die "cannot create reward $1"
    api POST "/api/v1/rewards/$id:approve" "" bench-approver >/dev/null || die "cannot approve reward $1"
    echo "$id"
}
count() { psql "$DB" -tAc "$1"; }

log "reference: naive hot-row UPDATE + grant INSERT, pgbench, $CLIENTS clients, ${DURATION}s"
psql "$DB" -q <<'SQL'
CREATE TABLE naive_stock (id int PRIMARY KEY, remaining int NOT NULL CHECK (remaining >= 0));
INSERT INTO naive_stock VALUES (1, 100000000);
CREATE TABLE naive_grants (id bigserial PRIMARY KEY, customer_id text NOT NULL, granted_at timestamptz NOT NULL DEFAULT now());
SQL
cat > "$WORK/naive.sql" <<'SQL'
BEGIN;
UPDATE naive_stock SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0;
INSERT INTO naive_grants (customer_id) VALUES ('c' || :client_id);
COMMIT;
SQL
pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$WORK/naive.sql" "$DB" > "$WORK/naive.out" 2>&1 || die "pgbench failed: $(cat "$WORK/naive.out")"
NAIVE=$(awk '/^tps/ {printf "%.0f", $3; exit}' "$WORK/naive.out")

HOT=$(reward bench-hot 100000000)
log "grants of one hot reward ($SHARDS stock shards), $CLIENTS clients, ${DURATION}s"
SECRET="$SECRET" REWARD="$HOT" RUN=hot wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency -s "$LATTICE_ROOT/scripts/bench.d/lib/rewards_grant.lua" \
    "http://127.0.0.1:$PORT" > "$WORK/hot.out" 2>&1 || die "wrk failed: $(cat "$WORK/hot.out")"
grep -q "unexpected status" "$WORK/hot.out" && die "grants failed: $(grep -m3 "unexpected status" "$WORK/hot.out")"
GRANTED=$(count "SELECT count(*) FROM rewards.grants WHERE reward_id = '$HOT'")
GRANTS_PS=$(awk -v n="$GRANTED" -v d="$DURATION" 'BEGIN {printf "%.0f", n/d}')
P99=$(awk '/ 99%/ {print $2}' "$WORK/hot.out")
FACTS=$(count "SELECT count(*) FROM rewards.outbox_events WHERE event_type = 'rewards.granted'")

# Sized to empty in about two seconds at the measured rate, so the 5 s run drives it well past empty.
SMALL_STOCK=$(awk -v r="$GRANTS_PS" 'BEGIN {n = int(r * 2); if (n < 200) n = 200; print n}')
log "oversell check: a stock of $SMALL_STOCK driven past empty"
SMALL=$(reward bench-small "$SMALL_STOCK")
SECRET="$SECRET" REWARD="$SMALL" RUN=small wrk -t2 -c"$CLIENTS" -d5s -s "$LATTICE_ROOT/scripts/bench.d/lib/rewards_grant.lua" \
    "http://127.0.0.1:$PORT" > "$WORK/small.out" 2>&1 || die "wrk failed: $(cat "$WORK/small.out")"
ATTEMPTS=$(awk '/requests in/ {print $1}' "$WORK/small.out")
OVERSOLD=$(count "
    SELECT coalesce(sum(greatest(0, g.n - r.grantable)), 0) + coalesce(sum(abs(g.n + s.remaining - r.grantable)), 0)
      FROM rewards.rewards r
      JOIN (SELECT reward_id, count(*) AS n FROM rewards.grants WHERE status <> 'revoked' GROUP BY reward_id) g ON g.reward_id = r.id
      JOIN (SELECT reward_id, sum(remaining) AS remaining FROM rewards.reward_stock GROUP BY reward_id) s ON s.reward_id = r.id")
SMALL_GRANTED=$(count "SELECT count(*) FROM rewards.grants WHERE reward_id = '$SMALL'")
[ "$SMALL_GRANTED" = "$SMALL_STOCK" ] || log "WARNING: the small stock granted $SMALL_GRANTED of $SMALL_STOCK (from $ATTEMPTS answered requests)"

echo "BENCH rewards_grants_per_s $GRANTS_PS grants/s"
echo "BENCH rewards_grant_p99 $P99 latency"
echo "BENCH rewards_naive_hot_row_per_s $NAIVE grants/s"
echo "BENCH rewards_oversold $OVERSOLD grants"
echo "BENCH rewards_small_stock_granted $SMALL_GRANTED grants"
echo "BENCH rewards_small_stock $SMALL_STOCK grants"
echo "BENCH rewards_small_stock_attempts $ATTEMPTS requests"
echo "BENCH rewards_granted_facts $FACTS events"

# shellcheck shell=bash
# Segment feed: how far a segment replica's index lags behind the profile while 1,000 changes a second
# arrive (events through the gateway, each one changing a random customer's aggregates). A marker
# customer's attribute is changed every second and the time until an estimate through the gateway
# sees the new value is the lag (target: under 2 s).
#   BENCH_FEED_CUSTOMERS (default 100000), BENCH_DURATION seconds of load (default 30)
#   BENCH_FEED_LOAD: `batches` (default: 50 batches of 20 events a second, as a bank's systems send
#   them) or `single` (1,000 single-event POSTs a second, wrk; on 2 cores that ingestion path itself
#   saturates the machine, issue 4, and the lag then measures the saturation)

source "$LATTICE_ROOT/scripts/lib/postgres.sh"
ensure_build_dependencies
ensure_packages curl python3 wrk
CUSTOMERS="${BENCH_FEED_CUSTOMERS:-100000}"
DURATION="${BENCH_DURATION:-30}"
LOAD="${BENCH_FEED_LOAD:-batches}"
case "$LOAD" in batches|single) ;; *) echo "BENCH_FEED_LOAD must be batches or single" >&2; exit 2 ;; esac
source "$LATTICE_ROOT/scripts/bench.d/lib/bench.sh"
bench_setup segment-feed 25473

log "building (release)"
(cd "$LATTICE_ROOT" && for p in lattice-gateway lattice-profile lattice-segment; do swift build -c release --product "$p" >/dev/null || exit 1; done) \
    || die "build failed"
BIN="$(cd "$LATTICE_ROOT" && swift build -c release --show-bin-path)"

rm -rf "$PG_DATA"
pg_start "$PG_DATA" "$PG_PORT"
pg_createdb "$PG_PORT" lattice_bench
DB="postgres://postgres@127.0.0.1:$PG_PORT/lattice_bench"
SECRET="bench-internal-secret-0123456789"
PASSWORD="bench-admin-password-1"
GW_PORT=$(free_port); PROFILE_PORT=$(free_port); SEGMENT_PORT=$(free_port)
COMMON=(DATABASE_URL="$DB" LATTICE_INTERNAL_SECRET="$SECRET" LATTICE_LOG_LEVEL=warning LATTICE_GATEWAY_URL="http://127.0.0.1:$GW_PORT")
env "${COMMON[@]}" LATTICE_PORT="$PROFILE_PORT" "$BIN/lattice-profile" > "$WORK/profile.log" 2>&1 &
PIDS+=($!)
env "${COMMON[@]}" LATTICE_PORT="$SEGMENT_PORT" LATTICE_SERVICE_PROFILE="http://127.0.0.1:$PROFILE_PORT" \
    "$BIN/lattice-segment" > "$WORK/segment.log" 2>&1 &
PIDS+=($!)
env "${COMMON[@]}" LATTICE_PORT="$GW_PORT" LATTICE_ADMIN_PASSWORD="$PASSWORD" \
    LATTICE_UPSTREAM_PROFILE="http://127.0.0.1:$PROFILE_PORT" LATTICE_UPSTREAM_SEGMENT="http://127.0.0.1:$SEGMENT_PORT" \
    LATTICE_RATE_PER_TOKEN=1000000 LATTICE_RATE_BURST_PER_TOKEN=1000000 LATTICE_RATE_PER_IP=1000000 LATTICE_RATE_BURST_PER_IP=1000000 \
    "$BIN/lattice-gateway" > "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for port in "$GW_PORT" "$PROFILE_PORT" "$SEGMENT_PORT"; do
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -n 20 "$WORK"/*.log >&2; die "a service on port $port did not start"; }
done
API="http://127.0.0.1:$GW_PORT/api/v1"
bench_bank "$API" "$PASSWORD" "bench feed"

log "importing $CUSTOMERS customers"
bench_import_customers "$API" "$TOKEN" "$CUSTOMERS"
indexed() { curl -sf "http://127.0.0.1:$SEGMENT_PORT/internal/v1/index" -H "x-lattice-internal: $SECRET" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["customers"])' 2>/dev/null || echo 0; }
log "waiting for the segment index to hold them"
for _ in $(seq 1 600); do [ "$(indexed)" -ge "$CUSTOMERS" ] && break; sleep 0.5; done
[ "$(indexed)" -ge "$CUSTOMERS" ] || die "the segment index holds $(indexed) of $CUSTOMERS customers"
# The import leaves work behind: the rule-tag worker gives every new customer its lifecycle stage (one
# more change each) and the index reads all of it. The lag asked for is the steady one, so the load
# starts once the worker has read the feed to its end and the index has caught up.
backlog() { psql "$DB" -qAt -c "SELECT count(*) FROM profile.customer_changes c, profile.rule_tag_cursors r
    WHERE r.name = 'customer_changes' AND (c.tx, c.seq) > (r.tx, r.seq)" 2>/dev/null || echo 999999; }
feed_lag() { curl -sf "http://127.0.0.1:$SEGMENT_PORT/internal/v1/index" -H "x-lattice-internal: $SECRET" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get("lagSeconds", 99))' 2>/dev/null || echo 99; }
log "waiting for the import's follow-up work (lifecycle stages, the index) to settle"
for _ in $(seq 1 600); do
    [ "$(backlog)" -lt 1000 ] && awk -v l="$(feed_lag)" 'BEGIN {exit !(l < 1)}' && break
    sleep 1
done
log "settled: rule-tag backlog $(backlog) rows, index lag $(feed_lag) s"

log "changes at 1000/s ($LOAD) for ${DURATION}s, the marker changed every second"
if [ "$LOAD" = single ]; then
    paced_single_events "$GW_PORT" "$TOKEN" "$CUSTOMERS" "$DURATION" "$WORK/events.out" &
    WRK=$!
    sleep 4   # the calibration run
else
    python3 "$LATTICE_ROOT/scripts/bench.d/lib/profile_load.py" paced "$GW_PORT" "$TOKEN" "$CUSTOMERS" "$DURATION" 2 20 1000 \
        > "$WORK/events.out" &
    WRK=$!
fi
python3 "$LATTICE_ROOT/scripts/bench.d/lib/segment_lag.py" "$GW_PORT" "$TOKEN" "$DURATION" > "$WORK/lag.out" \
    || { cat "$WORK/lag.out" >&2; die "the lag probe failed"; }
wait "$WRK" || die "the events failed: $(cat "$WORK/events.out")"
if [ "$LOAD" = single ]; then
    RATE=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/events.out")
else
    RATE=$(tr -d '[:space:]' < "$WORK/events.out")
fi
echo "BENCH segment_feed_changes_per_s $RATE changes/s"
awk -v r="$RATE" 'BEGIN {exit !(r >= 900)}' || log "warning: changes arrived at $RATE/s, not 1000/s"
cat "$WORK/lag.out"

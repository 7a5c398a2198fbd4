# shellcheck shell=bash
# Analytics: single events through the inbox route (/internal/v1/events, one event per request, as an
# outbox relay delivers them) on a smaller count, then 10M facts bulk-loaded through the store (COPY
# into staging, the same rollup upserts as the inbox path), then the funnel and the experiment report
# of one canvas timed over HTTP through the gateway; the reference is the same funnel as a plain GROUP
# BY over the raw facts in psql, in the same run.
#   BENCH_ANALYTICS_FACTS        facts to bulk-load (default 10000000)
#   BENCH_ANALYTICS_HTTP_EVENTS  events posted singly, and again in batches of 100 (default 20000)
#   LATTICE_BUILD_PATH           build folder (default .build)

source "$LATTICE_ROOT/scripts/lib/postgres.sh"
ensure_build_dependencies
ensure_packages curl python3
FACTS="${BENCH_ANALYTICS_FACTS:-10000000}"
HTTP_EVENTS="${BENCH_ANALYTICS_HTTP_EVENTS:-20000}"
RUNS=31
source "$LATTICE_ROOT/scripts/bench.d/lib/bench.sh"
bench_setup analytics 25473
BUILD_ARGS=(-c release)
[ -n "${LATTICE_BUILD_PATH:-}" ] && BUILD_ARGS+=(--build-path "$LATTICE_BUILD_PATH")

log "building (release)"
for product in lattice-gateway lattice-analytics AnalyticsBench; do
    (cd "$LATTICE_ROOT" && swift build "${BUILD_ARGS[@]}" --product "$product" >/dev/null) || die "building $product failed"
done
BIN="$(cd "$LATTICE_ROOT" && swift build "${BUILD_ARGS[@]}" --show-bin-path)"

rm -rf "$PG_DATA"
# fsync on: single events pay the durability a bank runs with.
LATTICE_PG_OPTIONS="-c shared_buffers=1GB -c work_mem=64MB -c maintenance_work_mem=512MB -c max_wal_size=8GB ${LATTICE_PG_OPTIONS:-}" pg_start "$PG_DATA" "$PG_PORT"
pg_createdb "$PG_PORT" lattice_bench
DB="postgres://postgres@127.0.0.1:$PG_PORT/lattice_bench"
PSQL=(psql "$DB" -v ON_ERROR_STOP=1 -qAt)
SECRET="bench-internal-secret-0123456789"
PASSWORD="bench-admin-password-1"
GW_PORT=$(free_port); AN_PORT=$(free_port)
DATABASE_URL="$DB" LATTICE_INTERNAL_SECRET="$SECRET" LATTICE_PORT="$AN_PORT" LATTICE_LOG_LEVEL=warning \
LATTICE_GATEWAY_URL="http://127.0.0.1:$GW_PORT" "$BIN/lattice-analytics" > "$WORK/analytics.log" 2>&1 &
PIDS+=($!)
DATABASE_URL="$DB" LATTICE_INTERNAL_SECRET="$SECRET" LATTICE_PORT="$GW_PORT" LATTICE_ADMIN_PASSWORD="$PASSWORD" \
LATTICE_UPSTREAM_ANALYTICS="http://127.0.0.1:$AN_PORT" LATTICE_LOG_LEVEL=warning \
LATTICE_RATE_PER_TOKEN=1000000 LATTICE_RATE_BURST_PER_TOKEN=1000000 LATTICE_RATE_PER_IP=1000000 LATTICE_RATE_BURST_PER_IP=1000000 \
    "$BIN/lattice-gateway" > "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for port in "$GW_PORT" "$AN_PORT"; do
    for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
done
curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null || { cat "$WORK/gateway.log" >&2; die "the gateway did not start"; }
curl -sf "http://127.0.0.1:$AN_PORT/readyz" >/dev/null || { cat "$WORK/analytics.log" >&2; die "analytics did not start"; }
API="http://127.0.0.1:$GW_PORT/api/v1"
TOKEN=$(curl -sf -X POST "$API/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
    || die "login failed"
AUTH="Authorization: Bearer $TOKEN"

log "$HTTP_EVENTS single events through /internal/v1/events (16 connections)"
HTTP_LINE=$("$BIN/AnalyticsBench" http "http://127.0.0.1:$AN_PORT/internal/v1/events" "$HTTP_EVENTS" 16 "$SECRET") \
    || die "single-event ingestion failed"
STORED=$("${PSQL[@]}" -c "SELECT count(*) FROM analytics.facts WHERE canvas_id = 'cvs_http'")
[ "$STORED" = "$HTTP_EVENTS" ] || die "single events: $STORED of $HTTP_EVENTS stored"
log "$HTTP_EVENTS events in NDJSON batches of 100, as the outbox relay sends them (16 connections)"
BATCH_LINE=$("$BIN/AnalyticsBench" http "http://127.0.0.1:$AN_PORT/internal/v1/events" "$HTTP_EVENTS" 16 "$SECRET" 100) \
    || die "batched ingestion failed"
STORED=$("${PSQL[@]}" -c "SELECT count(*) FROM analytics.facts WHERE canvas_id = 'cvs_http'")
[ "$STORED" = "$((2 * HTTP_EVENTS))" ] || die "batched events: $((STORED - HTTP_EVENTS)) of $HTTP_EVENTS stored"

log "bulk-loading $FACTS facts through the store"
LOAD_OUT=$(DATABASE_URL="$DB" LATTICE_DB_SCHEMA=analytics "$BIN/AnalyticsBench" load "$FACTS") || die "the bulk load failed"
"${PSQL[@]}" -c "VACUUM ANALYZE" >/dev/null
TOTAL=$("${PSQL[@]}" -c "SELECT count(*) FROM analytics.facts")
PARTITIONS=$("${PSQL[@]}" -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'analytics.facts'::regclass")
log "$TOTAL facts in $PARTITIONS partitions"

# median_ms URL: the median of RUNS timed GETs (after one warm-up), in ms, as curl sees them.
median_ms() {
    curl -sf -o /dev/null -H "$AUTH" "$1" || die "GET $1 failed"
    for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' -H "$AUTH" "$1"; done \
        | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" | awk '{printf "%.2f", $1 * 1000}'
}
CANVAS=cvs_bench_00
log "timing the reports of $CANVAS over HTTP ($RUNS runs each)"
FUNNEL_MS=$(median_ms "$API/analytics/canvases/$CANVAS/funnel")
EXPERIMENT_MS=$(median_ms "$API/analytics/canvases/$CANVAS/experiments")
FUNNEL_CSV_MS=$(median_ms "$API/analytics/canvases/$CANVAS/funnel?format=csv")
DASHBOARD_MS=$(median_ms "$API/analytics/dashboard")

# The reference: the same funnel as a plain GROUP BY over the raw facts; both must count the same.
REFERENCE_SQL="SELECT node_id, count(*) FILTER (WHERE type = 'canvas.node_reached') AS reached,
    count(*) FILTER (WHERE type = 'dispatch.message_sent') AS sent, count(*) FILTER (WHERE type = 'dispatch.message_delivered') AS delivered,
    count(*) FILTER (WHERE type = 'dispatch.message_clicked') AS clicked, count(*) FILTER (WHERE type = 'dispatch.message_suppressed') AS suppressed,
    count(*) FILTER (WHERE type = 'canvas.journey_converted') AS converted
  FROM analytics.facts WHERE canvas_id = '$CANVAS' AND node_id IS NOT NULL GROUP BY node_id ORDER BY node_id;"
"${PSQL[@]}" -F ' ' -c "$REFERENCE_SQL" > "$WORK/reference.txt"
curl -sf -H "$AUTH" "$API/analytics/canvases/$CANVAS/funnel" | python3 -c '
import json, sys
for n in sorted(json.load(sys.stdin)["nodes"], key=lambda n: n["nodeId"]):
    print(n["nodeId"], n["reached"], n["sent"], n["delivered"], n["clicked"], n["suppressed"], n["converted"])' > "$WORK/service.txt"
diff "$WORK/reference.txt" "$WORK/service.txt" >&2 || die "the funnel differs from the GROUP BY over the raw facts"
REFERENCE_MS=$({ echo '\timing on'; for _ in 1 2 3; do echo "$REFERENCE_SQL"; done; } | "${PSQL[@]}" 2>/dev/null \
    | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | sed -n 2p)

echo "$HTTP_LINE"
echo "$BATCH_LINE"
echo "$LOAD_OUT"
echo "BENCH analytics_facts_stored $TOTAL facts"
echo "BENCH analytics_experiments_ms $EXPERIMENT_MS ms"
echo "BENCH analytics_funnel_csv_ms $FUNNEL_CSV_MS ms"
echo "BENCH analytics_dashboard_ms $DASHBOARD_MS ms"
echo "BENCH psql_funnel_group_by_raw_facts_ms $REFERENCE_MS ms"
echo "BENCH analytics_funnel_ms $FUNNEL_MS ms"

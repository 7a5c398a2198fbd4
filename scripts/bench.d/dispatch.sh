# shellcheck shell=bash
# Dispatch: BENCH_DISPATCH_MESSAGES (default 1,000,000) marketing SMS, one per customer, posted in
# batches of 1,000 straight to the dispatcher (as the canvas does), through the whole policy chain
# (every customer consented, quiet hours off), delivered to the provider simulator (SIM_LATENCY_MS 20,
# receipts posted back; the provider takes BENCH_DISPATCH_PROVIDER_BATCH messages a call, default
# 100). Figures: admission and end-to-end rates, what the simulator lost or received twice, the
# policy chain's cost per message from the dispatcher's own metrics. Reference in the same
# run: the simulator driven directly by wrk, one message per request and in batch submissions of the
# provider's batch size (BENCH_DISPATCH_PROVIDER_BATCH, default 100): the provider's own ceilings.

source "$LATTICE_ROOT/scripts/lib/postgres.sh"
ensure_build_dependencies
ensure_packages curl python3 wrk
MESSAGES="${BENCH_DISPATCH_MESSAGES:-1000000}"
SENDERS="${BENCH_DISPATCH_SENDERS:-6}"
source "$LATTICE_ROOT/scripts/bench.d/lib/bench.sh"
bench_setup dispatch 25474

log "building (release)"
(cd "$LATTICE_ROOT" && for p in lattice-gateway lattice-profile lattice-dispatcher ProviderSimulator; do
    swift build -c release --product "$p" >/dev/null || exit 1; done) || die "build failed"
BIN="$(cd "$LATTICE_ROOT" && swift build -c release --show-bin-path)"

rm -rf "$PG_DATA"
LATTICE_PG_OPTIONS="-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min ${LATTICE_PG_OPTIONS:-}" pg_start "$PG_DATA" "$PG_PORT"
pg_createdb "$PG_PORT" lattice_bench
DB="postgres://postgres@127.0.0.1:$PG_PORT/lattice_bench"
SECRET="bench-internal-secret-0123456789"
PASSWORD="bench-admin-password-1"
GW_PORT=$(free_port); PROFILE_PORT=$(free_port); DISPATCH_PORT=$(free_port); SIM_PORT=$(free_port)
COMMON=(DATABASE_URL="$DB" LATTICE_INTERNAL_SECRET="$SECRET" LATTICE_LOG_LEVEL=warning LATTICE_GATEWAY_URL="http://127.0.0.1:$GW_PORT")
env SIM_PORT="$SIM_PORT" SIM_LATENCY_MS=20 SIM_WORKERS=256 SIM_EXPECTED_KEYS=$((MESSAGES * 2)) "$BIN/ProviderSimulator" > "$WORK/simulator.log" 2>&1 &
PIDS+=($!)
env "${COMMON[@]}" LATTICE_PORT="$PROFILE_PORT" LATTICE_DB_SCHEMA=profile "$BIN/lattice-profile" > "$WORK/profile.log" 2>&1 &
PIDS+=($!)
env "${COMMON[@]}" LATTICE_PORT="$DISPATCH_PORT" LATTICE_DB_SCHEMA=dispatch LATTICE_SERVICE_PROFILE="http://127.0.0.1:$PROFILE_PORT" \
    LATTICE_PUBLIC_URL="http://127.0.0.1:$GW_PORT" "$BIN/lattice-dispatcher" > "$WORK/dispatcher.log" 2>&1 &
PIDS+=($!)
env "${COMMON[@]}" LATTICE_PORT="$GW_PORT" LATTICE_DB_SCHEMA=identity LATTICE_ADMIN_PASSWORD="$PASSWORD" \
    LATTICE_UPSTREAM_PROFILE="http://127.0.0.1:$PROFILE_PORT" LATTICE_UPSTREAM_DISPATCHER="http://127.0.0.1:$DISPATCH_PORT" \
    LATTICE_RATE_PER_TOKEN=1000000 LATTICE_RATE_BURST_PER_TOKEN=1000000 LATTICE_RATE_PER_IP=1000000 LATTICE_RATE_BURST_PER_IP=1000000 \
    "$BIN/lattice-gateway" > "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for port in "$GW_PORT" "$PROFILE_PORT" "$DISPATCH_PORT"; do
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -n 20 "$WORK"/*.log >&2; die "a service on port $port did not start"; }
done
curl -sf "http://127.0.0.1:$SIM_PORT/healthz" >/dev/null || die "the provider simulator did not start"
API="http://127.0.0.1:$GW_PORT/api/v1"
bench_bank "$API" "$PASSWORD" "bench dispatch"

log "importing $MESSAGES customers"
bench_import_customers "$API" "$TOKEN" "$MESSAGES"
# Consents come with their evidence through PUT /api/v1/customers/{id}, one customer a call; a bank's
# initial consent load is a migration, so the bench writes the same rows in SQL.
log "granting SMS consent to every customer (SQL, with evidence rows)"
"$(pg_bindir)/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres lattice_bench <<'SQL' || die "consents failed"
SET search_path = profile;
INSERT INTO profile.consents (customer_id, channel, granted, source, changed_at)
    SELECT id, 'sms', true, 'bench', now() FROM profile.customers;
INSERT INTO profile.consent_evidence (customer_id, channel, granted, source, changed_at, recorded_by)
    SELECT id, 'sms', true, 'bench', now(), 'bench' FROM profile.customers;
SQL
log "waiting for the profile to follow the changes of the load"
bench_profile_settled "$PG_PORT" lattice_bench

python3 "$LATTICE_ROOT/scripts/bench.d/lib/dispatch_load.py" setup "$GW_PORT" "$PASSWORD" "http://127.0.0.1:$SIM_PORT" "$WORK/setup.json" \
    || die "setup failed"
PROVIDER=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["provider"])' "$WORK/setup.json")
RSECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["receiptSecret"])' "$WORK/setup.json")
TEMPLATE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["template"])' "$WORK/setup.json")
curl -sf -X PUT "http://127.0.0.1:$SIM_PORT/control/config" -H 'content-type: application/json' \
    -d "{\"receiptUrl\":\"http://127.0.0.1:$GW_PORT/api/v1/receipts/$PROVIDER\",\"receiptSecret\":\"$RSECRET\",\"receiptDelayMs\":200}" \
    >/dev/null || die "cannot point the simulator's receipts at the dispatcher"

log "sending $MESSAGES messages ($SENDERS connections, batches of 1,000)"
python3 "$LATTICE_ROOT/scripts/bench.d/lib/dispatch_load.py" send "$DISPATCH_PORT" "$SECRET" "$TEMPLATE" "$MESSAGES" \
    "http://127.0.0.1:$SIM_PORT" "$SENDERS" | tee "$WORK/send.out" || die "the send run failed"
METRICS="$(curl -sf "http://127.0.0.1:$DISPATCH_PORT/metrics" -H "x-lattice-internal: $SECRET")"
echo "$METRICS" | awk '
    /^dispatch_policy_chain_seconds_total / {s = $2}
    /^dispatch_policy_decisions_total / {n = $2}
    END {if (n > 0) printf "BENCH dispatch_policy_chain_us %.2f us/msg\n", s / n * 1e6}'
# Receipts follow the sends (the simulator posts them 200 ms after acceptance, in batches): how long
# after the last send the last receipt was applied, and how many arrived.
SETTLE_START=$(date +%s.%N)
for _ in $(seq 1 240); do
    RECEIPTS=$("$(pg_bindir)/psql" -tA -h 127.0.0.1 -p "$PG_PORT" -U postgres lattice_bench \
        -c "SELECT count(*) FILTER (WHERE status = 'delivered') FROM dispatch.messages")
    [ "$RECEIPTS" -ge "$MESSAGES" ] && break
    sleep 0.5
done
awk -v a="$SETTLE_START" -v b="$(date +%s.%N)" 'BEGIN {printf "BENCH dispatch_receipts_settled_after_s %.1f s\n", b - a}'
echo "BENCH dispatch_delivered_receipts $RECEIPTS msgs"

log "reference: the simulator driven directly (wrk, 64 connections, one message a request)"
cat > "$WORK/sim.lua" <<'LUA'
local n = 0
request = function()
    n = n + 1
    return wrk.format("POST", "/sms", {["Content-Type"] = "application/json", ["Idempotency-Key"] = "ref-" .. n .. "-" .. math.random(1e9)},
        '{"channel":"ref","body":"reference"}')
end
LUA
wrk -t2 -c64 -d10s -s "$WORK/sim.lua" "http://127.0.0.1:$SIM_PORT" > "$WORK/ref.out" 2>&1 || die "wrk failed: $(cat "$WORK/ref.out")"
awk '/Requests\/sec/ {printf "BENCH dispatch_reference_simulator_direct_req_per_s %.0f req/s\n", $2}' "$WORK/ref.out"
PROVIDER_BATCH="${BENCH_DISPATCH_PROVIDER_BATCH:-100}"
if [ "$PROVIDER_BATCH" -gt 1 ]; then
    log "reference: the simulator driven directly with batch submissions ($PROVIDER_BATCH messages a request, 64 connections)"
    cat > "$WORK/sim-batch.lua" <<LUA
local n = 0
request = function()
    local items = {}
    for i = 1, $PROVIDER_BATCH do
        n = n + 1
        items[i] = '{"idempotencyKey":"refb-' .. n .. '-' .. math.random(1e9) .. '","channel":"ref","body":"reference"}'
    end
    return wrk.format("POST", "/sms", {["Content-Type"] = "application/json"}, '{"messages":[' .. table.concat(items, ",") .. ']}')
end
LUA
    wrk -t2 -c64 -d10s -s "$WORK/sim-batch.lua" "http://127.0.0.1:$SIM_PORT" > "$WORK/ref-batch.out" 2>&1 || die "wrk failed: $(cat "$WORK/ref-batch.out")"
    awk -v b="$PROVIDER_BATCH" '/Requests\/sec/ {printf "BENCH dispatch_reference_simulator_direct_batched_msgs_per_s %.0f msg/s\n", $2 * b}' "$WORK/ref-batch.out"
fi
# What went wrong along the way, if anything (a repeated call shows here as the failed job batch or the
# retried provider call behind it).
WARNINGS=$(grep -c '"level":"\(warning\|error\)"' "$WORK/dispatcher.log" || true)
echo "BENCH dispatch_dispatcher_warnings ${WARNINGS:-0} lines"
grep '"level":"\(warning\|error\)"' "$WORK/dispatcher.log" | sed 's/"ts":"[^"]*",//' | cut -c1-300 | sort | uniq -c | sort -rn | head -5 >&2 || true

# shellcheck shell=bash
# What every benchmark area sets up the same way: a work folder, the processes it starts (PIDS), and
# optionally a private PostgreSQL cluster, all removed on exit.

# bench_setup NAME [PG_PORT]: sets WORK (a fresh folder), PIDS, and with a port PG_PORT and PG_DATA
# (BENCH_PG_PORT overrides the port); the EXIT trap stops PIDS, nginx when WORK/nginx.pid exists, and
# the cluster. The caller starts the cluster (pg_start) with the settings it wants.
bench_setup() {
    WORK="$(mktemp -d "/tmp/lattice-bench-$1.XXXXXX")"
    chmod 755 "$WORK"
    PIDS=()
    PG_DATA=""
    if [ -n "${2:-}" ]; then
        PG_PORT="${BENCH_PG_PORT:-$2}"
        PG_DATA="$(pg_default_datadir "pg-bench-$PG_PORT")"
    fi
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    sleep 0.5
    if [ -n "$PG_DATA" ]; then pg_stop "$PG_DATA"; rm -rf "$PG_DATA"; fi
    rm -rf "$WORK"
}

# free_port: a TCP port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# paced_single_events PORT TOKEN CUSTOMERS SECONDS OUT: single-event POSTs through the gateway at about
# 1,000 a second for SECONDS, wrk's report in OUT. wrk paces each of 16 connections by a pause after each
# response, so one connection's cycle is the pause plus the response time: a 3 s calibration run
# measures that response time and the pause is set to make the 16 connections send 1,000 events/s in
# all (callers print the achieved rate).
paced_single_events() {
    local port="$1" token="$2" customers="$3" seconds="$4" out="$5" rate pause
    run() {  # PAUSE_MS SECONDS OUT
        TOKEN="$token" CUSTOMERS="$customers" RATE=1000 CONNECTIONS=16 PAUSE_MS="$1" \
            wrk -t2 -c16 -d"$2s" --latency -s "$LATTICE_ROOT/scripts/bench.d/lib/single_event.lua" "http://127.0.0.1:$port" \
            > "$3" 2>&1 || die "single events failed: $(cat "$3")"
        grep -q "unexpected status" "$3" && die "single events failed: $(grep -m3 "unexpected status" "$3")"
        return 0
    }
    log "calibrating the pause for 1000 single events/s"
    run 16 3 "$WORK/calibrate.out"
    rate=$(awk '/Requests\/sec/ {print $2}' "$WORK/calibrate.out")
    pause=$(awk -v r="$rate" 'BEGIN {l = 16000 / r - 16; p = 16 - l; if (p < 1) p = 1; printf "%.0f", p}')
    log "single events at 1000/s for ${seconds}s (wrk, 16 connections each pausing $pause ms after each response)"
    run "$pause" "$seconds" "$out"
}

# bench_bank API PASSWORD NAME: signs in as the first admin (ADMIN), makes an API key NAME with view and
# edit at head office (TOKEN, what the bank's systems use), and the branches sh, bj and gz.
bench_bank() {
    local api="$1" password="$2" name="$3" b
    ADMIN=$(curl -sf -X POST "$api/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"admin\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
        || die "login failed"
    TOKEN=$(curl -sf -X POST "$api/api-keys" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
        -d "{\"name\":\"$name\",\"orgId\":\"hq\",\"rights\":[\"view\",\"edit\"]}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') || die "cannot create an API key"
    for b in sh bj gz; do
        curl -sf -X POST "$api/orgs" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
            -d "{\"id\":\"$b\",\"parentId\":\"hq\",\"kind\":\"branch\",\"name\":\"$b\"}" >/dev/null || die "cannot create org $b"
    done
}

# bench_import_customers API TOKEN COUNT: imports COUNT synthetic customers (profile_load.py csv, ids
# B0000000…) through the public import and waits until it completed.
bench_import_customers() {
    local api="$1" token="$2" count="$3" job status=""
    python3 "$LATTICE_ROOT/scripts/bench.d/lib/profile_load.py" csv "$WORK/customers.csv" "$count"
    job=$(curl -s -X POST "$api/customers:import" -H "Authorization: Bearer $token" -H 'content-type: text/csv' \
        -T "$WORK/customers.csv" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || die "the import was refused"
    for _ in $(seq 1 2400); do
        status=$(curl -sf "$api/imports/$job" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
        case "$status" in completed|done|failed) break ;; esac
        sleep 0.5
    done
    [ "$status" = completed ] || [ "$status" = done ] || die "the import ended ${status:-unfinished}"
}

# bench_profile_settled PORT DB: waits (up to 10 minutes) until the profile's rule-tag worker has
# followed every customer change, so a bench after a bulk load measures its own area, not the
# profile re-evaluating the customers just loaded.
bench_profile_settled() {
    local port="$1" db="$2" left=""
    for _ in $(seq 1 600); do
        left=$("$(pg_bindir)/psql" -tA -h 127.0.0.1 -p "$port" -U postgres "$db" -c "
            SELECT count(*) FROM profile.customer_changes c, profile.rule_tag_cursors r
             WHERE r.name = 'customer_changes' AND (c.tx, c.seq) > (r.tx, r.seq)") || die "cannot read the profile's change feed"
        [ "$left" = 0 ] && return 0
        sleep 1
    done
    die "the profile still has $left customer changes to follow"
}

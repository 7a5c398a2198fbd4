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

# shellcheck shell=bash
# Gateway: wrk at 64 connections through the gateway (valid bearer token, full auth, rate-limit and
# routing path) to a trivial upstream route, and through nginx proxy_pass to the same upstream, in the
# same run; plus the upstream alone, to show what the gateway adds. The added p99 is measured at a
# steady ~4,000 requests/s (paced connections), where latency is the gateway's own, not a queue.

source "$LATTICE_ROOT/scripts/lib/postgres.sh"
ensure_build_dependencies
ensure_packages wrk nginx-light curl python3
DURATION="${BENCH_DURATION:-10}"
source "$LATTICE_ROOT/scripts/bench.d/lib/bench.sh"
bench_setup gateway 25470

log "building (release)"
(cd "$LATTICE_ROOT" && swift build -c release --product HTTPBenchServer >/dev/null && swift build -c release --product lattice-gateway >/dev/null)
BIN="$(cd "$LATTICE_ROOT" && swift build -c release --show-bin-path)"

rm -rf "$PG_DATA"
LATTICE_PG_FSYNC=off pg_start "$PG_DATA" "$PG_PORT"
pg_createdb "$PG_PORT" lattice_bench

UP_PORT=$(free_port); GW_PORT=$(free_port); NGINX_PORT=$(free_port)
"$BIN/HTTPBenchServer" "$UP_PORT" 1 > "$WORK/upstream.log" 2>&1 &
PIDS+=($!)
PASSWORD="bench-admin-password-1"
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/lattice_bench" \
LATTICE_INTERNAL_SECRET="bench-internal-secret-0123456789" LATTICE_PORT="$GW_PORT" \
LATTICE_ADMIN_PASSWORD="$PASSWORD" LATTICE_UPSTREAM_SEGMENT="http://127.0.0.1:$UP_PORT" \
LATTICE_RATE_PER_TOKEN=1000000 LATTICE_RATE_BURST_PER_TOKEN=1000000 LATTICE_RATE_PER_IP=1000000 LATTICE_RATE_BURST_PER_IP=1000000 \
LATTICE_LOG_LEVEL=warning \
    "$BIN/lattice-gateway" > "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null || { cat "$WORK/gateway.log" >&2; die "the gateway did not start"; }
TOKEN=$(curl -sf -X POST "http://127.0.0.1:$GW_PORT/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
    || die "login failed"

cat > "$WORK/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
daemon on;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  upstream lattice_upstream { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /api/v1/ {
      proxy_pass http://lattice_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/error.log"
curl -sf "http://127.0.0.1:$NGINX_PORT/api/v1/segments" >/dev/null || die "nginx proxy did not start"
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW_PORT/api/v1/segments" >/dev/null || die "the gateway does not route to the upstream"

run_wrk() {  # URL [header] -> "rps p99_ms"
    if [ -n "${2:-}" ]; then wrk -t2 -c64 -d"${DURATION}s" --latency -H "$2" "$1" > "$WORK/wrk.out" 2>&1
    else wrk -t2 -c64 -d"${DURATION}s" --latency "$1" > "$WORK/wrk.out" 2>&1; fi
    grep -q "Non-2xx" "$WORK/wrk.out" && die "non-2xx answers: $(cat "$WORK/wrk.out")"
    awk '/Requests\/sec/ {r=$2} $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p=v} END {print r, p}' "$WORK/wrk.out"
}
best() { printf '%s\n%s\n' "$1" "$2" | sort -k1 -g | tail -n 1; }

log "warming up"
wrk -t2 -c64 -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW_PORT/api/v1/segments" >/dev/null
wrk -t2 -c64 -d2s "http://127.0.0.1:$NGINX_PORT/api/v1/segments" >/dev/null
log "measuring (${DURATION}s per run)"
N1=$(run_wrk "http://127.0.0.1:$NGINX_PORT/api/v1/segments")
G1=$(run_wrk "http://127.0.0.1:$GW_PORT/api/v1/segments" "Authorization: Bearer $TOKEN")
N2=$(run_wrk "http://127.0.0.1:$NGINX_PORT/api/v1/segments")
G2=$(run_wrk "http://127.0.0.1:$GW_PORT/api/v1/segments" "Authorization: Bearer $TOKEN")
D1=$(run_wrk "http://127.0.0.1:$UP_PORT/api/v1/segments")
# Latency at 8 unpaced connections: what a saturated gateway makes callers wait.
latency_p99() {  # URL [header]
    if [ -n "${2:-}" ]; then wrk -t1 -c8 -d"${DURATION}s" --latency -H "$2" "$1" > "$WORK/lat.out" 2>&1
    else wrk -t1 -c8 -d"${DURATION}s" --latency "$1" > "$WORK/lat.out" 2>&1; fi
    awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$WORK/lat.out"
}
SAT_GW=$(latency_p99 "http://127.0.0.1:$GW_PORT/api/v1/segments" "Authorization: Bearer $TOKEN")
SAT_UP=$(latency_p99 "http://127.0.0.1:$UP_PORT/api/v1/segments")
# Added latency at a steady load well below saturation: 40 connections, each pausing 10 ms after every
# response (about 4,000 requests/s), through the gateway, through nginx and to the upstream alone. The
# machine's noise is of the same size as what is measured, so three rounds interleave the three and
# the median p99 of each counts.
paced() {  # URL TOKEN -> "rps p99_ms"
    PAUSE_MS=10 TOKEN="$2" wrk -t2 -c40 -d"${DURATION}s" --latency -s "$LATTICE_ROOT/scripts/bench.d/lib/paced_get.lua" "$1" > "$WORK/paced.out" 2>&1
    grep -q "Non-2xx" "$WORK/paced.out" && die "non-2xx answers: $(cat "$WORK/paced.out")"
    awk '/Requests\/sec/ {r=$2} $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p=v} END {printf "%.0f %s\n", r, p}' "$WORK/paced.out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
PACED_GW=(); PACED_UP=(); PACED_NGINX=(); PACED_RATE=()
for _ in 1 2 3; do
    set -- $(paced "http://127.0.0.1:$GW_PORT/api/v1/segments" "$TOKEN"); PACED_RATE+=("$1"); PACED_GW+=("$2")
    set -- $(paced "http://127.0.0.1:$UP_PORT/api/v1/segments" ""); PACED_UP+=("$2")
    set -- $(paced "http://127.0.0.1:$NGINX_PORT/api/v1/segments" ""); PACED_NGINX+=("$2")
done
LAT_GW=$(median "${PACED_GW[@]}"); LAT_UP=$(median "${PACED_UP[@]}"); LAT_NGINX=$(median "${PACED_NGINX[@]}")
PACED_GW_RPS=$(median "${PACED_RATE[@]}")
set -- $(best "$N1" "$N2"); NGINX_RPS=$1; NGINX_P99=$2
set -- $(best "$G1" "$G2"); GW_RPS=$1; GW_P99=$2
set -- $D1; UP_RPS=$1; UP_P99=$2
echo "BENCH upstream_direct_rps $UP_RPS req/s"
echo "BENCH upstream_direct_p99 $UP_P99 ms"
echo "BENCH nginx_proxy_rps $NGINX_RPS req/s"
echo "BENCH nginx_proxy_p99 $NGINX_P99 ms"
echo "BENCH gateway_rps $GW_RPS req/s"
echo "BENCH gateway_p99 $GW_P99 ms"
echo "BENCH gateway_p99_saturated_8_connections $SAT_GW ms"
echo "BENCH upstream_p99_saturated_8_connections $SAT_UP ms"
echo "BENCH paced_rate_gateway $PACED_GW_RPS req/s"
echo "BENCH upstream_p99_paced $LAT_UP ms"
echo "BENCH nginx_proxy_p99_paced $LAT_NGINX ms"
echo "BENCH gateway_p99_paced $LAT_GW ms"
echo "BENCH nginx_proxy_added_p99 $(awk -v a="$LAT_NGINX" -v b="$LAT_UP" 'BEGIN {printf "%.2f", a-b}') ms"
echo "BENCH gateway_added_p99 $(awk -v a="$LAT_GW" -v b="$LAT_UP" 'BEGIN {printf "%.2f", a-b}') ms"
echo "BENCH gateway_vs_nginx_proxy $(awk -v a="$GW_RPS" -v b="$NGINX_RPS" 'BEGIN {printf "%.2f", a/b}') x"

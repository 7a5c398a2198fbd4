# shellcheck shell=bash
# HTTP server: wrk at 64 connections against a minimal server built on Shared/HTTP (hello and a 1 KB
# JSON route) and against nginx returning the same hello body, in the same run.

ensure_build_dependencies
ensure_packages wrk nginx-light
DURATION="${BENCH_DURATION:-10}"
source "$LATTICE_ROOT/scripts/bench.d/lib/bench.sh"
bench_setup http

log "building the bench server (release)"
(cd "$LATTICE_ROOT" && swift build -c release --product HTTPBenchServer >/dev/null)
BIN="$(cd "$LATTICE_ROOT" && swift build -c release --show-bin-path)/HTTPBenchServer"

LATTICE_PORT=$(free_port)
NGINX_PORT=$(free_port)
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
daemon on;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK;
  proxy_temp_path $WORK;
  fastcgi_temp_path $WORK;
  uwsgi_temp_path $WORK;
  scgi_temp_path $WORK;
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location = /hello { default_type "text/plain; charset=utf-8"; return 200 "Hello, World!"; }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/error.log"

"$BIN" "$LATTICE_PORT" 2 > "$WORK/server.log" 2>&1 &
PIDS+=($!)
SERVER_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$LATTICE_PORT/hello" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$NGINX_PORT/hello" >/dev/null || die "nginx did not start"
IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")

# run_wrk URL -> "requests_per_second p99_ms"
run_wrk() {
    wrk -t2 -c64 -d"${DURATION}s" --latency "$1" > "$WORK/wrk.out" 2>&1
    local rps p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$WORK/wrk.out")
    grep -q "Non-2xx" "$WORK/wrk.out" && die "non-2xx answers during the benchmark: $(cat "$WORK/wrk.out")"
    echo "$rps $p99"
}
best() { printf '%s\n%s\n' "$1" "$2" | sort -k1 -g | tail -n 1; }

log "warming up"
wrk -t2 -c64 -d2s "http://127.0.0.1:$LATTICE_PORT/hello" >/dev/null
wrk -t2 -c64 -d2s "http://127.0.0.1:$NGINX_PORT/hello" >/dev/null

# Interleaved, two rounds each, best of two: the machine is noisy.
log "measuring (${DURATION}s per run)"
N1=$(run_wrk "http://127.0.0.1:$NGINX_PORT/hello")
L1=$(run_wrk "http://127.0.0.1:$LATTICE_PORT/hello")
N2=$(run_wrk "http://127.0.0.1:$NGINX_PORT/hello")
L2=$(run_wrk "http://127.0.0.1:$LATTICE_PORT/hello")
J1=$(run_wrk "http://127.0.0.1:$LATTICE_PORT/json")
B1=$(run_wrk "http://127.0.0.1:$LATTICE_PORT/blocking")
NGINX=$(best "$N1" "$N2")
HELLO=$(best "$L1" "$L2")
LOADED_RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")

set -- $NGINX; NGINX_RPS=$1; NGINX_P99=$2
set -- $HELLO; HELLO_RPS=$1; HELLO_P99=$2
set -- $J1; JSON_RPS=$1; JSON_P99=$2
set -- $B1; BLOCKING_RPS=$1; BLOCKING_P99=$2
echo "BENCH nginx_hello_rps $NGINX_RPS req/s"
echo "BENCH nginx_hello_p99 $NGINX_P99 ms"
echo "BENCH http_hello_rps $HELLO_RPS req/s"
echo "BENCH http_hello_p99 $HELLO_P99 ms"
echo "BENCH http_json_1kb_rps $JSON_RPS req/s"
echo "BENCH http_json_1kb_p99 $JSON_P99 ms"
echo "BENCH http_hello_worker_pool_rps $BLOCKING_RPS req/s"
echo "BENCH http_hello_worker_pool_p99 $BLOCKING_P99 ms"
echo "BENCH http_idle_rss $(awk -v k="$IDLE_RSS_KB" 'BEGIN {printf "%.1f", k/1024}') MB"
echo "BENCH http_loaded_rss $(awk -v k="$LOADED_RSS_KB" 'BEGIN {printf "%.1f", k/1024}') MB"
echo "BENCH http_hello_vs_nginx $(awk -v a="$HELLO_RPS" -v b="$NGINX_RPS" 'BEGIN {printf "%.2f", a/b}') x"

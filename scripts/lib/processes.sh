# Long-running child processes for scripts/run: start with a log file, wait until ready, stop cleanly.
# Source after common.sh. Children run in their own session (setsid) so that a Ctrl-C in the terminal
# reaches only the script, which then stops them in order (services first, the database last).
# shellcheck shell=bash

# Names and pids of the processes started by process_start, in start order. When PROCESS_PID_FILE is
# set, they are also written there ("NAME PID EXECUTABLE" lines) so a later run can stop processes left
# behind by a run that was killed outright (process_stop_stale).
PROCESS_NAMES=()
PROCESS_PIDS=()
PROCESS_PID_FILE="${PROCESS_PID_FILE:-}"

# random_hex BYTES: that many random bytes as lower-case hex.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# random_password LENGTH: letters and digits, at least one of each class.
random_password() {
    python3 -c '
import secrets, string, sys
n = int(sys.argv[1])
alphabet = string.ascii_letters + string.digits
while True:
    p = "".join(secrets.choice(alphabet) for _ in range(n))
    if any(c.islower() for c in p) and any(c.isupper() for c in p) and any(c.isdigit() for c in p):
        print(p)
        break
' "$1"
}

# secret_file PATH GENERATOR...: print the secret kept in PATH, creating it (mode 600) with the output
# of GENERATOR on first use. A secret is generated once and kept, so re-runs see the same value.
secret_file() {
    local path="$1"; shift
    if [ ! -s "$path" ]; then
        (umask 077 && "$@" >"$path.tmp" && mv "$path.tmp" "$path") || die "cannot write $path"
    fi
    chmod 600 "$path"
    cat "$path"
}

# port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# rotate_log PATH: keep one previous generation once a log passes 50 MiB.
rotate_log() {
    local path="$1"
    if [ -f "$path" ] && [ "$(stat -c %s "$path")" -gt $((50 << 20)) ]; then mv -f "$path" "$path.1"; fi
}

# process_start NAME LOGFILE CMD...: start CMD in the background in its own session, appending stdout
# and stderr to LOGFILE; remembers it for process_stop_all. CMD may start with `env VAR=value …`.
process_start() {
    local name="$1" logfile="$2"; shift 2
    rotate_log "$logfile"
    # In a non-interactive shell a background job is not a process-group leader, so setsid does not
    # fork: $! is the service's own pid.
    # fd 9 is scripts/run's lock on its data folder: a service must not hold it.
    setsid "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
    PROCESS_NAMES+=("$name")
    PROCESS_PIDS+=("$!")
    if [ -n "$PROCESS_PID_FILE" ]; then
        local executable="" arg
        for arg in "$@"; do [[ "$arg" == */* ]] && executable="$arg"; done
        echo "$name $! $executable" >>"$PROCESS_PID_FILE"
    fi
}

# process_stop_stale GRACE: stop the processes listed in PROCESS_PID_FILE that still run the same
# executable (a pid alone may have been reused), then empty the file.
process_stop_stale() {
    local grace="$1" name pid executable
    [ -n "$PROCESS_PID_FILE" ] && [ -s "$PROCESS_PID_FILE" ] || { : >"${PROCESS_PID_FILE:-/dev/null}"; return 0; }
    while read -r name pid executable; do
        [[ "$pid" =~ ^[0-9]+$ ]] && [ -n "$executable" ] || continue
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$executable")" ]; then
            log "stopping $name (pid $pid) left running by an earlier run"
            PROCESS_NAMES+=("$name")
            PROCESS_PIDS+=("$pid")
        fi
    done <"$PROCESS_PID_FILE"
    [ ${#PROCESS_PIDS[@]} -eq 0 ] || process_stop_all "$grace"
    : >"$PROCESS_PID_FILE"
}

# process_wait_ready NAME PID URL TIMEOUT LOGFILE: poll URL until it answers 2xx; fail early (with the
# log's tail) when the process exits, or after TIMEOUT seconds.
process_wait_ready() {
    local name="$1" pid="$2" url="$3" timeout="$4" logfile="$5" deadline
    deadline=$(($(date +%s) + timeout))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited during start-up; last lines of $logfile:"
            tail -n 20 "$logfile" >&2
            return 1
        fi
        curl -fsS -o /dev/null -m 2 "$url" 2>/dev/null && return 0
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "$name is not ready after ${timeout}s ($url); last lines of $logfile:"
            tail -n 20 "$logfile" >&2
            return 1
        fi
        sleep 0.2
    done
}

# process_first_exited: print "NAME PID" of the first remembered process that is no longer running.
process_first_exited() {
    local i
    for i in "${!PROCESS_PIDS[@]}"; do
        if ! kill -0 "${PROCESS_PIDS[$i]}" 2>/dev/null; then
            echo "${PROCESS_NAMES[$i]} ${PROCESS_PIDS[$i]}"
            return 0
        fi
    done
    return 1
}

# process_stop_all GRACE: SIGTERM every remembered process (newest first, so the public door closes
# before the services behind it), wait up to GRACE seconds for all of them, then SIGKILL what is left.
process_stop_all() {
    local grace="$1" i pid deadline alive
    for ((i = ${#PROCESS_PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PROCESS_PIDS[$i]}" 2>/dev/null || true
    done
    deadline=$(($(date +%s) + grace))
    while :; do
        alive=()
        for i in "${!PROCESS_PIDS[@]}"; do
            kill -0 "${PROCESS_PIDS[$i]}" 2>/dev/null && alive+=("$i")
        done
        [ ${#alive[@]} -eq 0 ] && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            for i in "${alive[@]}"; do
                log "${PROCESS_NAMES[$i]} did not stop within ${grace}s; killing it"
                kill -KILL "${PROCESS_PIDS[$i]}" 2>/dev/null || true
            done
            break
        fi
        sleep 0.1
    done
    # Reap them so no zombie outlives the script.
    for pid in "${PROCESS_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PROCESS_NAMES=()
    PROCESS_PIDS=()
}

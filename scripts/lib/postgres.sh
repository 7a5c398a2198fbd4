# A private PostgreSQL cluster: its own data folder, its own port, its own socket folder.
# PostgreSQL refuses to run as root, so when we are root the cluster runs as the `postgres` user.
# shellcheck shell=bash

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] || die "PostgreSQL server binaries not found (apt package postgresql)"
    echo "$d"
}

# pg_as_owner CMD...: run as the cluster owner.
pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DATADIR PORT: initialize (once) and start a cluster; waits until it accepts connections.
pg_start() {
    local data="$1" port="$2" bin
    bin=$(pg_bindir)
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data"; chmod 700 "$data"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        log "initializing PostgreSQL cluster in $data"
        pg_as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null \
            || die "initdb failed"
    fi
    if pg_as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        return 0
    fi
    pg_as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${LATTICE_PG_FSYNC:-on}" \
        start >/dev/null || { tail -n 20 "$data/server.log" >&2; die "PostgreSQL did not start"; }
}

# pg_stop DATADIR: fast shutdown, quietly.
pg_stop() {
    local data="$1" bin
    bin=$(pg_bindir)
    [ -f "$data/PG_VERSION" ] || return 0
    pg_as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# pg_createdb PORT NAME: create a database unless it exists.
pg_createdb() {
    local port="$1" name="$2"
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 \
        || psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
}

# A data folder the postgres user can reach: under the repo when not root; under /var/tmp when root
# (the checkout may sit below /root, which postgres cannot traverse).
pg_default_datadir() {
    local name="$1"
    if [ "$(id -u)" = 0 ]; then echo "/var/tmp/lattice-$(echo "$LATTICE_ROOT" | md5sum | cut -c1-8)/$name"
    else echo "$LATTICE_ROOT/.data/$name"; fi
}

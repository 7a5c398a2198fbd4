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
# LATTICE_PG_FSYNC (default on) and LATTICE_PG_OPTIONS (more "-c name=value" settings) tune it.
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
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${LATTICE_PG_FSYNC:-on} ${LATTICE_PG_OPTIONS:-}" \
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

# pg_psql_local DATADIR PORT [psql args...]: psql as the superuser through the cluster's own socket
# (in DATADIR, reachable only by the cluster owner), so it works after TCP requires passwords.
pg_psql_local() {
    local data="$1" port="$2"; shift 2
    pg_as_owner "$(pg_bindir)/psql" -h "$data" -p "$port" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"
}

# pg_ensure_app_database DATADIR PORT ROLE PASSWORD DB: a login role (not a superuser) with PASSWORD,
# owning database DB; the role and the database are created when missing, the password is (re)set.
pg_ensure_app_database() {
    local data="$1" port="$2" role="$3" password="$4" db="$5"
    pg_psql_local "$data" "$port" -v role="$role" -v pw="$password" -v db="$db" <<'SQL' >/dev/null || die "cannot create role/database $role/$db"
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS create_role \gset
\if :create_role
CREATE ROLE :"role" LOGIN;
\endif
ALTER ROLE :"role" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'pw';
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS create_db \gset
\if :create_db
CREATE DATABASE :"db" OWNER :"role" ENCODING 'UTF8';
\endif
SQL
}

# pg_require_tcp_passwords DATADIR PORT: TCP connections need a password (scram-sha-256); the local
# socket inside DATADIR stays open to the cluster owner. Reloads the running server when it changes.
pg_require_tcp_passwords() {
    local data="$1" port="$2" hba="$1/pg_hba.conf"
    if pg_as_owner grep -q '^# lattice: tcp requires passwords' "$hba" 2>/dev/null; then return 0; fi
    pg_as_owner tee "$hba" >/dev/null <<'HBA'
# lattice: tcp requires passwords (written by scripts/run)
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
HBA
    pg_psql_local "$data" "$port" -c "SELECT pg_reload_conf()" >/dev/null || die "cannot reload PostgreSQL configuration"
}

# pg_running_port DATADIR: the port of the server running on DATADIR (nothing when it is not running).
pg_running_port() {
    local data="$1"
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 0
    pg_as_owner sed -n 4p "$data/postmaster.pid" 2>/dev/null
}

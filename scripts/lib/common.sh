# Shared shell helpers for scripts/run, scripts/test and scripts/bench. Source, don't execute.
# shellcheck shell=bash

LATTICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export LATTICE_ROOT

log() { printf '[lattice] %s\n' "$*" >&2; }
die() { printf '[lattice] error: %s\n' "$*" >&2; exit 1; }

# as_root CMD... runs a command with root rights (directly when we are root, else through sudo).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG... installs the Debian packages that are missing, with one apt-get call.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The packages every build and test needs.
ensure_build_dependencies() {
    ensure_packages postgresql libpq-dev libcurl4-openssl-dev pkg-config
    command -v swift >/dev/null || die "swift is not on PATH (Swift 6 toolchain required)"
}

# shellcheck shell=bash
# The address plan below is used by the scripts that source this file.
# shellcheck disable=SC2034
# Common functions and the address plan of the network-namespace testbed. Sourced by up.sh,
# down.sh and test.sh, and meant to be sourced by other scripts (bench-testbed) that start
# processes in the namespaces: `source testbed/lib.sh; tb_start NAME "$TB_NS_DMZ" CMD...`.

TB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_ROOT=$(dirname "$TB_DIR")
# Logs of every process started with tb_start (gitignored); printed on failure.
TB_LOGS=${TB_LOGS:-$TB_DIR/logs}
# Pid files of the processes started with tb_start, and scratch files such as the PKI.
TB_RUN=${TB_RUN:-$TB_DIR/run}

# --- the address plan (198.18.0.0/15 only) -------------------------------------------------
TB_NS_CLOUD=sp-cloud # relay and cloud clients
TB_NS_FW=sp-fw       # router and firewall (nftables table inet sallyport_fw)
TB_NS_DMZ=sp-dmz     # connector (later master and shadow)
TB_NS_CORP=sp-corp   # backends
TB_NAMESPACES=("$TB_NS_CLOUD" "$TB_NS_FW" "$TB_NS_DMZ" "$TB_NS_CORP")

TB_FW_CLOUD_IP=198.18.1.1 # sp-fw on the cloud segment 198.18.1.0/24 (fw-cloud <-> cloud-fw)
TB_FW_DMZ_IP=198.18.2.1   # sp-fw on the DMZ segment 198.18.2.0/24 (fw-dmz <-> dmz-fw)
TB_FW_CORP_IP=198.18.3.1  # sp-fw on the corp segment 198.18.3.0/24 (fw-corp <-> corp-fw)
TB_RELAY_IP=198.18.1.2    # sp-cloud: the relay and the cloud clients
TB_DMZ_IP=198.18.2.2      # sp-dmz: the connector (master)
TB_DMZ2_IP=198.18.2.3     # sp-dmz: a second address (shadow connector)
TB_CORP_IP=198.18.3.2     # sp-corp: backend A
TB_CORP2_IP=198.18.3.3    # sp-corp: backend B
TB_TUNNEL_PORT=8443       # relay tunnel listener; the only port the DMZ may dial in the cloud
TB_PROXY_PORT=20003       # relay HTTP proxy front door
TB_NFT_FAMILY=inet        # the firewall's nftables table in sp-fw: inet sallyport_fw
TB_NFT_TABLE=sallyport_fw

# Proxy settings of the caller must not redirect the test clients.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

tb_log() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
tb_die() {
    printf '[testbed] ERROR: %s\n' "$*" >&2
    exit 1
}

# Seconds since the epoch with millisecond resolution (bash 5 EPOCHREALTIME, no fork).
tb_now() { printf '%s' "${EPOCHREALTIME/[.,]/.}"; }
# Milliseconds between two tb_now values.
tb_ms_since() { awk -v a="$1" -v b="${2:-$(tb_now)}" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

tb_require_root() {
    [ "$(id -u)" -eq 0 ] || tb_die "the testbed creates network namespaces and nftables rules: run it as root (e.g. 'sudo make ${1:-testbed-test}')"
}

# True if this host lets us create a network namespace (containers often do not).
tb_netns_available() {
    command -v ip >/dev/null 2>&1 || return 1
    local probe="sp-probe-$$"
    ip netns add "$probe" >/dev/null 2>&1 || return 1
    ip netns del "$probe" >/dev/null 2>&1 || true
}

# tb_lock: serializes testbed runs on this host (the namespace names are global): waits up to
# 10 minutes for another run to finish. Held on fd 9 until the process exits; scripts run
# from a holder inherit it (TB_LOCK_HELD), processes started by tb_start do not.
tb_lock() {
    [ "${TB_LOCK_HELD:-}" = 1 ] && return 0
    mkdir -p /run/lock
    exec 9>/run/lock/sallyport-testbed.lock
    if ! flock -n 9; then
        tb_log "another testbed run holds /run/lock/sallyport-testbed.lock: waiting (up to 600 s)"
        flock -w 600 9 || tb_die "the testbed is still in use by another run after 600 s"
    fi
    export TB_LOCK_HELD=1
}

tb_deps() { "$TB_ROOT/scripts/install-testbed-deps.sh"; }

# The sallyport binary: $SALLYPORT_BIN, else the debug build.
tb_bin() {
    local bin=${SALLYPORT_BIN:-$TB_ROOT/target/debug/sallyport}
    [ -x "$bin" ] || tb_die "no sallyport binary at $bin: run 'cargo build' or set SALLYPORT_BIN"
    printf '%s' "$bin"
}

# tb_in NS CMD...: runs CMD inside namespace NS.
tb_in() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# tb_start NAME NS CMD...: starts CMD in the background inside NS, stdout and stderr to
# $TB_LOGS/NAME.log, pid to $TB_RUN/NAME.pid. `ip netns exec` execs CMD, so the pid is CMD's.
tb_start() {
    local name=$1 ns=$2
    shift 2
    mkdir -p "$TB_LOGS" "$TB_RUN"
    if [ -f "$TB_RUN/$name.pid" ] && tb_alive "$(cat "$TB_RUN/$name.pid")"; then
        tb_die "process '$name' is already running (pid $(cat "$TB_RUN/$name.pid")); tb_stop it first"
    fi
    ip netns exec "$ns" "$@" >"$TB_LOGS/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$TB_RUN/$name.pid"
}

# tb_alive PID: PID runs (a zombie whose parent has not reaped it yet counts as gone).
tb_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# tb_stop NAME [SIGNAL]: stops a process started by tb_start: SIGNAL (default TERM), up to
# 3 s to exit, then KILL.
tb_stop() {
    local name=$1 sig=${2:-TERM} pidfile="$TB_RUN/$1.pid" pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if tb_alive "$pid"; then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < 30; i++)); do
            tb_alive "$pid" || break
            sleep 0.1
        done
        tb_alive "$pid" && kill -s KILL "$pid" 2>/dev/null
        # Reap it if it is our child; otherwise just wait until it is gone.
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# Stops every process started by tb_start, then anything else still inside our namespaces
# (a process left behind would keep a deleted namespace and its veths alive).
tb_stop_all() {
    local f ns pids
    if [ -d "$TB_RUN" ]; then
        for f in "$TB_RUN"/*.pid; do
            [ -e "$f" ] || continue
            tb_stop "$(basename "$f" .pid)"
        done
    fi
    for ns in "${TB_NAMESPACES[@]}"; do
        [ -e "/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] || continue
        # shellcheck disable=SC2086
        kill -s KILL $pids 2>/dev/null || true
    done
}

# tb_wait DESCRIPTION TRIES DELAY CMD...: polls CMD until it succeeds, at most TRIES times
# DELAY seconds apart; fails with a message naming what did not happen.
tb_wait() {
    local what=$1 tries=$2 delay=$3 i
    shift 3
    for ((i = 0; i < tries; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep "$delay"
    done
    printf '[testbed] timed out (%s x %ss) waiting for: %s\n' "$tries" "$delay" "$what" >&2
    return 1
}

# tb_port_free NS PORT: nothing in NS listens on TCP PORT. A stopped process's listener can
# outlive it briefly (io_uring tears its rings down asynchronously), so restart only after this.
tb_port_free() {
    [ -z "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ]
}

# tb_counter NAME: packets counted so far by the named nft counter in sp-fw.
tb_counter() {
    local out
    out=$(ip netns exec "$TB_NS_FW" nft list counter "$TB_NFT_FAMILY" "$TB_NFT_TABLE" "$1") ||
        tb_die "cannot read nft counter $1 in $TB_NS_FW"
    sed -n 's/.*packets \([0-9][0-9]*\).*/\1/p' <<<"$out"
}

# tb_log_count NAME PATTERN: lines of $TB_LOGS/NAME.log matching PATTERN (fixed string).
tb_log_count() {
    local n
    n=$(grep -cF -- "$2" "$TB_LOGS/$1.log" 2>/dev/null) || true
    printf '%s' "${n:-0}"
}

# Prints the tail of every process log (on failure).
tb_dump_logs() {
    local f
    [ -d "$TB_LOGS" ] || return 0
    for f in "$TB_LOGS"/*.log; do
        [ -e "$f" ] || continue
        printf '\n----- %s (last 40 lines) -----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
}

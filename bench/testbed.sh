#!/usr/bin/env bash
# make bench-testbed: the contenders and workloads of `make bench`, run across the testbed's
# network namespaces instead of loopback. Relays, tunnel servers and the load generator in
# sp-cloud, connectors and tunnel clients in sp-dmz, the backend in sp-corp; every packet
# between them is routed by sp-fw through its nftables firewall (policy drop, conntrack).
#
#   bench/testbed.sh --preflight   only check root and network namespaces (before building)
#   bench/testbed.sh               bring the testbed up, run bench-run, tear everything down
#
# BENCH_QUICK=1 for the smoke run. Environment: SALLYPORT_BIN (default target/release/sallyport),
# BENCH_RUN_ARGS (extra bench-run flags, e.g. "--only direct,sallyport --reps 1"),
# BENCH_TESTBED_CAP (seconds bench-run may take before it is stopped; 570 full, 240 quick).
# Method and the firewall change for the run: bench/README.md ("make bench-testbed").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=testbed/lib.sh
source "$ROOT/testbed/lib.sh"

# Ports: bench-run's contenders listen at PORT_BASE + offset (see contenders.rs): sallyport's
# relay on the testbed's own tunnel port, the other tunnels' control ports need a rule.
PORT_BASE=21000
EXTRA_TUNNEL_PORTS="$((PORT_BASE + 12)), $((PORT_BASE + 20)), $((PORT_BASE + 30))"

preflight() {
    tb_require_root bench-testbed
    tb_netns_available || tb_die "cannot create network namespaces here ('ip netns add' fails): make bench-testbed needs a host or a privileged container; 'make bench' runs the same on loopback"
}

if [ "${1:-}" = "--preflight" ]; then
    preflight
    exit 0
fi
preflight

SALLYPORT=${SALLYPORT_BIN:-$ROOT/target/release/sallyport}
BENCH_RUN=$ROOT/bench/harness/target/release/bench-run
RATHOLE=$ROOT/bench/.cache/rathole/bin/rathole
[ -x "$SALLYPORT" ] || tb_die "no release sallyport at $SALLYPORT: run 'cargo build --release' (make bench-testbed does)"
[ -x "$BENCH_RUN" ] || tb_die "no bench-run at $BENCH_RUN: run 'cd bench/harness && cargo build --release'"
quick=0
[ "${BENCH_QUICK:-}" = 1 ] && quick=1
cap=${BENCH_TESTBED_CAP:-$((quick ? 240 : 570))}

stamp=testbed-$(date -u +%Y%m%dT%H%M%SZ)
out=$ROOT/bench/results/$stamp
bench_pid=
on_exit() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$bench_pid" ] && tb_alive "$bench_pid"; then
        tb_log "stopping bench-run (pid $bench_pid)"
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    # Everything bench-run started lives in the namespaces: down.sh kills what is left there.
    "$TB_DIR/down.sh" --quiet || true
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tb_lock
started=$(tb_now)
"$TB_DIR/up.sh"

# The one change to testbed/fw.nft for the run: the DMZ may also open TCP connections to the
# control ports of the other tunnels (rathole, h2 baseline, the second sallyport relay that
# serves sallyport-http), inserted before the rule that drops the rest of DMZ -> cloud.
fw() { tb_in "$TB_NS_FW" nft "$@"; }
drop_handle=$(fw -a list chain "$TB_NFT_FAMILY" "$TB_NFT_TABLE" forward |
    sed -n 's/.*counter name "\{0,1\}dmz_to_cloud_dropped"\{0,1\} drop # handle \([0-9]*\)$/\1/p')
[ -n "$drop_handle" ] || tb_die "cannot find the dmz_to_cloud_dropped rule in $TB_NS_FW's forward chain (testbed/fw.nft changed?)"
fw add counter "$TB_NFT_FAMILY" "$TB_NFT_TABLE" bench_tunnel_accepted
fw insert rule "$TB_NFT_FAMILY" "$TB_NFT_TABLE" forward position "$drop_handle" \
    iifname fw-dmz oifname fw-cloud ip daddr "$TB_RELAY_IP" tcp dport "{ $EXTRA_TUNNEL_PORTS }" \
    ct state new counter name bench_tunnel_accepted accept

counters=(dmz_to_relay_accepted bench_tunnel_accepted dmz_to_corp_accepted dmz_to_cloud_dropped
    cloud_to_dmz_dropped cloud_to_corp_dropped corp_out_dropped invalid_dropped forward_other_dropped)
declare -A before
for c in "${counters[@]}"; do before[$c]=$(tb_counter "$c"); done

args=(--sallyport "$SALLYPORT" --out "$ROOT/bench/results" --stamp "$stamp"
    --port-base "$PORT_BASE"
    --cloud-host "$TB_RELAY_IP" --corp-host "$TB_CORP_IP" --dmz-host "$TB_DMZ_IP"
    --netns-cloud "$TB_NS_CLOUD" --netns-dmz "$TB_NS_DMZ" --netns-corp "$TB_NS_CORP"
    --direct-from dmz --sallyport-tunnel-port "$TB_TUNNEL_PORT"
    --rathole "$RATHOLE" --rathole-log "$ROOT/bench/.cache/rathole-install.log"
    --rathole-status "$ROOT/bench/.cache/rathole-install.status"
    --note "testbed: namespaces $TB_NS_CLOUD / $TB_NS_FW / $TB_NS_DMZ / $TB_NS_CORP from testbed/up.sh; firewall testbed/fw.nft plus one rule for this run only: new TCP $TB_NS_DMZ -> $TB_RELAY_IP ports { $EXTRA_TUNNEL_PORTS } accepted (counter bench_tunnel_accepted; the tunnel ports of sallyport-http's relay, rathole and the h2 baseline). sallyport's relay uses the testbed's own tunnel port $TB_TUNNEL_PORT under the unchanged rule. Firewall counters of the run: end of this report and firewall.txt"
    --note "direct: load generator in $TB_NS_DMZ, backend in $TB_NS_CORP (one pass through the firewall); the firewall drops $TB_NS_CLOUD -> $TB_NS_CORP, so there is no cloud-side direct path by design")
[ "$quick" = 1 ] && args+=(--quick)
# shellcheck disable=SC2206
[ -n "${BENCH_RUN_ARGS:-}" ] && args+=($BENCH_RUN_ARGS)

tb_log "bench-run across the namespaces (cap ${cap} s), results in $out"
# In the background so that INT/TERM reach the trap at once (which stops bench-run) instead of
# waiting for it; `timeout` bounds the run.
timeout -s TERM "$cap" "$BENCH_RUN" "${args[@]}" &
bench_pid=$!
set +e
wait "$bench_pid"
rc=$?
set -e
bench_pid=
[ "$rc" = 124 ] && tb_die "bench-run did not finish within ${cap} s (BENCH_TESTBED_CAP): stopped, no report"
[ "$rc" = 0 ] || tb_die "bench-run failed (exit $rc); process logs in $out/work/"

# Evidence that the traffic took the firewalled path: counter deltas and the ruleset as run.
{
    printf '\n## Firewall counters during the run (%s)\n\n' "$TB_NS_FW"
    printf 'Accept rules match only a connection'"'"'s first packet (ct state new): they count new connections. Drop rules count every dropped packet.\n\n'
    printf '| Counter | Packets |\n|---|---|\n'
    for c in "${counters[@]}"; do
        # shellcheck disable=SC2016 # the backticks are Markdown
        printf '| `%s` | %d |\n' "$c" $(($(tb_counter "$c") - ${before[$c]}))
    done
    printf '\nConnections tracked in %s at the end: %s. Whole make bench-testbed step (testbed up, run, counters): %s s.\n' \
        "$TB_NS_FW" "$(tb_in "$TB_NS_FW" cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo '?')" \
        "$(($(tb_ms_since "$started") / 1000))"
} >>"$out/report.md"
fw list table "$TB_NFT_FAMILY" "$TB_NFT_TABLE" >"$out/firewall.txt"
tb_log "report: $out/report.md"

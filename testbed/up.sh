#!/usr/bin/env bash
# Builds the testbed: namespaces sp-cloud, sp-fw, sp-dmz, sp-corp joined by veth pairs to
# sp-fw, which routes between them and runs the firewall (testbed/fw.nft). Idempotent: an
# existing testbed (and anything running in it) is torn down first. Starts no processes;
# see testbed/README.md for starting them (`ip netns exec NS ...` or tb_start from lib.sh).
# Every link is created inside the namespaces: the host's own network is never touched.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

tb_require_root testbed-up
tb_lock
tb_deps
tb_netns_available || tb_die "cannot create network namespaces here ('ip netns add' fails): the testbed needs a host or a privileged container"

"$TB_DIR/down.sh" --quiet

building=1
on_exit() {
    local status=$?
    if [ "$building" = 1 ]; then
        trap - EXIT INT TERM
        tb_log "setup failed or interrupted: tearing the half-built testbed down"
        "$TB_DIR/down.sh" --quiet || true
        exit $((status == 0 ? 1 : status))
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for ns in "${TB_NAMESPACES[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # IPv4 only: every address of the testbed is in 198.18.0.0/15.
    tb_in "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done

# link NS SEGMENT FW_IP ADDR...: a veth pair fw-SEGMENT (in sp-fw, FW_IP) <-> SEGMENT-fw (in
# NS, the ADDRs), and NS's default route through sp-fw.
link() {
    local ns=$1 seg=$2 fw_ip=$3 addr
    shift 3
    ip -n "$TB_NS_FW" link add "fw-$seg" type veth peer name "$seg-fw" netns "$ns"
    ip -n "$TB_NS_FW" addr add "$fw_ip/24" dev "fw-$seg"
    ip -n "$TB_NS_FW" link set "fw-$seg" up
    for addr in "$@"; do
        ip -n "$ns" addr add "$addr/24" dev "$seg-fw"
    done
    ip -n "$ns" link set "$seg-fw" up
    ip -n "$ns" route add default via "$fw_ip"
}
link "$TB_NS_CLOUD" cloud "$TB_FW_CLOUD_IP" "$TB_RELAY_IP"
link "$TB_NS_DMZ" dmz "$TB_FW_DMZ_IP" "$TB_DMZ_IP" "$TB_DMZ2_IP"
link "$TB_NS_CORP" corp "$TB_FW_CORP_IP" "$TB_CORP_IP" "$TB_CORP2_IP"

# The firewall first, forwarding second: no packet crosses sp-fw before the rules are in.
tb_in "$TB_NS_FW" nft -f "$TB_DIR/fw.nft"
tb_in "$TB_NS_FW" sysctl -qw net.ipv4.ip_forward=1

# Sanity: each side routes through sp-fw.
for pair in "$TB_NS_DMZ:$TB_RELAY_IP" "$TB_NS_CLOUD:$TB_DMZ_IP" "$TB_NS_DMZ:$TB_CORP_IP"; do
    via=$(ip -n "${pair%%:*}" route get "${pair#*:}" | sed -n 's/.* via \([0-9.]*\).*/\1/p')
    [ -n "$via" ] || tb_die "${pair%%:*} has no route to ${pair#*:} through sp-fw"
done

building=0
tb_log "testbed up: $TB_NS_CLOUD $TB_RELAY_IP | $TB_NS_FW $TB_FW_CLOUD_IP/$TB_FW_DMZ_IP/$TB_FW_CORP_IP | $TB_NS_DMZ $TB_DMZ_IP,$TB_DMZ2_IP | $TB_NS_CORP $TB_CORP_IP,$TB_CORP2_IP"

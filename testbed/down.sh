#!/usr/bin/env bash
# Tears the testbed down: stops every process started in it, deletes the four namespaces
# (and with them their veths and the firewall). Idempotent; `--quiet` prints nothing when
# there was nothing to do.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
tb_require_root testbed-down
tb_lock

tb_stop_all
removed=()
for ns in "${TB_NAMESPACES[@]}"; do
    if [ -e "/run/netns/$ns" ]; then
        ip netns del "$ns"
        removed+=("$ns")
    fi
done
rm -rf "$TB_RUN"
if [ "${#removed[@]}" -gt 0 ]; then
    tb_log "testbed down: removed ${removed[*]}"
elif [ "$quiet" = 0 ]; then
    tb_log "testbed down: nothing to remove"
fi

#!/usr/bin/env bash
# Installs what the network-namespace testbed drives (nft, ip, curl) when missing.
# Quiet when everything is there; needs root and apt-get otherwise.
set -euo pipefail

missing=()
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-testbed-deps: missing ${missing[*]}; run as root (or install them) to use the testbed" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-testbed-deps: missing ${missing[*]} and no apt-get here: install them by hand" >&2
    exit 1
fi
echo "install-testbed-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# src/proto is sans-IO: it must not import a runtime, a socket or file API, threads, or read a
# clock. This check is part of `make test`; it fails naming every offending line.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='(\b(compio|tokio|mio|libc|socket2|async_std|smol)::|\bstd::(net|fs|thread|process)\b|\b(Instant|SystemTime)\b|\bstd::time::(Instant|SystemTime)|\buse std::io\b|\bstd::io::(Read|Write|stdin|stdout|stderr)|\basync fn\b|\.await\b|\bunsafe\b)'
hits=$(grep -rnE "$pattern" src/proto --include='*.rs' | grep -vE '^\S+:[0-9]+:\s*//' || true)
if [ -n "$hits" ]; then
  echo "src/proto must stay sans-IO (no runtime, socket, file, thread, clock or unsafe):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "proto purity: ok ($(find src/proto -name '*.rs' | wc -l) files, no I/O, clock or runtime imports)"

#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after the other, each for a fixed time on its corpus.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS   per target (default 60). TARGETs default to all of them (`cargo fuzz list`).
# Env:      FUZZ_SANITIZER  none (default: the codec has no unsafe code, so ASan buys little
#                           and halves the speed) | address | ...
#           FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=65536".
#
# Builds once (release, debug assertions and overflow checks on), then prints one summary
# line per target. Exits non-zero if any target crashed, timed out or ran out of memory; the
# reproducer is in fuzz/artifacts/<target>/ and the log in fuzz/artifacts/<target>/last-run.log.
# Inputs the fuzzer finds go to fuzz/corpus/<target>/ next to the committed seed-* files
# (only seed-* files are tracked by git).
set -uo pipefail

secs=${1:-60}
shift || true
targets=("$@")
sanitizer=${FUZZ_SANITIZER:-none}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz" || exit 2
export RUSTC_BOOTSTRAP=1
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
  [ ${#targets[@]} -gt 0 ] || { echo "cargo fuzz list found no targets" >&2; exit 2; }
fi

max_len() {
  case $1 in
    conn_*) echo 16384 ;;
    roundtrip) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

echo "building fuzz targets (sanitizer: $sanitizer)..."
# `cargo fuzz build` takes at most one target: build that one, or all of them.
one=()
[ ${#targets[@]} -eq 1 ] && one=("${targets[0]}")
mkdir -p target
if ! cargo fuzz build -a -s "$sanitizer" "${one[@]}" >/dev/null 2>target/fuzz-build.log; then
  cat target/fuzz-build.log >&2
  exit 2
fi

failed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  start=$(date +%s)
  # shellcheck disable=SC2086
  cargo fuzz run -a -s "$sanitizer" "$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  speed=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | tail -1 | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | tail -1 | grep -oE '[0-9]+')
  corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | tail -1 | grep -oE '[0-9]+')
  if [ $rc -eq 0 ]; then
    status=ok
  else
    failed=1
    artifact=$(grep -oE 'artifact_prefix=[^;]*; Test unit written to [^ ]+' "$log" | sed 's/.*written to //' | tail -1)
    status="FAILED (exit $rc) ${artifact:-see $log}"
  fi
  line=$(printf '%-13s %4ss  runs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-6s %s' \
    "$t" "$took" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status")
  echo "$line"
  summary+=("$line")
  if [ $rc -ne 0 ]; then
    grep -m1 -A3 -E "panicked at|ERROR: libFuzzer" "$log" | sed 's/^/    /'
  fi
done

echo
echo "fuzz summary (${secs}s per target):"
printf '  %s\n' "${summary[@]}"
exit $failed

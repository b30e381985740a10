#!/usr/bin/env bash
# Soak benchmark: does runner's memory stay flat over a long user-traffic run?
#
# Starts the built-in users target in its own process (so its in-memory store
# is not counted), runs scenarios/user_populate.rhai against it with --duration
# and no think time (--speed 1000 cuts the actions' own), and samples the runner process's RSS (VmRSS) every
# INTERVAL seconds. Prints one line per sample: elapsed s, RSS MiB, requests
# so far (from the target's /stats). Traffic goes to 127.0.0.1 only.
#
#   benches/soak_rss.sh [DURATION_S] [USERS] [INTERVAL_S]     # defaults 600 100 30
#
# Build first: cargo build --release
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
users=${2:-100}
interval=${3:-30}
bin=${RUNNER_BIN:-target/release/runner}
port=${PORT:-18181}
[ -x "$bin" ] || { echo "soak: build $bin first (cargo build --release)" >&2; exit 1; }

"$bin" serve users --addr "127.0.0.1:$port" >/dev/null &
target=$!
out=$(mktemp -d)
trap 'kill $target ${run:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/stats" >/dev/null && break; sleep 0.1; done

"$bin" scenarios/user_populate.rhai --target "http://127.0.0.1:$port" -q --out "$out" \
    --users "$users" --min-request-count 50 --max-request-count 200 \
    --delay-min 0ms --delay-max 0ms --speed 1000 --duration "${duration}s" >"$out/console.txt" 2>&1 &
run=$!
start=$(date +%s)
printf '%8s %9s %12s\n' elapsed_s rss_mib requests
while kill -0 "$run" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$run/status" 2>/dev/null || echo 0)
  requests=$(curl -sf "http://127.0.0.1:$port/stats" | sed -n 's/.*"requests_total":\([0-9]*\).*/\1/p')
  printf '%8d %9.1f %12s\n' "$(( $(date +%s) - start ))" "$(echo "$rss / 1024" | bc -l)" "${requests:-?}"
  sleep "$interval"
done
wait "$run" && status=0 || status=$?
echo "exit $status; reports in $out"
grep -E '^(requests|rate|result)' "$out/console.txt" || true

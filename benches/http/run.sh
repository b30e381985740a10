#!/usr/bin/env bash
# The HTTP benchmark: runner beside wrk and oha against the same local nginx.
#
#   benches/http/run.sh [-d SECONDS] [-c CONNECTIONS] [--threads N] [--peers "wrk oha goose"]
#
# nginx (one worker, fixed answers, nginx.conf here) runs pinned to CPU 0 and
# every generator to CPU 1 (taskset), so each gets one core. Each row: requests
# per second as counted by nginx itself, the generator's CPU seconds per 10,000
# requests, its peak RSS, the request count and the wall time. Peers run the
# flood only (GET /details in a loop); runner runs the flood (flood.rhai) and
# the 3-step dependent flow (flow.rhai: create with a captured id, read,
# activate). Installs nginx, wrk and time with apt-get if missing; oha if it
# is on PATH (cargo install oha); Goose (flood and flow) when benches/goose is
# built (cargo build --release --manifest-path benches/goose/Cargo.toml;
# GOOSE_BIN names another binary). Build first: cargo build --release.
# Traffic goes to 127.0.0.1 only.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
d=10 c=50 threads=1 peers="wrk oha"
while [ $# -gt 0 ]; do
  case "$1" in
    -d) d=$2; shift 2 ;; -c) c=$2; shift 2 ;; --threads) threads=$2; shift 2 ;;
    --peers) peers=$2; shift 2 ;;
    *) echo "usage: run.sh [-d S] [-c N] [--threads N] [--peers LIST]" >&2; exit 2 ;;
  esac
done
runner=${RUNNER_BIN:-$root/target/release/runner}
[ -x "$runner" ] || { echo "run.sh: build $runner first (cargo build --release)" >&2; exit 1; }
need=()
command -v nginx >/dev/null || need+=(nginx)
command -v wrk >/dev/null || [[ " $peers " != *" wrk "* ]] || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# CPUs: nginx on the first, generators on the next (all the others with --threads > 1).
cpus=$(nproc)
[ "$cpus" -ge 2 ] || { echo "run.sh: needs 2 CPUs (nginx on one, the generator on another)" >&2; exit 1; }
gen_cpus="1"; [ "$threads" -gt 1 ] && gen_cpus="1-$((cpus - 1))"

me=run.sh
# shellcheck source=nginx.sh
source "$here/nginx.sh"
U=http://127.0.0.1:18080

measure() {  # measure NAME COMMAND… → one table row
  local name=$1; shift
  local log; log=$(mktemp)
  local r0 t0 t1 r1 u s m rc
  r0=$(served); t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$log.time" taskset -c "$gen_cpus" "$@" >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N); r1=$(served)
  read -r u s m <"$log.time" || true
  python3 - "$name" "$r0" "$r1" "$t0" "$t1" "${u:-0}" "${s:-0}" "${m:-0}" "$rc" <<'PY'
import sys
name, r0, r1, t0, t1, u, s, m, rc = sys.argv[1:]
n = int(r1) - int(r0) - 1          # minus the status request itself
wall = float(t1) - float(t0)
cpu = float(u) + float(s)
print(f"| {name} | {n / wall:,.0f} | {cpu / max(n, 1) * 1e4:.3f} | {int(m) / 1024:.1f} | {n:,} | {wall:.1f} | {rc} |")
PY
  rm -f "$log" "$log.time"
  sleep 1
}

echo "| generator | req/s (nginx count) | CPU-s per 10k req | peak RSS MB | requests | wall s | exit |"
echo "|---|---|---|---|---|---|---|"
for p in $peers; do
  case $p in
    wrk) measure "wrk (flood)" wrk -t"$threads" -c"$c" -d"${d}s" "$U/details" ;;
    oha) command -v oha >/dev/null && measure "oha (flood)" oha -z "${d}s" -c "$c" --worker-threads "$threads" --no-tui "$U/details" ;;
    goose)
      # benches/goose, built with: cargo build --release --manifest-path benches/goose/Cargo.toml
      goose=${GOOSE_BIN:-$root/benches/goose/target/release/goose-bench}
      if [ -x "$goose" ]; then
        for load in flood flow; do
          measure "goose ($load)" "$goose" --scenarios "$load" --host "$U" -u "$c" -r 1000 -t "${d}s" --no-telnet --no-websocket -q
        done
      fi ;;
  esac
done
measure "runner (flood)" "$runner" "$here/flood.rhai" --set "d=${d}s" --set "c=$c" --threads "$threads" -q
measure "runner (3-step flow)" "$runner" "$here/flow.rhai" --set "d=${d}s" --set "c=$c" --threads "$threads" -q

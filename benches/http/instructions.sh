#!/usr/bin/env bash
# runner's own (user-space) instructions per request, counted by valgrind's
# callgrind, for the flood and the 3-step flow against the bench nginx:
#
#   benches/http/instructions.sh [BIN…]
#
# Requests per second and CPU seconds move by 20 % and more between runs on
# a shared or virtual machine; an instruction count moves by about 2 %, so
# it is what to compare when a change to the request path is small. Each
# load runs twice (2 s and 6 s) and the difference is divided by the
# difference in requests, so start-up (the script, the plan) cancels out.
# Kernel time (the sockets: most of a request's CPU) is not counted.
# BIN defaults to target/release/runner; give several to compare builds.
# Installs nginx and valgrind with apt-get if missing. Traffic goes to
# 127.0.0.1 only.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -gt 0 ] || set -- "$root/target/release/runner"
for bin in "$@"; do
  [ -x "$bin" ] || { echo "instructions.sh: build $bin first (cargo build --release)" >&2; exit 1; }
done
need=()
command -v nginx >/dev/null || need+=(nginx)
command -v valgrind >/dev/null || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
me=instructions.sh
# shellcheck source=nginx.sh
source "$here/nginx.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"; stop_nginx' EXIT

count() {  # count BIN SCRIPT SECONDS → "instructions requests"
  taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$work/out" \
    "$1" "$2" --set "d=$3s" --threads 1 -q >"$work/log" 2>/dev/null
  echo "$(awk '/^(summary|totals):/ {print $2; exit}' "$work/out") $(awk '/^requests / {print $2}' "$work/log")"
}

echo "| build | load | instructions per request |"
echo "|---|---|---|"
for bin in "$@"; do
  for load in flood flow; do
    read -r i1 r1 < <(count "$bin" "$here/$load.rhai" 2)
    read -r i2 r2 < <(count "$bin" "$here/$load.rhai" 6)
    if [ -z "$i2" ] || [ -z "$r2" ] || [ "$r2" -le "${r1:-0}" ]; then
      echo "instructions.sh: $bin did not run $load.rhai; try it by hand" >&2; exit 1
    fi
    echo "| $bin | $load | $(( (i2 - i1) / (r2 - r1) )) |"
  done
done

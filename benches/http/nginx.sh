# Sourced by the HTTP benchmarks: starts the bench nginx (nginx.conf here)
# pinned to CPU 0 and stops it when the calling script exits (`stop_nginx`,
# for a script with a trap of its own); `served`
# prints how many requests it has answered. Traffic stays on 127.0.0.1.
# Needs `here` (this folder) and `me` (the caller's name, for messages).
prefix=${TMPDIR:-/tmp}/runner-bench-nginx
mkdir -p "$prefix/tmp"
# A second server on the port (reuseport) would split the requests and the count.
if curl -fsS -o /dev/null http://127.0.0.1:18080/health 2>/dev/null; then
  echo "$me: something already answers on 127.0.0.1:18080; stop it first" >&2; exit 1
fi
taskset -c 0 nginx -p "$prefix" -e "$prefix/error.log" -c "$here/nginx.conf" || exit 1
stop_nginx() { kill -QUIT "$(cat "$prefix/nginx.pid")" 2>/dev/null; }
trap stop_nginx EXIT
for _ in $(seq 50); do curl -fsS -o /dev/null http://127.0.0.1:18080/health 2>/dev/null && break; sleep 0.1; done
served() { curl -fsS http://127.0.0.1:18080/nginx_status | awk 'NR==3 {print $3}'; }

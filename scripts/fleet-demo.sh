#!/usr/bin/env bash
# A crawler fleet on one machine: starts redis-server on a free 127.0.0.1
# port, the embedded demo site (16 hosts on 127.0.0.1), and three crawl
# workers sharing the frontier, the seen URLs, the page budget and a
# fleet-wide cap of 2 requests in flight per host through Redis; prints
# each worker's summary and the per-host table merged from all of them.
# Everything stops at the end (or on Ctrl-C). Nothing leaves 127.0.0.1.
#   bash scripts/fleet-demo.sh [extra crawl flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
command -v redis-server >/dev/null || { echo "fleet-demo: redis-server is not installed" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A free port: the first in a range with nothing listening (bounded).
port=""
for p in $(seq 20000 20100); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "fleet-demo: no free port in 20000-20100" >&2; exit 1; }

redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$tmp" --daemonize no >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
	sleep 0.05
done
redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null || { echo "fleet-demo: redis-server did not start" >&2; exit 1; }

go build -o "$tmp/asynchttp" ./cmd/asynchttp
"$tmp/asynchttp" demo -serve 10m >"$tmp/site.txt" &
pids+=($!)
for _ in $(seq 1 200); do
	grep -q '^allow ' "$tmp/site.txt" 2>/dev/null && break
	sleep 0.05
done
seeds=$(sed -n 's/^seeds //p' "$tmp/site.txt")
allow=$(sed -n 's/^allow //p' "$tmp/site.txt")
[ -n "$allow" ] || { echo "fleet-demo: the demo site did not start" >&2; exit 1; }

echo "redis-server on 127.0.0.1:$port; demo site: $allow"
echo "three workers: crawl -redis redis://127.0.0.1:$port -fleet-per-host 2 -retry 2 -breaker 3 ..."
workers=()
for w in 1 2 3; do
	# shellcheck disable=SC2086 # $seeds is a list of URLs
	"$tmp/asynchttp" crawl -redis "redis://127.0.0.1:$port" -crawl-id "fleet-demo-$$" \
		-fleet-per-host 2 -retry 2 -retry-max-wait 2s -breaker 3 -breaker-cooldown 2s \
		-c 16 -depth 1000 -max-pages 2000 -timeout 5s -allow-host "$allow" "$@" $seeds >"$tmp/worker$w.txt" 2>&1 &
	workers+=($!)
done
status=0
for p in "${workers[@]}"; do wait "$p" || status=$?; done
for w in 1 2 3; do
	echo
	echo "== worker $w: $(grep -m1 '^crawled ' "$tmp/worker$w.txt" || echo 'no summary')"
done
for w in 1 2 3; do
	if grep -q '^fleet ' "$tmp/worker$w.txt"; then
		echo
		echo "== merged by worker $w, the last to finish:"
		sed -n '/^fleet /,$p' "$tmp/worker$w.txt"
	fi
done
exit $status

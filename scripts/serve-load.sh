#!/usr/bin/env bash
# `archsim serve` under wrk on loopback: throughput, latency, status mix and resident memory
# sampled every 5 s, for the default scenario as shipped (its rate limits answer most of one
# caller's load with the designed 429) and with its limits raised (every request served).
# Usage: scripts/serve-load.sh [seconds=60] [connections=256]. Needs wrk; builds the release
# binary. Results go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
connections=${2:-256}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }
cargo build --release --quiet
bin=target/release/archsim
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# wrk counts non-2xx answers but not which; this counts each status.
cat > "$work/statuses.lua" <<'LUA'
counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() counts = {} end
function response(status) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  print(string.format("p50 %.2f ms  p99 %.2f ms  max %.2f ms",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do print(string.format("status %d: %d", status, n)) end
  print(string.format("socket errors: connect %d, read %d, write %d, timeout %d",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
LUA

run() {
  local label=$1 scenario=$2 port=$3
  "$bin" serve "$scenario" --listen "127.0.0.1:$port" 2>"$work/serve-$port.log" &
  local pid=$!
  sleep 1
  local token
  token=$("$bin" token "$scenario" --as alice --ttl 3600)
  echo "== $label: wrk -t2 -c$connections -d${seconds}s GET /api/v1/projects (cache hit after the first)"
  ( for ((i = 0; i <= seconds; i += 5)); do
      printf 't=%3ds rss %s KiB\n' "$i" "$(ps -o rss= -p "$pid" | tr -d ' ')"
      sleep 5
    done ) > "$work/rss-$port.txt" &
  local sampler=$!
  wrk -t2 "-c$connections" "-d${seconds}s" -s "$work/statuses.lua" \
    -H 'Host: acme.archsim.test' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/projects"
  kill "$sampler" 2>/dev/null || true
  cat "$work/rss-$port.txt"
  grep -c ' ERROR ' "$work/serve-$port.log" | sed 's/^/server error lines: /' || true
  kill -INT "$pid"
  wait "$pid" || true
}

run "default scenario" scenarios/saas.toml 18080
# The same system with the caller, tenant and per-IP limits out of the way.
sed -e 's/^requests_per_second = 20$/requests_per_second = 1000000/' \
    -e 's/^burst = 30$/burst = 1000000/' \
    -e 's/^waf_requests_per_minute = 6000$/waf_requests_per_minute = 100000000/' \
    scenarios/saas.toml > "$work/unlimited.toml"
run "limits raised" "$work/unlimited.toml" 18081

#!/usr/bin/env bash
# HTTP benchmarks of `axtary serve` against the budgets of DESIGN.md §11, with wrk as the load
# generator (apt-get install -y wrk) and a local tokio/axum upstream
# (crates/axtary-node/examples/bench_upstream.rs). Prints rates, latency percentiles, the
# latency the pipeline adds to a direct upstream call, fsync cost and the daemon's peak RSS.
#
#   benches/http/run.sh                  # 15 s per run, 64 connections
#   DURATION=30s CONNS=64 benches/http/run.sh
#
# Everything (home, ledger, upstream, daemon) lives in a temporary directory removed at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DURATION=${DURATION:-15s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install -y wrk)" >&2; exit 1; }

echo "--- build (release)"
cargo build --release --locked -q -p axtary --bin axtary
cargo build --release --locked -q -p axtary-node --example bench_upstream
BIN=$TARGET/release/axtary

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits for `listening on http://ADDR` as the first line of $1 and prints the URL.
url_of() {
  for _ in $(seq 1 200); do
    if [ -s "$1" ]; then head -1 "$1" | sed 's/^listening on //'; return; fi
    sleep 0.05
  done
  echo "error: nothing listening (see $1)" >&2; exit 1
}

export AXTARY_HOME=$WORK/home
"$BIN" init >/dev/null

"$TARGET/release/examples/bench_upstream" 127.0.0.1:0 >"$WORK/upstream.out" 2>&1 &
PIDS+=($!)
UPSTREAM=$(url_of "$WORK/upstream.out")

cat >>"$AXTARY_HOME/config.yaml" <<YAML
connectors:
  http:
    upstreams:
      internal-api:
        base_url: $UPSTREAM
        methods: [GET]
        auth_header: "Authorization: Bearer {secret}"
        secret: "secret:api-token"
YAML
printf 'bench-credential-0123456789abcdef' | "$BIN" secrets set api-token >/dev/null

"$BIN" serve --listen 127.0.0.1:0 >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DAEMON=$!
PIDS+=($DAEMON)
URL=$(url_of "$WORK/daemon.out")
export AXTARY_TOKEN
AXTARY_TOKEN=$(cat "$AXTARY_HOME/agent.token")

fsync_ms() {
  python3 - "$WORK" <<'PY'
import os, statistics, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
times = []
for i in range(200):
    os.pwrite(fd, os.urandom(4096), (i % 16) * 4096)
    t = time.perf_counter(); os.fsync(fd); times.append((time.perf_counter() - t) * 1000)
os.close(fd)
print(f"{statistics.median(times):.3f}")
PY
}

HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk run: prints the summary lines and stores requests/s and p50/p99 in R_RATE, R_P50, R_P99,
# and the daemon's CPU time per request (user + system, all threads) in R_CPU.
bench() {
  local label=$1; shift
  local out=$WORK/wrk.out
  local before
  before=$(cpu_ticks "$DAEMON")
  wrk --latency "$@" >"$out"
  local after
  after=$(cpu_ticks "$DAEMON")
  local n
  n=$(awk '/requests in/ {print $1}' "$out")
  R_CPU=$(awk -v a="$before" -v b="$after" -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.0f", (b - a) * 1e6 / hz / (n > 0 ? n : 1)}')
  R_RATE=$(awk '/Requests\/sec/ {print $2}' "$out")
  R_P50=$(awk '$1 == "50%" {print $2}' "$out")
  R_P99=$(awk '$1 == "99%" {print $2}' "$out")
  local bad
  bad=$(awk '/Non-2xx or 3xx/ {print $5}' "$out")
  local errs
  errs=$(grep -E 'Socket errors' "$out" || true)
  printf '%-34s %10s req/s   p50 %-9s p99 %-9s daemon CPU %5s us/req %s%s\n' "$label" "$R_RATE" \
    "$R_P50" "$R_P99" "$R_CPU" "${bad:+non-2xx: $bad }" "$errs"
}

to_ms() { # wrk latency (e.g. 812.00us, 1.23ms, 1.01s) to milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

echo "--- machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); fsync (4 KiB, median of 200): $(fsync_ms) ms"
echo "--- warm-up"
wrk -t"$THREADS" -c"$CONNS" -d3s -s benches/http/decide.lua "$URL/v1/decide" >/dev/null
SEQ0=$(curl -s "$URL/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ledger"]["entries"])')

echo "--- $CONNS connections, $DURATION each"
bench "POST /v1/decide" -t"$THREADS" -c"$CONNS" -d"$DURATION" -s benches/http/decide.lua "$URL/v1/decide"
DECIDE_RATE=$R_RATE DECIDE_P99=$R_P99 DECIDE_CPU=$R_CPU
bench "POST /v1/actions (full pipeline)" -t"$THREADS" -c"$CONNS" -d"$DURATION" -s benches/http/actions.lua "$URL/v1/actions"
ACTIONS_RATE=$R_RATE ACTIONS_CPU=$R_CPU
bench "GET /proxy/internal-api/..." -t"$THREADS" -c"$CONNS" -d"$DURATION" -s benches/http/proxy.lua "$URL/proxy/internal-api/v1/customers/7"
bench "GET upstream directly" -t"$THREADS" -c"$CONNS" -d"$DURATION" "$UPSTREAM/v1/customers/7"
RSS_LOAD=$(awk '/VmHWM/ {print $2, $3}' "/proc/$DAEMON/status")

echo "--- added latency, 1 connection"
bench "POST /v1/actions" -t1 -c1 -d"$DURATION" -s benches/http/actions.lua "$URL/v1/actions"
ONE_ACTIONS=$(to_ms "$R_P50")
bench "GET upstream directly" -t1 -c1 -d"$DURATION" "$UPSTREAM/v1/customers/7"
ONE_DIRECT=$(to_ms "$R_P50")
bench "POST /v1/decide" -t1 -c1 -d"$DURATION" -s benches/http/decide.lua "$URL/v1/decide"

SEQ1=$(curl -s "$URL/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ledger"]["entries"])')
kill -TERM "$DAEMON"
wait "$DAEMON" || true
echo "--- results"
echo "decide:           $DECIDE_RATE/s, p99 $DECIDE_P99 (budget >= 10000/s, p99 < 10ms); daemon CPU $DECIDE_CPU us/decision"
echo "actions:          $ACTIONS_RATE/s (budget >= 3000/s); daemon CPU $ACTIONS_CPU us/action"
echo "                  (wrk, the upstream and the daemon share the $(nproc) cores: CPU per request is the load-independent figure)"
echo "added latency:    $(awk -v a="$ONE_ACTIONS" -v d="$ONE_DIRECT" 'BEGIN {printf "%.3f", a - d}') ms at p50 (actions $ONE_ACTIONS ms - direct $ONE_DIRECT ms; budget: one fsync + 1 ms)"
echo "daemon peak RSS:  $RSS_LOAD (VmHWM; budget < 64 MiB)"
echo "ledger:           $((SEQ1 - SEQ0)) entries written during the runs"
"$BIN" ledger verify

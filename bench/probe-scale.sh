#!/usr/bin/env bash
# Probing at scale (issue 17 part 8, docs/health.md "Limits and scale"):
# 10,000 distinct HTTP targets at `interval: 1s`, served on loopback by
# examples/probe_targets.rs (one listener per address 127.1.X.Y on one port,
# kept-alive connections, one thread). Reports, for each 10 s window of
# meridian's own "health: N checks in the last 10s (~E expected), L late"
# log line, and for the measuring window: meridian's CPU (utime+stime from
# /proc, as % of one core), the sockets in TIME_WAIT, and established
# connections to the targets.
#
#   bash bench/probe-scale.sh          (about 70 s; needs a release build)
#
# Settings (environment):
#   BENCH_TARGETS=10000      distinct targets (endpoints 127.1.0.1 upwards)
#   BENCH_SECONDS=40         measuring window after the first 20 s
#   BENCH_TARGET_PORT=18080  the targets' port
#   MERIDIAN=target/release/meridian  the binary to measure (to compare
#                            builds, point it at another one)
#   PROBE_TARGETS=target/release/examples/probe_targets  the target server
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TARGETS=${BENCH_TARGETS:-10000}
SECS=${BENCH_SECONDS:-40}
PORT=${BENCH_TARGET_PORT:-18080}
BIN=${MERIDIAN:-$ROOT/target/release/meridian}
SERVER=${PROBE_TARGETS:-$ROOT/target/release/examples/probe_targets}
PER_POOL=50

log() { printf '[probe-scale] %s\n' "$*" >&2; }
if [ ! -x "$BIN" ] || [ ! -x "$SERVER" ]; then
  log "building meridian and examples/probe_targets (release)"
  (cd "$ROOT" && cargo build --release --locked --quiet --bin meridian --example probe_targets)
fi
# Each target is a listener here and a connection on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-probe-scale.XXXXXX")
MPID=""
SPID=""
stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  [ -z "$MPID" ] || stop "$MPID"
  [ -z "$SPID" ] || stop "$SPID"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$SERVER" 127.1.0.1 "$TARGETS" "$PORT" >"$TMP/server.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do grep -q listening "$TMP/server.log" && break; sleep 0.1; done
grep -q listening "$TMP/server.log" || { log "the target server did not start"; cat "$TMP/server.log"; exit 1; }

# 10,000 endpoints: services of two pools of $PER_POOL endpoints each, all
# probed by one monitor at 1 s; addresses as the server numbers them.
python3 - "$TARGETS" "$PORT" "$PER_POOL" >"$TMP/meridian.yaml" <<'PY'
import sys
n, port, per = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def addrs():
    a = (127 << 24) | (1 << 16) | 1
    while True:
        if a & 0xff in (0, 255):
            a += 1
            continue
        yield f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"
        a += 1
it = addrs()
print('dns: { listen: ["127.0.0.1:15399"] }')
print("regions: { us-east: {}, eu-west: {} }")
print(f"monitors:\n  web: {{ type: http, port: {port}, path: /ready, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }}")
print("zones:\n  - origin: gslb.test.\n    file: gslb.test.zone\n    services:")
services = (n + 2 * per - 1) // (2 * per)
left = n
for s in range(services):
    print(f"      s{s}:\n        policy: failover\n        pools:")
    for region in ("us-east", "eu-west"):
        k = min(per, left)
        if k == 0:
            k = 1  # a pool needs an endpoint; reuse the first address
            eps = ["127.1.0.1"]
        else:
            eps = [next(it) for _ in range(k)]
            left -= k
        print(f"          {region}: {{ monitor: web, endpoints: [{', '.join(eps)}] }}")
PY
cat >"$TMP/gslb.test.zone" <<'ZONE'
$ORIGIN gslb.test.
$TTL 300
@    IN SOA ns1 hostmaster ( 1 3600 600 86400 45 )
@    IN NS  ns1
ns1  IN A   192.0.2.53
ZONE

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tw() { ss -Htan state time-wait | wc -l; }
est() { ss -Htan state established "( dport = :$PORT )" | wc -l; }

log "meridian probing $TARGETS targets at 1s ($BIN)"
# The 10 s heartbeat ("N checks in the last 10s") is logged at DEBUG (a
# WARN when checks start late): ask for it from the health core only.
RUST_LOG=info,meridian::health::core=debug "$BIN" run -c "$TMP/meridian.yaml" >"$TMP/meridian.log" 2>&1 &
MPID=$!
for _ in $(seq 600); do grep -q "listening for DNS" "$TMP/meridian.log" && break; sleep 0.1; done
grep -q "listening for DNS" "$TMP/meridian.log" || { log "meridian did not start"; tail "$TMP/meridian.log"; exit 1; }
grep -o "probing .* after the first round" "$TMP/meridian.log" >&2 || true
sleep 20
HZ=$(getconf CLK_TCK)
c0=$(cpu "$MPID"); t0=$(date +%s.%N)
sleep "$SECS"
c1=$(cpu "$MPID"); t1=$(date +%s.%N)
TW=$(tw); EST=$(est)
CPU=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$HZ" 'BEGIN{printf "%.1f", 100*(b-a)/hz/(e-s)}')
echo "== $TARGETS HTTP targets at 1s, $SECS s window =="
grep -oE "health: ([0-9]+ checks in the last|checks are falling behind).*" "$TMP/meridian.log" |
  sed -e 's/^health: /  /' -e 's/ checks=.*//'
echo "meridian CPU over the window: ${CPU}% of one core"
echo "sockets in TIME_WAIT at the end: $TW"
echo "established connections to the targets' port: $EST"
echo "late-check warnings (WARN lines mentioning late): $(grep -c 'WARN.*late' "$TMP/meridian.log" || true)"
echo "meridian CPU time in all (utime+stime since start): $(awk -v hz="$HZ" '{printf "%.1f s", ($14 + $15) / hz}' "/proc/$MPID/stat")"
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPU(s)"

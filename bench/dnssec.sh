#!/usr/bin/env bash
# The cost of DNSSEC (issue 16): one meridian serving the bench zone signed
# with one ECDSA P-256 key, driven by dnsperf with and without the DO bit on
# the static mix (dnsperf -D) and on an ECS mix (BENCH_ECS_SUBNETS distinct
# client subnets, the bench's ECS queries with DO set in their OPT record).
# A third pair asks names that do not exist (each once: every denial is
# signed anew). Prints the median QPS of each, the signing operations and the signature
# cache's hit rate from /metrics. docs/performance.md ("DNSSEC") quotes it.
#
# Settings (environment): BENCH_RUNS=3 BENCH_SECONDS=10 BENCH_CLIENTS=8
# BENCH_OUTSTANDING=100 BENCH_ECS_SUBNETS=1024 BENCH_PORT=15363 (admin on +1)
# BENCH_MIXES="static static-do ecs ecs-do nx nx-do"
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TOOL="$HERE/benchtool.py"
BIN="$ROOT/target/release/meridian"
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-8}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
SUBNETS=${BENCH_ECS_SUBNETS:-1024}
PORT=${BENCH_PORT:-15363}
APORT=$((PORT + 1))

log() { printf '[dnssec-bench] %s\n' "$*" >&2; }
[ -x "$BIN" ] || { log "build first: cargo build --release"; exit 1; }
command -v dnsperf >/dev/null || { log "dnsperf is required (apt-get install dnsperf)"; exit 1; }

TMP=$(mktemp -d)
PID=""
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$TMP"
}
trap cleanup EXIT

python3 "$TOOL" csv 20000 2000 "$TMP/bench.csv"
"$BIN" geoip build "$TMP/bench.csv" -o "$TMP/bench.mmdb" >&2
python3 "$TOOL" ecs-queries "$TMP/bench.csv" "$SUBNETS" "$TMP/ecs.bin" >&2
echo "static.gslb.example A" >"$TMP/static.txt"
# Names that do not exist, each once: every denial is a new NSEC to sign
# (the worst case, a random-subdomain flood).
python3 -c 'import random; r = random.Random(7)
for i in range(200000): print("nx%08x.gslb.example A" % r.getrandbits(32))' >"$TMP/nx.txt"
# The same ECS queries with DO set (dnsperf -D does not touch -B input).
python3 - "$TMP/ecs.bin" "$TMP/ecs-do.bin" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
out, i = bytearray(), 0
while i < len(data):
    (n,) = struct.unpack(">H", data[i:i + 2])
    p = bytearray(data[i + 2:i + 2 + n])
    i += 2 + n
    at = 12
    while p[at]:
        at += 1 + p[at]
    at += 5  # root label, QTYPE, QCLASS: the OPT record follows
    assert p[at] == 0 and p[at + 1:at + 3] == b"\x00\x29", "OPT expected"
    p[at + 7] |= 0x80  # DO: the top bit of the TTL's flags
    out += struct.pack(">H", len(p)) + p
open(sys.argv[2], "wb").write(out)
EOF

cp "$HERE/zones/gslb.example.zone" "$TMP/"
ln -s "$TMP/bench.mmdb" "$TMP/meridian.mmdb"
KEY=$("$BIN" dnssec keygen gslb.example --dir "$TMP")
sed -e "s#@PORT@#$PORT#g" -e "s#database: bench.mmdb#database: $TMP/bench.mmdb#" \
  "$HERE/meridian.yaml" |
  sed -e "s#^    file: gslb.example.zone#    file: gslb.example.zone\n    dnssec:\n      keys: [\"$KEY\"]#" \
    >"$TMP/meridian.yaml"
printf 'admin:\n  listen: "127.0.0.1:%s"\n' "$APORT" >>"$TMP/meridian.yaml"
"$BIN" check -c "$TMP/meridian.yaml" >&2
"$BIN" run -c "$TMP/meridian.yaml" >"$TMP/meridian.log" 2>&1 &
PID=$!
python3 "$TOOL" wait "$PORT" static.gslb.example 10 || { tail "$TMP/meridian.log" >&2; exit 1; }

metric() {
  curl -s "http://127.0.0.1:$APORT/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $NF}'
}

run() { # mix -> qps
  local args=()
  case $1 in
    static) args=(-d "$TMP/static.txt") ;;
    static-do) args=(-d "$TMP/static.txt" -D) ;;
    ecs) args=(-B -d "$TMP/ecs.bin") ;;
    ecs-do) args=(-B -d "$TMP/ecs-do.bin") ;;
    nx) args=(-d "$TMP/nx.txt") ;;
    nx-do) args=(-d "$TMP/nx.txt" -D) ;;
  esac
  dnsperf -s 127.0.0.1 -p "$PORT" "${args[@]}" -c "$CLIENTS" -q "$OUTSTANDING" \
    -l "$SECS" -t 2 >"$TMP/out.txt" 2>&1
  python3 "$TOOL" dnsperf-summary "$TMP/out.txt" | awk -F= '$1 == "qps" {print int($2)}'
}

declare -A RESULTS
MIXES=${BENCH_MIXES:-"static static-do ecs ecs-do nx nx-do"}
for mix in $MIXES; do run "$mix" >/dev/null; done # warm-up
for r in $(seq "$RUNS"); do
  for mix in $MIXES; do
    s0=$(metric meridian_dnssec_signatures_total)
    h0=$(metric 'meridian_dnssec_signature_cache_total{result="hit"}')
    m0=$(metric 'meridian_dnssec_signature_cache_total{result="miss"}')
    q=$(run "$mix")
    s1=$(metric meridian_dnssec_signatures_total)
    h1=$(metric 'meridian_dnssec_signature_cache_total{result="hit"}')
    m1=$(metric 'meridian_dnssec_signature_cache_total{result="miss"}')
    RESULTS[$mix]="${RESULTS[$mix]:-} $q"
    log "run $r $mix: $q qps; signatures +$((s1 - s0)), cache hits +$((h1 - h0)), misses +$((m1 - m0))"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\n| mix | QPS without DO | QPS with DO | with / without |\n|---|---|---|---|\n'
for pair in "static static-do" "ecs ecs-do" "nx nx-do"; do
  set -- $pair
  [ -n "${RESULTS[$1]:-}" ] && [ -n "${RESULTS[$2]:-}" ] || continue
  a=$(echo "${RESULTS[$1]}" | median)
  b=$(echo "${RESULTS[$2]}" | median)
  printf '| %s | %s | %s | %s |\n' "$1" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')"
done
printf '\nsignatures made in all: %s; signature cache: %s hits, %s misses\n' \
  "$(metric meridian_dnssec_signatures_total)" \
  "$(metric 'meridian_dnssec_signature_cache_total{result="hit"}')" \
  "$(metric 'meridian_dnssec_signature_cache_total{result="miss"}')"

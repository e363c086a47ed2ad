#!/usr/bin/env bash
# Instructions per query, counted by callgrind: deterministic on a shared
# machine, unlike seconds. Runs meridian (the bench configuration, a
# generated GeoIP database) under `valgrind --tool=callgrind` twice, sends
# N1 and then N2 queries of one mix with dnsperf, and prints
#   (instructions(N2) - instructions(N1)) / (N2 - N1)
# so shutdown cancels out. Counting starts only once the server says it
# listens (`--instr-atstart=no`, then `callgrind_control -i on`): start-up
# varies by a few per mille from run to run, which the difference alone
# turned into tens of instructions a query. Work the server still does in
# the background after that is counted (a run stays as repeatable as that
# work is). Name a meridian binary first: it builds the database.
# dnsperf keeps 50 queries in flight
# (one at a time waits on valgrind's thread scheduling, about 35 ms each).
#
#   bash bench/callgrind.sh [BIN...]     default target/release/meridian
#   CG_MIX=geo|static|ecs (default geo; ecs: 1,000 client subnets),
#   CG_N1=2000, CG_N2=12000 (multiples of 1,000 for ecs),
#   CG_KEEP=DIR keeps each run's callgrind output there (callgrind_annotate)
#
# Several binaries (e.g. one built from an older commit) are measured on the
# same database and queries, one line each. The word `gdnsd` in place of a
# binary measures gdnsd 3 (bench/gdnsd, the same map and database) the same
# way, for the ratio issue 20 asks for. Needs valgrind, dnsperf, python3
# (and gdnsd for that line).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TOOL="$HERE/benchtool.py"
MIX=${CG_MIX:-geo}
N1=${CG_N1:-2000}
N2=${CG_N2:-12000}
PORT=${CG_PORT:-15363}
[ $# -gt 0 ] || set -- "$ROOT/target/release/meridian"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-cg.XXXXXX")
SERVER=""
cleanup() {
  [ -z "$SERVER" ] || kill -KILL "$SERVER" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

python3 "$TOOL" csv 20000 2000 "$TMP/bench.csv"
"$1" geoip build "$TMP/bench.csv" -o "$TMP/bench.mmdb" >/dev/null
PER_LOOP=1
case $MIX in
  static) echo "static.gslb.example A" >"$TMP/queries.txt"; FMT=() ;;
  geo) echo "www.gslb.example A" >"$TMP/queries.txt"; FMT=() ;;
  ecs)
    PER_LOOP=1000
    python3 "$TOOL" ecs-queries "$TMP/bench.csv" "$PER_LOOP" "$TMP/queries.txt" >/dev/null
    FMT=(-B)
    ;;
  *) echo "CG_MIX: static, geo or ecs" >&2; exit 2 ;;
esac
sed -e "s#@PORT@#$PORT#g" "$HERE/meridian.yaml" >"$TMP/meridian.yaml"
cp "$HERE/zones/gslb.example.zone" "$TMP/"

# gdnsd's side: its config dir with the port and the database filled in.
gdnsd_dir() {
  [ -d "$TMP/gdnsd" ] && return 0
  cp -r "$HERE/gdnsd" "$TMP/gdnsd"
  sed -e "s#@PORT@#$PORT#g" -e "s#@DIR@#$TMP/gdnsd#g" "$HERE/gdnsd/config" >"$TMP/gdnsd/config"
  ln -sf "$TMP/bench.mmdb" "$TMP/gdnsd/bench.mmdb"
}

# Instructions for one run of COUNT queries through BIN.
count() { # bin count
  local out="$TMP/cg.out" i ready
  rm -f "$out" "$TMP/server.log"
  if [ "$1" = gdnsd ]; then
    gdnsd_dir
    # --trace-children: gdnsd 3 re-executes itself once at start.
    valgrind --tool=callgrind --instr-atstart=no --trace-children=yes --callgrind-out-file="$out.%p" \
      gdnsd -c "$TMP/gdnsd" start >"$TMP/server.log" 2>&1 &
    ready="DNS listeners started"
  else
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.%p" "$1" run -c "$TMP/meridian.yaml" \
      >"$TMP/server.log" 2>&1 &
    ready="listening for DNS on UDP"
  fi
  SERVER=$!
  # Up to 3 minutes: valgrind starting a freshly built binary on a busy
  # machine can take more than one. A server that never got ready would
  # make the difference of the two runs meaningless: stop instead.
  for i in $(seq 1800); do
    grep -q "$ready" "$TMP/server.log" 2>/dev/null && break
    sleep 0.1
  done
  if ! grep -q "$ready" "$TMP/server.log" 2>/dev/null; then
    echo "callgrind.sh: $1 did not get ready; its log:" >&2
    cat "$TMP/server.log" >&2
    exit 1
  fi
  # Count from here on: start-up is hundreds of millions of instructions
  # that differ by a few per mille from run to run (hash seeds), which the
  # difference of two runs would otherwise see as tens of instructions a
  # query.
  callgrind_control -i on "$(if [ "$1" = gdnsd ]; then echo gdnsd; else echo "$SERVER"; fi)" >/dev/null 2>&1
  local loops=$(( $2 / PER_LOOP ))
  dnsperf -s 127.0.0.1 -p "$PORT" "${FMT[@]}" -d "$TMP/queries.txt" -n "$loops" -c 1 -q 50 -t 5 \
    >"$TMP/dnsperf.log" 2>&1
  kill -TERM "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
  # Every process's total (gdnsd may leave more than one file).
  for f in "$out".*; do grep -m1 -E '^(summary|totals):' "$f"; done | awk '{s += $2} END {print s}'
  if [ -n "${CG_KEEP:-}" ]; then
    mkdir -p "$CG_KEEP"
    for f in "$out".*; do mv "$f" "$CG_KEEP/$(basename "$1")-$MIX-$2.${f##*.}"; done
  fi
  rm -f "$out".*
}

for bin in "$@"; do
  a=$(count "$bin" "$N1")
  b=$(count "$bin" "$N2")
  printf '%s\t%s\t%d instructions/query (%s mix; %s and %s queries)\n' \
    "$bin" "$(if [ "$bin" = gdnsd ]; then gdnsd -V 2>&1 | grep -o 'gdnsd version [0-9.]*' | head -1; else "$bin" --version 2>/dev/null | head -1; fi)" $(( (b - a) / (N2 - N1) )) "$MIX" "$N1" "$N2"
done

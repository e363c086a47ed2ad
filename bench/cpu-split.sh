#!/usr/bin/env bash
# Where a query's CPU goes: the server's user and system time per answered
# query (utime and stime of all its threads, /proc/PID/stat), meridian and
# gdnsd on the bench configurations, 8 s of dnsperf each on the static and
# geo mixes. On loopback most of it is the kernel's receive and send path.
#
#   bash bench/cpu-split.sh [BIN]      default target/release/meridian
#
# Needs dnsperf, gdnsd and python3 (bench/run.sh installs them).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$(realpath "${1:-$(dirname "$HERE")/target/release/meridian}")
M_PORT=${SPLIT_PORT:-15391}
G_PORT=$((M_PORT + 1))
TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-split.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

python3 "$HERE/benchtool.py" csv 20000 2000 "$TMP/bench.csv" >/dev/null
"$BIN" geoip build "$TMP/bench.csv" -o "$TMP/bench.mmdb" >/dev/null
sed -e "s#@PORT@#$M_PORT#g" "$HERE/meridian.yaml" >"$TMP/meridian.yaml"
cp "$HERE/zones/gslb.example.zone" "$TMP/"
cp -r "$HERE/gdnsd" "$TMP/gdnsd"
sed -e "s#@PORT@#$G_PORT#g" -e "s#@DIR@#$TMP/gdnsd#g" "$HERE/gdnsd/config" >"$TMP/gdnsd/config"
ln -sf "$TMP/bench.mmdb" "$TMP/gdnsd/bench.mmdb"

(cd "$TMP" && exec "$BIN" run -c meridian.yaml >"$TMP/meridian.log" 2>&1) &
PIDS+=($!)
gdnsd -c "$TMP/gdnsd" start >"$TMP/gdnsd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  grep -q "listening for DNS on UDP" "$TMP/meridian.log" 2>/dev/null &&
    grep -q "DNS listeners started" "$TMP/gdnsd.log" 2>/dev/null && break
  sleep 0.1
done
# gdnsd 3 re-executes itself at start: its server is the newest gdnsd.
G_PID=$(pgrep -n -x gdnsd)
M_PID=${PIDS[0]}

ticks() { awk '{print $14 + 0, $15 + 0}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
printf 'server    mix     queries  user us/q  system us/q\n'
for mix in static geo; do
  case $mix in
    static) echo "static.gslb.example A" >"$TMP/q.txt" ;;
    geo) echo "www.gslb.example A" >"$TMP/q.txt" ;;
  esac
  for server in meridian gdnsd; do
    if [ "$server" = meridian ]; then pid=$M_PID port=$M_PORT; else pid=$G_PID port=$G_PORT; fi
    read -r u0 s0 < <(ticks "$pid")
    n=$(dnsperf -s 127.0.0.1 -p "$port" -d "$TMP/q.txt" -l 8 -c 8 -q 100 2>&1 |
      awk '/Queries completed/ {print $3}')
    read -r u1 s1 < <(ticks "$pid")
    awk -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" -v srv="$server" -v mix="$mix" \
      'BEGIN {printf "%-9s %-6s %8d  %9.2f  %11.2f\n", srv, mix, n, u * 1e6 / hz / n, s * 1e6 / hz / n}'
  done
done

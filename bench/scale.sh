#!/usr/bin/env bash
# Cost table for docs/performance.md: how meridian's startup time, reload
# time, memory and QPS grow with the number of services and with the size of
# the GeoIP database. Run it after bench/run.sh has installed dnsperf:
#
#   bash bench/scale.sh            (one to two minutes on a quiet machine)
#   bash bench/scale.sh check      only `meridian check` on each configuration:
#                                  wall time and peak RSS (/usr/bin/time -v);
#                                  services default to "10000 30000 50000 100000"
#   bash bench/scale.sh gdnsd      gdnsd 3 loading the same services as geoip DYNA
#                                  resources, same database: time to its first
#                                  answer and RSS (services default to "10000 100000";
#                                  needs gdnsd; meridian builds the database;
#                                  BENCH_GDNSD_WAIT=900: seconds to wait for its first answer)
#
# Settings (environment):
#   BENCH_SCALE_SERVICES="10 1000 2000 4000 8000 100000"  services per configuration (database: 20,000
#                                          networks); each service is a geo service with 3 pools
#   BENCH_SCALE_NETS="20000 200000 1000000" IPv4 networks per database (configuration: 10 services)
#   BENCH_SCALE_SECONDS=5                  length of each dnsperf run (geo+ECS mix on one service)
#   BENCH_SCALE_RELOADS=3                  SIGHUPs in a row after start (RSS growth shows a leak)
#   BENCH_SCALE_CHANGED=1                  each reload reads a file whose every service changed
#                                          (its endpoints alternate between 192.0.2.x and
#                                          192.0.3.x), so none is shared: the worst case
#   BENCH_PORT_SCALE=15356
#   BENCH_BIN=target/release/meridian       the binary measured (given: not built first)
#
# Startup is the time from launching `meridian run` to its log line
# "listening for DNS on UDP" (its own timestamp); reload is the time from
# SIGHUP to its "reloaded" log line. Both read the log's timestamps, so they
# do not include polling delays. "start peak" is the RSS high-water mark at
# the end of start-up; before the reloads the mark is reset
# (/proc/PID/clear_refs), so "reload peak" is the highest RSS during the
# reloads alone, and "RSS after reloads" what stays after the last one.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TOOL="$HERE/benchtool.py"
BIN=${BENCH_BIN:-"$ROOT/target/release/meridian"}
SERVICES=${BENCH_SCALE_SERVICES-"10 1000 2000 4000 8000 100000"}
NETS=${BENCH_SCALE_NETS-"20000 200000 1000000"}
SECS=${BENCH_SCALE_SECONDS:-5}
RELOADS=${BENCH_SCALE_RELOADS:-3}
CHANGED=${BENCH_SCALE_CHANGED:-0}
PORT=${BENCH_PORT_SCALE:-15356}
BASE_NETS=20000
BASE_SERVICES=10

log() { printf '[scale] %s\n' "$*" >&2; }
MODE=${1:-all}
if [ "$MODE" = check ]; then
  SERVICES=${BENCH_SCALE_SERVICES-"10000 30000 50000 100000"}
  TOOLS="python3"
elif [ "$MODE" = gdnsd ]; then
  SERVICES=${BENCH_SCALE_SERVICES-"10000 100000"}
  GDNSD_WAIT=${BENCH_GDNSD_WAIT:-900}
  TOOLS="python3 gdnsd"
else
  TOOLS="protoc python3 dnsperf"
fi
for cmd in $TOOLS; do
  command -v "$cmd" >/dev/null 2>&1 || { log "$cmd is missing: run 'make bench' once (it installs it)"; exit 1; }
done
if [ -z "${BENCH_BIN:-}" ]; then
  log "building meridian"
  (cd "$ROOT" && cargo build --release --locked --quiet)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-scale.XXXXXX")
MPID=""
DPID=""
stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  [ -z "$DPID" ] || stop "$DPID"
  [ -z "$MPID" ] || stop "$MPID"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

db() { # NETS -> path of a database with that many IPv4 networks (+10% IPv6)
  local n=$1 d="$TMP/db-$1"
  if [ ! -f "$d/bench.mmdb" ]; then
    mkdir -p "$d"
    python3 "$TOOL" csv "$n" $((n / 10)) "$d/bench.csv"
    local t0 t1
    t0=$(date +%s%N)
    "$BIN" geoip build "$d/bench.csv" -o "$d/bench.mmdb" >"$d/build.log"
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >"$d/build_ms"
  fi
  echo "$d"
}

# answers PID NAME SECONDS: wait until the server PID (on $PORT) answers
# NAME, for at most SECONDS from now; fails when it exits or the time is up.
answers() {
  local pid=$1 name=$2 until=$(($(date +%s) + $3))
  while [ "$(date +%s)" -lt "$until" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    python3 "$TOOL" wait "$PORT" "$name" 1 && return 0
  done
  return 1
}

# check_only SERVICES -> one line: services, config bytes, wall time, user CPU seconds, peak RSS kB
check_only() {
  local n=$1 d w
  d=$(db "$BASE_NETS")
  w="$TMP/check-$n"
  mkdir -p "$w"
  python3 "$TOOL" scale-config "$n" "$w" "$PORT"
  cp "$HERE/zones/gslb.example.zone" "$w/"
  ln -s "$d/bench.mmdb" "$w/bench.mmdb"
  /usr/bin/time -v "$BIN" check -c "$w/scale.yaml" >"$w/out" 2>"$w/time" || {
    log "meridian check failed on $n services:"
    tail -n 3 "$w/time" >&2
    return 1
  }
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$(stat -c %s "$w/scale.yaml")" \
    "$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$w/time")" \
    "$(awk -F': ' '/User time/ {print $2}' "$w/time")" \
    "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$w/time")"
}
if [ "$MODE" = check ]; then
  printf '| services | config | meridian check (wall) | user CPU | peak RSS |\n|---:|---:|---:|---:|---:|\n'
  for n in $SERVICES; do
    check_only "$n" | awk -F'\t' '{printf "| %d | %.1f MB | %s | %s s | %.1f MB |\n", $1, $2 / 1e6, $3, $4, $5 / 1024}'
  done
  exit 0
fi

# gdnsd_start SERVICES -> one line: services, config bytes, startup ms,
# RSS after start kB, start peak kB. gdnsd 3 loading the same services as
# geoip DYNA resources (benchtool.py gdnsd-scale-config), same database;
# started in the foreground and timed to its first answer for a service.
gdnsd_start() {
  local n=$1 d w
  d=$(db "$BASE_NETS")
  w="$TMP/gdnsd-$n"
  mkdir -p "$w"
  python3 "$TOOL" gdnsd-scale-config "$n" "$w" "$PORT"
  ln -s "$d/bench.mmdb" "$w/bench.mmdb"
  local t0 t1
  t0=$(date +%s%N)
  gdnsd -c "$w" start >"$w/log" 2>&1 &
  MPID=$!
  if ! answers "$MPID" "s$((n / 2)).gslb.example" "$GDNSD_WAIT"; then
    log "gdnsd with $n services did not answer within ${GDNSD_WAIT} s:"
    tail -n 3 "$w/log" >&2
    stop "$MPID"
    MPID=""
    return 1
  fi
  t1=$(date +%s%N)
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$(stat -c %s "$w/config")" $(((t1 - t0) / 1000000)) \
    "$(awk '/^VmRSS:/ {print $2}' "/proc/$MPID/status")" \
    "$(awk '/^VmHWM:/ {print $2}' "/proc/$MPID/status")"
  stop "$MPID"
  MPID=""
}
if [ "$MODE" = gdnsd ]; then
  printf '%s\n' "$(gdnsd -V 2>&1 | grep -o 'gdnsd version [0-9.]*' | head -1), the same services as geoip DYNA resources"
  printf '| services | config | startup (to the first answer) | RSS after start | start peak |\n|---:|---:|---:|---:|---:|\n'
  for n in $SERVICES; do
    gdnsd_start "$n" | awk -F'\t' '{printf "| %d | %.1f MB | %d ms | %.1f MB | %.1f MB |\n", $1, $2 / 1e6, $3, $4 / 1024, $5 / 1024}'
  done
  exit 0
fi

# measure SERVICES NETS -> one line of the table
measure() {
  local n=$1 nets=$2 d w
  d=$(db "$nets")
  w="$TMP/run-$n-$nets"
  mkdir -p "$w"
  python3 "$TOOL" scale-config "$n" "$w" "$PORT"
  cp "$HERE/zones/gslb.example.zone" "$w/"
  ln -s "$d/bench.mmdb" "$w/bench.mmdb"
  local svc="s$((n / 2)).gslb.example"
  python3 "$TOOL" ecs-queries "$d/bench.csv" 10000 "$w/ecs.bin" "$svc" >/dev/null

  local t0
  t0=$(date +%s%N)
  "$BIN" run -c "$w/scale.yaml" >"$w/log" 2>&1 &
  MPID=$!
  if ! answers "$MPID" "$svc" 600; then
    log "meridian with $n services did not start:"
    tail -n 3 "$w/log" >&2
    stop "$MPID"
    MPID=""
    # the reason, without the path of the temporary file
    printf '%s\t%s\tfailed\t%s\n' "$n" "$nets" \
      "$(tail -n 1 "$w/log" | sed -e "s#$w/##g" -e 's/^meridian: //' | cut -c1-200)"
    return 0
  fi
  local start_ms rss_start start_hwm
  start_ms=$(python3 "$TOOL" logtime "$w/log" "listening for DNS on UDP" "$t0")
  rss_start=$(awk '/^VmRSS:/ {print $2}' "/proc/$MPID/status")
  start_hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$MPID/status")

  # Reset the high-water mark: from here it is the reloads' peak.
  echo 5 >"/proc/$MPID/clear_refs" 2>/dev/null || true
  local reload_ms=nan r
  if [ "$CHANGED" = 1 ]; then
    cp "$w/scale.yaml" "$w/same.yaml"
    sed 's/192\.0\.2\./192.0.3./g' "$w/same.yaml" >"$w/changed.yaml"
  fi
  for r in $(seq "$RELOADS"); do
    if [ "$CHANGED" = 1 ]; then
      if [ $((r % 2)) = 1 ]; then cp "$w/changed.yaml" "$w/scale.yaml"; else cp "$w/same.yaml" "$w/scale.yaml"; fi
    fi
    t0=$(date +%s%N)
    kill -HUP "$MPID"
    reload_ms=nan
    for _ in $(seq 6000); do
      if [ "$(grep -c "reloaded" "$w/log")" -ge "$r" ]; then
        reload_ms=$(python3 "$TOOL" logtime "$w/log" "reloaded" "$t0" "$r")
        break
      fi
      sleep 0.1
    done
  done
  local reload_hwm rss_reloads
  reload_hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$MPID/status")
  rss_reloads=$(awk '/^VmRSS:/ {print $2}' "/proc/$MPID/status")

  dnsperf -s 127.0.0.1 -p "$PORT" -B -d "$w/ecs.bin" -c 8 -T 1 -l "$SECS" >"$w/dnsperf.out" 2>&1 &
  DPID=$!
  wait "$DPID" || true
  DPID=""
  local qps lost
  eval "$(python3 "$TOOL" dnsperf-summary "$w/dnsperf.out")"
  stop "$MPID"
  MPID=""
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$nets" "$(stat -c %s "$w/scale.yaml")" \
    "$(stat -c %s "$d/bench.mmdb")" "$(cat "$d/build_ms")" "$start_ms" "$reload_ms" \
    "$rss_start" "$start_hwm" "$reload_hwm" "$rss_reloads" "$qps"
  log "$n services, $nets networks: startup $start_ms ms, reload $reload_ms ms, RSS $((rss_start / 1024)) MB, reload peak $((reload_hwm / 1024)) MB, after $RELOADS reload(s) $((rss_reloads / 1024)) MB, $(printf '%.0f' "$qps") qps (lost $lost)"
}

ROWS="$TMP/rows.tsv"
: >"$ROWS"
for n in $SERVICES; do measure "$n" "$BASE_NETS" >>"$ROWS"; done
for m in $NETS; do
  [ "$m" = "$BASE_NETS" ] && grep -q "^$BASE_SERVICES	$BASE_NETS	" "$ROWS" && continue
  measure "$BASE_SERVICES" "$m" >>"$ROWS"
done

python3 - "$ROWS" "$SECS" <<'EOF'
import os, sys, datetime
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
cpu = "unknown CPU"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
print("meridian cost table, %s; %s, %d cores, Linux %s" % (
    datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), cpu,
    os.cpu_count() or 0, os.uname().release))
print("QPS: geo+ECS mix on one service (dnsperf -c 8 -T 1, %s s, 10,000 client subnets), dnsperf on the same cores" % sys.argv[2])
print()
hdr = "| services | networks (v4+v6) | config | mmdb | mmdb build | startup | reload | RSS after start | start peak | reload peak | RSS after reloads | QPS |"
print(hdr)
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
def mb(b):
    b = int(b)
    return "%.1f MB" % (b / 1e6) if b >= 1e6 else "%.0f kB" % (b / 1e3)
for r in rows:
    if len(r) < 12:
        print("| {:,} | {:,} | did not start: {} | | | | | | | | | |".format(
            int(r[0]), int(r[1]) + int(r[1]) // 10, r[3] if len(r) > 3 else "?"))
        continue
    n, nets, cfg, mmdb, build, start, reload, rss, hwm, rhwm, rss2, qps = r
    print("| {:,} | {:,} | {} | {} | {} ms | {} ms | {} ms | {:.1f} MB | {:.1f} MB | {:.1f} MB | {:.1f} MB | {:,.0f} |".format(
        int(n), int(nets) + int(nets) // 10, mb(cfg), mb(mmdb), build, start, reload,
        int(rss) / 1024, int(hwm) / 1024, int(rhwm) / 1024, int(rss2) / 1024, float(qps)))
EOF

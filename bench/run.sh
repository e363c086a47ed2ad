#!/usr/bin/env bash
# Side-by-side DNS benchmark: meridian, gdnsd (geoip plugin) and Knot DNS on
# loopback, driven by dnsperf. `make bench` runs this; docs/performance.md
# explains what it measures and how to read the table.
#
# Settings (environment):
#   BENCH_RUNS=3          measured runs per server and mix (the median is reported)
#   BENCH_SECONDS=10      length of each run
#   BENCH_WARMUP=2        unmeasured warm-up run before each server and mix
#   BENCH_HALF_SECONDS    length of the fixed-rate latency run (default BENCH_SECONDS)
#   BENCH_CLIENTS=8       dnsperf -c
#   BENCH_THREADS=1       dnsperf -T
#   BENCH_OUTSTANDING=100 dnsperf -q
#   BENCH_SERVERS="meridian gdnsd knot"
#   BENCH_GEO_NETS=20000 BENCH_GEO_NETS6=2000   rows of the generated GeoIP CSV
#   BENCH_ECS_SUBNETS=10000                      distinct client subnets in mix 3
#   BENCH_PORT_MERIDIAN=15353 BENCH_PORT_GDNSD=15354 BENCH_PORT_KNOT=15355
#   BENCH_BUSY_LIMIT=0.15 cores used by anything but the server and dnsperf above which a
#                         run counts as disturbed: it is measured again (BENCH_RETRIES=6
#                         times in all, after waiting up to 30 s for a quiet machine)
#   BENCH_KEEP=1          keep the temporary directory (logs, dnsperf output)

# qps, avg_ms, p99_ms, ... are set by `eval "$(benchtool.py ...)"`:
# shellcheck disable=SC2154
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TOOL="$HERE/benchtool.py"

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
HALF_SECS=${BENCH_HALF_SECONDS:-$SECS}
CLIENTS=${BENCH_CLIENTS:-8}
THREADS=${BENCH_THREADS:-1}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
SERVERS=${BENCH_SERVERS:-"meridian gdnsd knot"}
GEO_NETS=${BENCH_GEO_NETS:-20000}
GEO_NETS6=${BENCH_GEO_NETS6:-2000}
ECS_SUBNETS=${BENCH_ECS_SUBNETS:-10000}
BUSY_LIMIT=${BENCH_BUSY_LIMIT:-0.15}
RETRIES=${BENCH_RETRIES:-6}
declare -A PORT=(
  [meridian]=${BENCH_PORT_MERIDIAN:-15353}
  [gdnsd]=${BENCH_PORT_GDNSD:-15354}
  [knot]=${BENCH_PORT_KNOT:-15355}
)
BIN="$ROOT/target/release/meridian"

log() { printf '[bench] %s\n' "$*" >&2; }

# --- what it needs ---------------------------------------------------------

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

install_missing() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing: ${missing[*]}"
  $SUDO apt-get update -qq || true
  # One at a time: a package that cannot be installed only makes its own
  # server "not available"; Debian's gdnsd and knot packages try to start
  # their system services, which a container's policy-rc.d usually refuses.
  local pkg
  for pkg in "${missing[@]}"; do
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null ||
      log "could not install $pkg"
  done
}
# protoc: meridian's build needs it (etcd-client's protos).
install_missing protoc:protobuf-compiler python3:python3 dnsperf:dnsperf gdnsd:gdnsd knotd:knot
for cmd in protoc python3 dnsperf; do
  command -v "$cmd" >/dev/null 2>&1 || { log "$cmd is required"; exit 1; }
done
# The Debian packages enable system services; make sure none of them is
# serving while we measure (they would listen on port 53, not ours, but
# would compete for the two cores).
for unit in gdnsd knot; do
  if pgrep -x "${unit}d" >/dev/null 2>&1 || pgrep -x "$unit" >/dev/null 2>&1; then
    log "note: a system $unit is running; it competes for CPU with the benchmark"
  fi
done

log "building meridian (cargo build --release --locked)"
(cd "$ROOT" && cargo build --release --locked --quiet)

# --- temporary tree, cleanup -----------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/meridian-bench.XXXXXX")
declare -A PID=() STATUS=()
DNSPERF_PID=""

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local s
  trap - EXIT INT TERM
  [ -z "$DNSPERF_PID" ] || stop_pid "$DNSPERF_PID"
  for s in "${!PID[@]}"; do stop_pid "${PID[$s]}"; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- data: one database, the query files -----------------------------------

log "generating the GeoIP CSV ($GEO_NETS IPv4 + $GEO_NETS6 IPv6 networks) and building bench.mmdb"
python3 "$TOOL" csv "$GEO_NETS" "$GEO_NETS6" "$TMP/bench.csv"
"$BIN" geoip build "$TMP/bench.csv" -o "$TMP/bench.mmdb" >&2
python3 "$TOOL" ecs-queries "$TMP/bench.csv" "$ECS_SUBNETS" "$TMP/ecs.bin" >&2
echo "static.gslb.example A" >"$TMP/static.txt"
echo "www.gslb.example A" >"$TMP/geo.txt"

# --- servers ---------------------------------------------------------------

fill() { # template -> file, with @PORT@ and @DIR@ replaced
  sed -e "s#@PORT@#$2#g" -e "s#@DIR@#$TMP#g" "$1" >"$3"
}

start_meridian() {
  mkdir -p "$TMP/meridian"
  fill "$HERE/meridian.yaml" "${PORT[meridian]}" "$TMP/meridian/meridian.yaml"
  cp "$HERE/zones/gslb.example.zone" "$TMP/meridian/"
  ln -s "$TMP/bench.mmdb" "$TMP/meridian/bench.mmdb"
  "$BIN" run -c "$TMP/meridian/meridian.yaml" >"$TMP/meridian.log" 2>&1 &
  PID[meridian]=$!
}

start_gdnsd() {
  command -v gdnsd >/dev/null 2>&1 || return 1
  cp -r "$HERE/gdnsd" "$TMP/gdnsd"
  fill "$HERE/gdnsd/config" "${PORT[gdnsd]}" "$TMP/gdnsd/config"
  # `start` is gdnsd 3's foreground mode (2.x had -f); -c is the config dir.
  gdnsd -c "$TMP/gdnsd" start >"$TMP/gdnsd.log" 2>&1 &
  PID[gdnsd]=$!
}

start_knot() {
  command -v knotd >/dev/null 2>&1 || return 1
  mkdir -p "$TMP/knot-run" "$TMP/knot-db" "$TMP/knot-zones"
  fill "$HERE/knot/knot.conf" "${PORT[knot]}" "$TMP/knot.conf"
  cp "$HERE/zones/gslb.example.zone" "$TMP/knot-zones/"
  knotd -c "$TMP/knot.conf" >"$TMP/knot.log" 2>&1 &
  PID[knot]=$!
}

version_of() {
  local v=""
  case $1 in
    meridian) v=$("$BIN" --version 2>/dev/null || true) ;;
    gdnsd) v=$(gdnsd -V 2>&1 | grep -o 'gdnsd version [0-9.]*' || true) ;; # any bad option prints it
    knot) v=$(knotd --version 2>/dev/null || true) ;;
  esac
  printf '%s\n' "${v:-$1}" | head -1
}

for s in $SERVERS; do
  if ! python3 "$TOOL" port-free "${PORT[$s]}"; then
    STATUS[$s]="port ${PORT[$s]} in use"
    log "$s: not available (127.0.0.1:${PORT[$s]} is in use; set BENCH_PORT_${s^^})"
    continue
  fi
  if ! "start_$s" 2>"$TMP/$s.start.err"; then
    STATUS[$s]="not installed"
    log "$s: not available (not installed)"
    continue
  fi
  up=0
  for i in $(seq 30); do
    kill -0 "${PID[$s]}" 2>/dev/null || break
    if python3 "$TOOL" wait "${PORT[$s]}" static.gslb.example 1; then up=1; break; fi
  done
  if [ "$up" = 1 ]; then
    STATUS[$s]=ok
    log "$s: answering on 127.0.0.1:${PORT[$s]} (pid ${PID[$s]}, $(version_of "$s"))"
  else
    STATUS[$s]="failed to start"
    log "$s: not available (failed to start); last lines of its log:"
    tail -n 5 "$TMP/$s.log" >&2 || true
    stop_pid "${PID[$s]}"
    unset "PID[$s]"
  fi
done
[ "${STATUS[meridian]:-}" = ok ] || { log "meridian did not start; nothing to compare"; exit 1; }

# Same answers? Ask meridian and gdnsd the first 2,000 ECS queries of mix 3
# (and one without ECS) and compare the A records; stop if they differ, since
# the comparison would then not be like for like.
EQUIV="gdnsd not available: not compared"
if [ "${STATUS[gdnsd]:-}" = ok ]; then
  if EQUIV=$(python3 "$TOOL" compare "$TMP/ecs.bin" "${PORT[meridian]}" "${PORT[gdnsd]}" 2000); then
    log "meridian vs gdnsd: $EQUIV"
    EQUIV=$(head -1 <<<"$EQUIV")
  else
    log "meridian and gdnsd answer differently; fix the configs before comparing:"
    printf '%s\n' "$EQUIV" >&2
    exit 1
  fi
fi

# --- measuring -------------------------------------------------------------

MIXES="static geo geo-ecs"
CLK_TCK=$(getconf CLK_TCK)
RESULTS="$TMP/results.tsv"
: >"$RESULTS"

cpu_ticks() { # utime + stime of all threads of a process
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
child_ticks() { # CPU of this shell's finished children: dnsperf, once waited for
  awk '{print $16 + $17}' "/proc/$$/stat"
}

# dnsperf MIX PORT OUT [extra args...]
run_dnsperf() {
  local mix=$1 port=$2 out=$3
  shift 3
  local data=()
  case $mix in
    static) data=(-d "$TMP/static.txt") ;;
    geo) data=(-d "$TMP/geo.txt") ;;
    geo-ecs) data=(-B -d "$TMP/ecs.bin") ;;
  esac
  dnsperf -s 127.0.0.1 -p "$port" "${data[@]}" -c "$CLIENTS" -T "$THREADS" \
    -q "$OUTSTANDING" -t 2 -O suppress=timeouts "$@" >"$out" 2>&1 &
  DNSPERF_PID=$!
  local rc=0
  wait "$DNSPERF_PID" || rc=$?
  DNSPERF_PID=""
  return $rc
}

applicable() { # server mix
  [ "${STATUS[$1]:-}" = ok ] || return 1
  [ "$1" != knot ] || [ "$2" = static ]
}

machine_ticks() { # busy ticks of the whole machine (steal counts: time the host took)
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

# measure SERVER MIX OUT SECONDS [dnsperf args...]: one dnsperf run, and the
# CPU it cost: srv_cores, gen_cores (dnsperf), other_cores (everything else
# on the machine: other processes, interrupts, the hypervisor), cpu_us_q.
measure() {
  local s=$1 m=$2 out=$3 secs=$4
  shift 4
  local t0 t1 g0 g1 b0 b1
  t0=$(cpu_ticks "${PID[$s]}")
  g0=$(child_ticks)
  b0=$(machine_ticks)
  run_dnsperf "$m" "${PORT[$s]}" "$out" -l "$secs" "$@" || log "$s $m: dnsperf exited non-zero (see $out)"
  b1=$(machine_ticks)
  g1=$(child_ticks)
  t1=$(cpu_ticks "${PID[$s]}")
  eval "$(python3 "$TOOL" dnsperf-summary "$out")"
  read -r srv_cores gen_cores other_cores cpu_us_q < <(awk -v s=$((t1 - t0)) -v g=$((g1 - g0)) \
    -v b=$((b1 - b0)) -v hz="$CLK_TCK" -v t="$secs" -v n="$sent" 'BEGIN {
      o = (b - s - g) / hz / t; if (o < 0) o = 0
      printf "%.2f %.2f %.2f %s\n", s / hz / t, g / hz / t, o, (n > 0 ? sprintf("%.2f", s / hz * 1e6 / n) : "nan") }')
}

above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# wait_quiet: up to 30 s for a second in which the rest of the machine uses
# less than BUSY_LIMIT cores (our idle servers count, and use ~0).
wait_quiet() {
  local i b0 b1
  for i in $(seq 30); do
    b0=$(machine_ticks)
    sleep 1
    b1=$(machine_ticks)
    above "$(awk -v d=$((b1 - b0)) -v hz="$CLK_TCK" 'BEGIN { print d / hz }')" "$BUSY_LIMIT" || return 0
  done
  log "the machine stayed busy for 30 s; measuring anyway"
}

# measure_quiet: measure, and measure again (within the retry budget) when
# something else took more than BUSY_LIMIT cores during the run.
measure_quiet() {
  while :; do
    measure "$@"
    if above "$other_cores" "$BUSY_LIMIT" && [ "$RETRIES" -gt 0 ]; then
      RETRIES=$((RETRIES - 1))
      log "$1 $2: other processes used $other_cores cores during the run; measuring again ($RETRIES retries left)"
      wait_quiet
      continue
    fi
    return 0
  done
}

total_rows=0
for s in $SERVERS; do for m in $MIXES; do applicable "$s" "$m" && total_rows=$((total_rows + 1)); done; done
log "measuring: $total_rows server/mix pairs x ($WARMUP s warm-up + $RUNS x $SECS s), then $total_rows x $HALF_SECS s at a fixed rate"
wait_quiet
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average before measuring: $LOADAVG (anything else running skews the figures)"

# Runs are interleaved (run 1 of every server and mix, then run 2, ...), so
# a disturbance from outside hits the servers alike instead of one of them.
for i in $(seq "$RUNS"); do
  for m in $MIXES; do
    for s in $SERVERS; do
      applicable "$s" "$m" || continue
      if [ "$i" = 1 ] && [ "$WARMUP" -gt 0 ]; then
        run_dnsperf "$m" "${PORT[$s]}" "$TMP/warmup.out" -l "$WARMUP" || true
      fi
      out="$TMP/$s.$m.$i.out"
      measure_quiet "$s" "$m" "$out" "$SECS"
      printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$m" "$i" \
        "$qps" "$avg_ms" "$max_ms" "$sd_ms" "$sent" "$lost" "$noerror" "$cpu_us_q" "$codes" \
        "$srv_cores" "$gen_cores" "$other_cores" >>"$RESULTS"
      log "run $i $s $m: $(printf '%.0f' "$qps") qps, avg $avg_ms ms, lost $lost, cores: server $srv_cores dnsperf $gen_cores other $other_cores"
    done
  done
done

# Latency at a fixed offered rate: half of meridian's median QPS for the mix,
# the same rate for every server. dnsperf -v prints each answer's latency;
# benchtool.py computes the percentiles (dnsperf 2.10 has no histogram).
for m in $MIXES; do
  half=$(python3 "$TOOL" median-qps "$RESULTS" meridian "$m")
  half=$((half / 2))
  [ "$half" -gt 0 ] || continue
  for s in $SERVERS; do
    applicable "$s" "$m" || continue
    out="$TMP/$s.$m.half.out"
    measure_quiet "$s" "$m" "$out" "$HALF_SECS" -Q "$half" -v
    lat=$(python3 "$TOOL" latency "$out" | tr '\n' ' ')
    eval "$lat"
    printf 'half\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$m" "$half" \
      "$qps" "$avg_ms" "$p50_ms" "$p99_ms" "$p99_9_ms" "$max_ms" "$sent" "$lost" "$timeouts" "$noerror" \
      "$other_cores" >>"$RESULTS"
    log "$s $m at $half qps: p99 $p99_ms ms (other load $other_cores cores)"
    rm -f "$out"
  done
done

for s in "${!PID[@]}"; do
  rss=$(awk '/^VmHWM:/ {print $2}' "/proc/${PID[$s]}/status" 2>/dev/null || echo 0)
  printf 'rss\t%s\t%s\n' "$s" "$rss" >>"$RESULTS"
done
for s in $SERVERS; do
  printf 'server\t%s\t%s\t%s\n' "$s" "${STATUS[$s]:-not run}" "$(version_of "$s")" >>"$RESULTS"
done

# --- the table -------------------------------------------------------------

python3 "$TOOL" report "$RESULTS" \
  "runs=$RUNS" "seconds=$SECS" "warmup=$WARMUP" "half_seconds=$HALF_SECS" \
  "clients=$CLIENTS" "threads=$THREADS" "outstanding=$OUTSTANDING" \
  "geo_nets=$GEO_NETS" "geo_nets6=$GEO_NETS6" "ecs_subnets=$ECS_SUBNETS" \
  "dnsperf=dnsperf $(dnsperf -h 2>&1 | grep -o 'Version [0-9.]*' | head -1 | cut -d' ' -f2)" \
  "equivalence=$EQUIV" "loadavg=$LOADAVG" "busy_limit=$BUSY_LIMIT" \
  "retries_used=$((${BENCH_RETRIES:-6} - RETRIES))"

#!/usr/bin/env bash
# Soak: dnsperf at a steady rate for minutes against a demo-like
# configuration while monitored backends flap (200 <-> 503), pool weights and
# region overrides flip through the admin API, and reloads run. Reports the
# answered share (1 - lost/sent), SERVFAILs, latency percentiles and the
# server's RSS at start and end. Exits non-zero when a query was lost, a
# SERVFAIL was seen, or RSS grew more than the allowed amount.
#
# Settings (environment):
#   SOAK_MINUTES=3        how long dnsperf runs
#   SOAK_QPS=5000         dnsperf -Q (steady rate)
#   SOAK_PORT=15399 SOAK_ADMIN_PORT=18399 SOAK_BACKEND_PORTS="18481 18482"
#   SOAK_WARMUP=15        seconds of load before the "start" RSS is taken
#   SOAK_RSS_SLACK_KB=8192  allowed RSS growth from start to end (KiB), on top
#                           of 10% of the start value
#   SOAK_BIN              the meridian binary (default: target/release/meridian,
#                         built with cargo build --release)
#   SOAK_KEEP=1           keep the temporary directory (logs, dnsperf output)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
MINUTES=${SOAK_MINUTES:-3}
QPS=${SOAK_QPS:-5000}
PORT=${SOAK_PORT:-15399}
ADMIN_PORT=${SOAK_ADMIN_PORT:-18399}
read -r BACKEND_A BACKEND_B <<<"${SOAK_BACKEND_PORTS:-18481 18482}"
WARMUP=${SOAK_WARMUP:-15}
RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-8192}
SECONDS_TOTAL=$((MINUTES * 60))

log() { printf '[soak] %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { log "missing $1 (apt-get install $2)"; exit 2; }; }
need dnsperf dnsperf
need curl curl
need python3 python3

if [ -n "${SOAK_BIN:-}" ]; then
  BIN=$SOAK_BIN
else
  log "building meridian (release)"
  (cd "$ROOT" && cargo build --release --locked -q)
  BIN="$ROOT/target/release/meridian"
fi

WORK=$(mktemp -d /tmp/meridian-soak.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${SOAK_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- backends that flap ------------------------------------------------------
# Each answers GET / with 200 or 503, switching every FLAP seconds; the two
# are out of phase, so at most times one region is failing.
cat >"$WORK/backend.py" <<'EOF'
import http.server, sys, time
port, flap, phase = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        up = (int(time.time() / flap) + phase) % 2 == 0
        body = b"ok\n" if up else b"down\n"
        try:
            self.send_response(200 if up else 503)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the prober gave up (timeout) and closed: fine
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
python3 "$WORK/backend.py" "$BACKEND_A" 7 0 & PIDS+=($!)
python3 "$WORK/backend.py" "$BACKEND_B" 11 1 & PIDS+=($!)

# --- configuration -------------------------------------------------------------
"$BIN" geoip build "$ROOT/geoip/demo.csv" -o "$WORK/demo.mmdb" >/dev/null
cp "$ROOT/zones/gslb.example.zone" "$WORK/"
mkdir -p "$WORK/var"
cat >"$WORK/soak.yaml" <<EOF
dns:
  listen: ["127.0.0.1:$PORT"]
  max_udp_payload: 1232
admin:
  listen: "127.0.0.1:$ADMIN_PORT"
state_file: var/state.json
geoip:
  database: demo.mmdb
  ecs: true
regions:
  us-east:      { location: [39.04, -77.49] }
  eu-west:      { location: [53.35, -6.26] }
  ap-northeast: { location: [35.68, 139.69] }
monitors:
  web:
    type: http
    path: /
    interval: 1s
    timeout: 500ms
    rise: 1
    fall: 1
geo_maps:
  world:
    countries:
      JP: [ap-northeast, us-east]
    continents:
      EU: [eu-west, us-east]
      NA: [us-east, eu-west]
      AS: [[ap-northeast, us-east], eu-west]
    default: nearest
zones:
  - origin: gslb.example.
    file: gslb.example.zone
    services:
      www:
        ttl: 30
        policy: geo
        map: world
        max_answers: 2
        pools:
          us-east:
            endpoints: [192.0.2.10, 192.0.2.11, "2001:db8:1::10"]
          eu-west:
            monitor: web
            endpoints:
              - { address: 198.51.100.10, probe: "127.0.0.1:$BACKEND_B" }
              - { address: 198.51.100.11, probe: "127.0.0.1:$BACKEND_B" }
          ap-northeast:
            monitor: web
            endpoints:
              - { address: 203.0.113.10, probe: "127.0.0.1:$BACKEND_A" }
              - { address: "2001:db8:3::10", probe: "127.0.0.1:$BACKEND_A" }
      api:
        ttl: 20
        policy: failover
        pools:
          ap-northeast:
            monitor: web
            endpoints:
              - { address: 203.0.113.20, probe: "127.0.0.1:$BACKEND_A" }
          us-east:
            endpoints: [192.0.2.20]
      split:
        policy: weighted
        pools:
          us-east: { weight: 100, endpoints: [192.0.2.30] }
          eu-west: { weight: 100, endpoints: [198.51.100.30] }
          ap-northeast:
            weight: 100
            monitor: web
            endpoints:
              - { address: 203.0.113.30, probe: "127.0.0.1:$BACKEND_A" }
EOF
"$BIN" check -c "$WORK/soak.yaml" >/dev/null

"$BIN" run -c "$WORK/soak.yaml" 2>"$WORK/meridian.log" & MPID=$!
PIDS+=("$MPID")
for _ in $(seq 1 100); do
  if dig +time=1 +tries=1 -p "$PORT" @127.0.0.1 static.gslb.example A +short 2>/dev/null | grep -q 192.0.2.1; then
    break
  fi
  sleep 0.1
done
kill -0 "$MPID" 2>/dev/null || { log "meridian did not start:"; cat "$WORK/meridian.log" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$MPID/status"; }

# --- queries --------------------------------------------------------------------
cat >"$WORK/queries" <<'EOF'
www.gslb.example A
www.gslb.example AAAA
api.gslb.example A
split.gslb.example A
static.gslb.example A
static.gslb.example TXT
alias.gslb.example A
x.wild.gslb.example A
host.lab.gslb.example A
nope.gslb.example A
gslb.example SOA
gslb.example NS
EOF

# --- churn: weights, overrides, reloads ------------------------------------------
API="http://127.0.0.1:$ADMIN_PORT"
churn() {
  local i=0 ok=0 fail=0
  while true; do
    i=$((i + 1))
    local w=$(( (i * 337) % 1001 ))
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT \
      -H 'content-type: application/json' --data-binary "{\"weight\":$w}" \
      "$API/v1/services/split.gslb.example./pools/eu-west/weight") || code=000
    [ "$code" = 200 ] && ok=$((ok + 1)) || fail=$((fail + 1))
    if [ $((i % 3)) = 0 ]; then
      local st=$([ $((i % 2)) = 0 ] && echo down || echo auto)
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT \
        -H 'content-type: application/json' --data-binary "{\"state\":\"$st\"}" \
        "$API/v1/regions/us-east/override") || code=000
      [ "$code" = 200 ] && ok=$((ok + 1)) || fail=$((fail + 1))
    fi
    if [ $((i % 5)) = 0 ]; then
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
        -H 'content-type: application/json' "$API/v1/reload") || code=000
      [ "$code" = 200 ] && ok=$((ok + 1)) || fail=$((fail + 1))
    fi
    echo "$ok $fail" >"$WORK/churn.count"
    sleep 1
  done
}
churn & PIDS+=($!)

# RSS every 10 s, for the record.
( while kill -0 "$MPID" 2>/dev/null; do echo "$(date +%s) $(rss)"; sleep 10; done ) >"$WORK/rss.log" & PIDS+=($!)

log "dnsperf -Q $QPS for ${MINUTES} min against 127.0.0.1:$PORT (ECS 203.0.113.0/24 on half the clients)"
# Two dnsperf instances at half the rate each: one with an ECS option (a JP
# subnet, so the flapping ap-northeast pools decide www/api), one without.
ECS_OPT="8:00011800cb0071"   # family 1, source /24, scope 0, 203.0.113
half=$((QPS / 2))
dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/queries" -l "$SECONDS_TOTAL" -Q "$half" \
  -c 4 -q 500 -t 2 -e -E "$ECS_OPT" -v >"$WORK/dnsperf-ecs.out" 2>&1 & DP1=$!
dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/queries" -l "$SECONDS_TOTAL" -Q "$((QPS - half))" \
  -c 4 -q 500 -t 2 -v >"$WORK/dnsperf-plain.out" 2>&1 & DP2=$!
PIDS+=("$DP1" "$DP2")

sleep "$WARMUP"
RSS_START=$(rss)
wait "$DP1" || true
wait "$DP2" || true
RSS_END=$(rss)
ALIVE=yes
kill -0 "$MPID" 2>/dev/null || ALIVE=no
read -r CHURN_OK CHURN_FAIL <"$WORK/churn.count" || { CHURN_OK=0; CHURN_FAIL=0; }

# --- report -------------------------------------------------------------------------
python3 - "$WORK" "$RSS_START" "$RSS_END" "$RSS_SLACK_KB" "$ALIVE" "$CHURN_OK" "$CHURN_FAIL" "$QPS" "$MINUTES" <<'EOF'
import re, sys
work, rss_start, rss_end, slack, alive, churn_ok, churn_fail, qps, minutes = sys.argv[1:]
rss_start, rss_end, slack = int(rss_start), int(rss_end), int(slack)
sent = lost = 0
rcodes = {}
lat = []
for name in ("dnsperf-ecs.out", "dnsperf-plain.out"):
    for line in open(f"{work}/{name}", errors="replace"):
        # -v lines: "> NOERROR www.gslb.example A 0.000123"
        if line.startswith(">"):
            parts = line.split()
            if len(parts) >= 2:
                rcodes[parts[1]] = rcodes.get(parts[1], 0) + 1
                try:
                    lat.append(float(parts[-1]))
                except ValueError:
                    pass
        m = re.match(r"\s*Queries sent:\s+(\d+)", line)
        if m:
            sent += int(m.group(1))
        m = re.match(r"\s*Queries lost:\s+(\d+)", line)
        if m:
            lost += int(m.group(1))
lat.sort()
def pct(p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else float("nan")
answered = 100.0 * (1 - lost / sent) if sent else 0.0
servfail = rcodes.get("SERVFAIL", 0)
rss_peak = max([int(l.split()[1]) for l in open(f"{work}/rss.log") if len(l.split()) == 2] or [rss_end])
growth = rss_end - rss_start
limit = rss_start // 10 + slack
print(f"soak: {minutes} min at {qps} qps")
print(f"  queries sent      {sent}")
print(f"  queries lost      {lost}")
print(f"  answered          {answered:.4f} %")
print(f"  response codes    " + ", ".join(f"{k} {v}" for k, v in sorted(rcodes.items())))
print(f"  SERVFAIL          {servfail}")
print(f"  latency ms        p50 {pct(0.50):.3f}  p99 {pct(0.99):.3f}  p99.9 {pct(0.999):.3f}  max {(lat[-1]*1000 if lat else float('nan')):.3f}")
print(f"  RSS KiB           start {rss_start}  end {rss_end}  peak {rss_peak}  growth {growth:+d} (allowed {limit})")
print(f"  admin changes     {churn_ok} ok, {churn_fail} failed (weights, overrides, reloads)")
print(f"  server alive      {alive}")
ok = sent > 0 and lost == 0 and servfail == 0 and growth <= limit and alive == "yes" and churn_fail == "0"
print("  result            " + ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
EOF

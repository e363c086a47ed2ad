#!/usr/bin/env bash
# `make cluster-demo`: one etcd and three meridian instances on loopback
# sharing overrides (docs/operations.md). Drains us-east on ns1 and shows
# ns2 and ns3 answering from eu-west a moment later, then puts it back.
# Then a rolling deploy (docs/operator-guide.md): three web instances
# registered in etcd are drained one at a time on a different meridian
# each, with the drain report saying when each may be stopped.
# Everything runs in a temporary directory and is stopped on exit.
#
# Needs: etcd (Debian etcd-server), dig, curl, and a built meridian
# (MERIDIAN=path, default target/release/meridian).
set -euo pipefail
cd "$(dirname "$0")/.."

MERIDIAN=${MERIDIAN:-target/release/meridian}
ETCD_PORT=${ETCD_PORT:-23790}
DNS_BASE=${DNS_BASE:-5310}      # ns1 on 5311, ns2 on 5312, ns3 on 5313
ADMIN_BASE=${ADMIN_BASE:-8060}  # ns1 on 8061, ...

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # what, command...
    local what=$1; shift
    for _ in $(seq 1 100); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "gave up waiting for $what (logs in $work)" >&2
    exit 1
}

echo "== etcd on 127.0.0.1:$ETCD_PORT"
etcd --name demo --data-dir "$work/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "demo=http://127.0.0.1:$((ETCD_PORT + 1))" \
    >"$work/etcd.log" 2>&1 &
pids+=($!)
wait_for etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"

cp zones/gslb.example.zone "$work/"
for i in 1 2 3; do
    cat >"$work/ns$i.yaml" <<YAML
dns:
  listen: ["127.0.0.1:$((DNS_BASE + i))"]
  nsid: ns$i
admin:
  listen: "127.0.0.1:$((ADMIN_BASE + i))"
state_file: ns$i.state.json
cluster:
  endpoints: ["http://127.0.0.1:$ETCD_PORT"]
  instance: ns$i
regions:
  us-east: {}
  eu-west: {}
zones:
  - origin: gslb.example.
    file: gslb.example.zone
    services:
      api:
        policy: failover
        pools:
          us-east: { endpoints: [192.0.2.20] }
          eu-west: { endpoints: [198.51.100.20] }
      www:
        policy: failover
        ttl: 3
        max_answers: 3
        pools:
          us-east:
            discover: { etcd: { prefix: "/services/www/us-east/" } }
          eu-west: { endpoints: [198.51.100.10] }
YAML
    "$MERIDIAN" run -c "$work/ns$i.yaml" >"$work/ns$i.log" 2>&1 &
    pids+=($!)
    echo "== ns$i: DNS 127.0.0.1:$((DNS_BASE + i)), admin http://127.0.0.1:$((ADMIN_BASE + i))"
done
for i in 1 2 3; do
    wait_for "ns$i" curl -sf "http://127.0.0.1:$((ADMIN_BASE + i))/readyz"
done

answers() {
    local i
    for i in 1 2 3; do
        printf '   ns%s: %s\n' "$i" \
            "$(dig +short +time=1 +tries=1 -p $((DNS_BASE + i)) @127.0.0.1 api.gslb.example A)"
    done
}

echo
echo "== api.gslb.example from each instance (us-east is 192.0.2.20):"
answers
echo
echo "== drain us-east on ns1 only:"
echo "   curl -X PUT -H 'content-type: application/json' -d '{\"state\": \"down\"}' http://127.0.0.1:$((ADMIN_BASE + 1))/v1/regions/us-east/override"
curl -s -X PUT -H 'content-type: application/json' -d '{"state": "down"}' "http://127.0.0.1:$((ADMIN_BASE + 1))/v1/regions/us-east/override"
echo
sleep 1
echo "== one second later, every instance answers from eu-west (198.51.100.20):"
answers
echo
echo "== the overrides as ns3 sees them (revision = etcd's):"
curl -s "http://127.0.0.1:$((ADMIN_BASE + 3))/v1/overrides"
echo
echo
echo "== back to auto, this time on ns2:"
curl -s -X PUT -H 'content-type: application/json' -d '{"state": "auto"}' "http://127.0.0.1:$((ADMIN_BASE + 2))/v1/regions/us-east/override" >/dev/null
sleep 1
answers

ctl() { ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$ETCD_PORT" "$@"; }
register() { # n
    ctl put "/services/www/us-east/web$1" \
        "{\"Addr\":\"192.0.2.3$1:8080\",\"Metadata\":{\"labels\":{\"rack\":\"r$1\",\"version\":\"$2\"}}}" >/dev/null
}
www() {
    local i
    for i in 1 2 3; do
        printf '   ns%s: %s\n' "$i" \
            "$(dig +short +time=1 +tries=1 -p $((DNS_BASE + i)) @127.0.0.1 www.gslb.example A | sort | tr '\n' ' ')"
    done
}

echo
echo "== rolling deploy: web1..web3 (192.0.2.31..33) register in etcd"
for n in 1 2 3; do register "$n" v1; done
sleep 1
www
for n in 1 2 3; do
    i=$(( (n - 1) % 3 + 1 ))
    echo
    echo "== drain web$n (rack r$n) on ns$i:"
    echo "   curl -X PUT -H 'content-type: application/json' -d '{\"labels\": {\"rack\": \"r$n\"}, \"state\": \"drain\", \"for\": \"10m\"}' .../v1/endpoints/override"
    curl -s -X PUT -H 'content-type: application/json' \
        -d "{\"labels\": {\"rack\": \"r$n\"}, \"state\": \"drain\", \"for\": \"10m\"}" \
        "http://127.0.0.1:$((ADMIN_BASE + i))/v1/endpoints/override" >/dev/null
    sleep 0.5
    echo "   every instance stops handing it out:"
    www
    echo "   wait until the last answer naming it has expired (TTL 3s), on ns$(( i % 3 + 1 )):"
    curl -s "http://127.0.0.1:$((ADMIN_BASE + i % 3 + 1))/v1/drains/endpoint:192.0.2.3$n?wait=30s" |
        sed 's/^/   /'
    echo
    echo "   stop web$n, deploy v2, register it again and clear the drain:"
    ctl del "/services/www/us-east/web$n" >/dev/null
    register "$n" v2
    curl -s -X DELETE -H 'content-type: application/json' "http://127.0.0.1:$((ADMIN_BASE + i))/v1/endpoints/192.0.2.3$n/override" >/dev/null
    sleep 0.5
    www
done
echo
echo "Logs were in $work (removed on exit)."

#!/usr/bin/env bash
# Start-up time and memory with a large GeoIP database: generates N4 IPv4
# and N6 IPv6 networks (bench/benchtool.py csv), builds the database, then
# for each BIN (or the word `gdnsd`) times the start to its listening line
# and prints VmHWM and VmRSS from /proc. Issue 20's load figures.
#
#   bash bench/startup-db.sh N4 N6 BIN... [gdnsd]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
N4=$1 N6=$2
shift 2
T=$(mktemp -d "${TMPDIR:-/tmp}/meridian-startup.XXXXXX")
trap 'rm -rf "$T"' EXIT
python3 "$HERE/benchtool.py" csv "$N4" "$N6" "$T/bench.csv" >/dev/null
"$ROOT/target/release/meridian" geoip build "$T/bench.csv" -o "$T/bench.mmdb" >/dev/null
sed -e "s#@PORT@#15396#g" "$HERE/meridian.yaml" >"$T/meridian.yaml"
cp "$HERE/zones/gslb.example.zone" "$T/"
for bin in "$@"; do
  rm -f "$T/log"
  start=$(date +%s%N)
  if [ "$bin" = gdnsd ]; then
    rm -rf "$T/gdnsd" && cp -r "$HERE/gdnsd" "$T/gdnsd"
    sed -e "s#@PORT@#15396#g" -e "s#@DIR@#$T/gdnsd#g" "$HERE/gdnsd/config" >"$T/gdnsd/config"
    ln -sf "$T/bench.mmdb" "$T/gdnsd/bench.mmdb"
    gdnsd -c "$T/gdnsd" start >"$T/log" 2>&1 &
    ready="DNS listeners started"
  else
    "$bin" run -c "$T/meridian.yaml" >"$T/log" 2>&1 &
    ready="listening for DNS on UDP"
  fi
  pid=$!
  for _ in $(seq 1200); do grep -q "$ready" "$T/log" 2>/dev/null && break; sleep 0.05; done
  end=$(date +%s%N)
  mem=$(grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' ')
  echo "$bin: start $(( (end - start) / 1000000 )) ms; $mem"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

#!/usr/bin/env bash
# The 16-core bench with a thread sampler (issue 20: where the server's
# threads run and how much CPU each gets). Copy into .devbench/ after
# ../shared/device-bench/bundle.sh, then on the 16-core machine:
#   bash .devbench/device-threads.sh      (SERVERS, THREADS, LEN as run.sh)
# Every 2 s it writes each server thread's id, the CPU it last ran on and
# its CPU time so far to $OUT/threads.txt; equal growth per listener thread
# means the load is spread evenly.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
( while sleep 2; do
    for p in $(pgrep -f 'bin/meridian run|bin/gdnsd|bin/knotd|bin/echo '); do
      echo "== t=$(date +%s.%N | cut -c1-14) pid=$p $(tr '\0' ' ' </proc/"$p"/cmdline | cut -c1-60)"
      ps -L -o tid=,psr=,time=,comm= -p "$p"
      grep -E 'ctxt' /proc/"$p"/status
    done
  done ) > "$OUT/threads.txt" 2>&1 &
S=$!
SERVERS="${SERVERS:-echo meridian gdnsd knot}" bash "$(dirname "$0")/run.sh"
kill $S

#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 60), one after another.
# Exits 1 as soon as a target finds a crash (the reproducer is in
# fuzz/artifacts/<target>/), 2 when a target does not build. Usage: fuzz/run.sh [SECONDS] [TARGET...]
#
# Toolchain: cargo-fuzz needs unstable rustc flags (-Zsanitizer, sancov).
# A nightly toolchain is used when rustup has one; otherwise the stable one
# with RUSTC_BOOTSTRAP=1 (which lets stable rustc accept those flags);
# FUZZ_TOOLCHAIN=stable|nightly forces one.
# FUZZ_SANITIZER=address|none (default address), FUZZ_JOBS=N (default 1).
# FUZZ_KEEP=1|0 (default 1): after each run, merge what it found into the
# committed corpus (fuzz/corpus/<target>/, only inputs that add coverage),
# so the corpus in the repository grows with every run; commit it.
set -euo pipefail

cd "$(dirname "$0")"
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(packet config geoip_csv admin state_file)
fi
SANITIZER=${FUZZ_SANITIZER:-address}
JOBS=${FUZZ_JOBS:-1}
KEEP=${FUZZ_KEEP:-1}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# FUZZ_TOOLCHAIN=nightly|stable picks one; by default nightly when rustup
# has it. Switching rebuilds everything (an hour on a small machine).
TOOLCHAIN=()
CHOICE=${FUZZ_TOOLCHAIN:-}
if [ -z "$CHOICE" ]; then
  CHOICE=stable
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    CHOICE=nightly
  fi
fi
if [ "$CHOICE" = nightly ]; then
  TOOLCHAIN=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

for t in "${TARGETS[@]}"; do
  if ! cargo "${TOOLCHAIN[@]}" fuzz build -O -s "$SANITIZER" "$t"; then
    echo "!! $t: the fuzz target does not build" >&2
    exit 2
  fi
done

# -jobs/-workers only when asked for: with them libFuzzer runs its workers
# as children that log to fuzz-N.log instead of the terminal.
PARALLEL=()
if [ "$JOBS" -gt 1 ]; then
  PARALLEL=(-jobs="$JOBS" -workers="$JOBS")
fi

status=0
for t in "${TARGETS[@]}"; do
  # New inputs go to corpus-new/ (ignored by git); corpus/ is the committed
  # seed corpus and is only read.
  mkdir -p "corpus-new/$t" "corpus/$t"
  echo "== fuzz $t for ${SECONDS_EACH}s (sanitizer $SANITIZER, ${TOOLCHAIN[*]:-stable+RUSTC_BOOTSTRAP})"
  if ! cargo "${TOOLCHAIN[@]}" fuzz run -O -s "$SANITIZER" "$t" "corpus-new/$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      "${PARALLEL[@]}" -print_final_stats=1; then
    echo "!! $t: crash or failure; reproducer under fuzz/artifacts/$t/" >&2
    status=1
    break
  fi
  if [ "$KEEP" = 1 ]; then
    echo "== merge new inputs of $t into corpus/$t (only those that add coverage)"
    cargo "${TOOLCHAIN[@]}" fuzz run -O -s "$SANITIZER" "$t" "corpus/$t" "corpus-new/$t" -- \
      -merge=1 -timeout=10 -rss_limit_mb=2048 >"corpus-new/$t.merge.log" 2>&1 ||
      echo "!! $t: merge failed, see fuzz/corpus-new/$t.merge.log" >&2
  fi
done
exit $status

#!/usr/bin/env bash
# Benchmark of `hsp check` (not a test): generates a synthetic registry of
# SERVICES x VERSIONS documents (default 10,000 x 10) and times a release build of
# `hsp check` on it, RUNS times each with one thread (RAYON_NUM_THREADS=1) and with
# all cores, printing the median wall time and documents per second.
#
#   benches/check.sh [SERVICES] [VERSIONS] [RUNS]
#
# The registry is kept in ${HSP_BENCH_DIR:-/tmp/hsp-bench-registry-SxV} and reused.
#
# Measured 2026-12-07 17:35 UTC, `benches/check.sh 10000 10 5`, load 0.5: 2 cores
# 2.48 s = 40,400 docs/s (3.84 CPU-s = 26,100 docs/CPU-s); 1 thread 4.00 s =
# 25,000 docs/s (3.99 CPU-s). (2026-11-26, at load 5.6 and before the replica,
# key and externals rules: 2 cores 31,300 docs/s, 1 thread 27,500 docs/s.)
set -euo pipefail
cd "$(dirname "$0")/.."
services=${1:-10000}
versions=${2:-10}
runs=${3:-5}
dir=${HSP_BENCH_DIR:-/tmp/hsp-bench-registry-${services}x${versions}}
docs=$((services * versions))

if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  python3 benches/gen_registry.py "$dir" "$services" "$versions" >&2
  touch "$dir/.complete"
fi
cargo build --release -q -p hsp
hsp=target/release/hsp
# Warm the page cache and make sure the registry is clean (exit 0).
"$hsp" check -q --no-signatures "$dir"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# Wall time is what a user waits; CPU time (user + sys) is what the work costs,
# and is the figure to read on a machine busy with other work.
measure() { # label, env...
  local label=$1; shift
  local walls=() cpus=() t
  for _ in $(seq "$runs"); do
    t=$( { TIMEFORMAT='%R %U %S'; time env "$@" "$hsp" check -q --no-signatures "$dir" 2>/dev/null; } 2>&1 )
    walls+=("$(echo "$t" | awk '{print $1}')")
    cpus+=("$(echo "$t" | awk '{print $2 + $3}')")
  done
  local w c
  w=$(printf '%s\n' "${walls[@]}" | median)
  c=$(printf '%s\n' "${cpus[@]}" | median)
  printf '%-9s %d docs: median wall %.2f s = %6.0f docs/s; median CPU %.2f s = %6.0f docs/CPU-s (walls: %s)\n' \
    "$label" "$docs" "$w" "$(awk -v n="$docs" -v t="$w" 'BEGIN {print n / t}')" \
    "$c" "$(awk -v n="$docs" -v t="$c" 'BEGIN {print n / t}')" "${walls[*]}"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
measure "1 thread" RAYON_NUM_THREADS=1
measure "$(nproc) cores" RAYON_NUM_THREADS="$(nproc)"

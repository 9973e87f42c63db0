#!/usr/bin/env bash
# Benchmark of `hsp build` (the index, not the website) on a synthetic registry:
# P publishers x S services x V versions (~2.3 KB documents, each publisher
# signed with its own key), as in issue 3. Prints medians of RUNS runs:
# full build time and peak RSS (--no-cache: every document read and checked,
# into a new OUT), rebuild time after one document changed (re-signed; the
# content-hash cache beside OUT in WORKDIR/.hsp_cache), metadata sizes; then
# one full build with the website.
#
#   benches/index.sh [WORKDIR]       (env: P=200 S=50 V=10 RUNS=3)
#
# WORKDIR keeps the generated registry between runs (default: a temp folder).
# Full builds go to new folders, kept until the next run (see below).
#
# Measured 2026-11-26 15:33 UTC (2 cores, quiet: load 0.3-0.8), RUNS=5 medians,
# `RUNS=5 benches/index.sh /tmp/hspbench`, 100,000 documents:
# full build 3.17 s wall / 4.33 s CPU, peak RSS 229 MB (13:14: 4.30 s, 338 MB;
# session start: 8.7 s, 1.22 GB); rebuild after one changed and re-signed
# document 0.55 s wall / 0.90 s CPU, 260 MB (17:02, with per-folder records:
# 0.20 s wall / 0.34 s CPU, 97 MB, 1 document read, 10,000 service API files
# reused; a manual full build right after: 3.29 s, 4.66 s CPU, 226 MB); with the
# website 9.2 s, 951 MB; timestamp 488 B, snapshot 9,130 B, largest metadata
# top-level targets 78,449 B. Full builds right after a run that deleted its
# outputs took 3.5-9.0 s (the ext4 effect above). See ARCHITECTURE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${P:-200} S=${S:-50} V=${V:-10} RUNS=${RUNS:-3}
W=${1:-$(mktemp -d)}
mkdir -p "$W"
cargo build --release -q -p hsp
HSP=$PWD/target/release/hsp
T0=$(date +%s)

if [ ! -f "$W/repo/registry.json" ]; then
  echo "generating $P x $S x $V documents in $W/repo ..." >&2
  rm -rf "$W/repo" "$W/keys" "$W/pkeys" "$W/init"
  mkdir -p "$W/pkeys"
  for i in $(seq 0 $((P - 1))); do "$HSP" keygen --out "$W/pkeys/bench$i.key" >/dev/null 2>&1; done
  python3 benches/synth.py "$W/repo" --keys "$W/pkeys" --publishers "$P" --services "$S" --versions "$V"
  "$HSP" init "$W/init" --keys "$W/keys" --name bench 2>/dev/null
  mkdir -p "$W/repo/keys" && cp "$W/init/keys/1.root.json" "$W/repo/keys/"
  seq 0 $((P - 1)) | xargs -P 2 -I{} "$HSP" sign --key "$W/pkeys/bench{}.key" "$W/repo/publishers/bench{}" 2>/dev/null
fi
echo "documents: $(find "$W/repo/publishers" -path '*/services/*.json' | wc -l)" >&2

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { # OUTFILE args... -> "seconds maxrss_kb cpu_seconds" on the last line of OUTFILE.err
  local out=$1; shift
  /usr/bin/time -f "%e %M %U %S" "$@" >"$out.json" 2>"$out.err"
}

# Outputs of an earlier run are deleted first, then the run waits 5 minutes:
# ext4 skips inodes deleted in the last minutes when it allocates new ones,
# which makes creating 110,000 files several times slower (measured: 3.5 s
# becomes 5-9 s). Outputs are kept at the end for the same reason.
if compgen -G "$W/out-*" >/dev/null || [ -e "$W/site-out" ]; then
  rm -rf "$W"/out-* "$W"/site-out
  sync
  echo "deleted the previous outputs; waiting 300 s for the file system to settle ..." >&2
  sleep 300
fi
for r in $(seq 1 "$RUNS"); do
  timed "$W/full-$r" "$HSP" build "$W/repo" --keys "$W/keys" --out "$W/out-$T0-$r" --no-site --json --no-cache --now $((T0 + r))
done
for r in $(seq 1 "$RUNS"); do
  doc="$W/repo/publishers/bench7/services/com.bench7.svc3/1.4.0.json"
  # A new text each run (the repo persists between benchmarks).
  sed -i -E "s/\"release_notes\": \"[^\"]*\"/\"release_notes\": \"Release $T0-$r.\"/" "$doc"
  grep -q "Release $T0-$r\." "$doc" || { echo "the change did not apply to $doc" >&2; exit 1; }
  "$HSP" sign --key "$W/pkeys/bench7.key" "$W/repo/publishers/bench7" 2>/dev/null
  sync
  timed "$W/re-$r" "$HSP" build "$W/repo" --keys "$W/keys" --out "$W/out-$T0-1" --no-site --json --now $((T0 + 100 + r))
done
timed "$W/site" "$HSP" build "$W/repo" --keys "$W/keys" --out "$W/site-out" --json --no-cache --now $((T0 + 200))

field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
full_s=$(for r in $(seq 1 "$RUNS"); do tail -1 "$W/full-$r.err" | cut -d' ' -f1; done | median)
full_mb=$(for r in $(seq 1 "$RUNS"); do tail -1 "$W/full-$r.err" | cut -d' ' -f2; done | median)
re_s=$(for r in $(seq 1 "$RUNS"); do tail -1 "$W/re-$r.err" | cut -d' ' -f1; done | median)
re_mb=$(for r in $(seq 1 "$RUNS"); do tail -1 "$W/re-$r.err" | cut -d' ' -f2; done | median)
cpu() { for r in $(seq 1 "$RUNS"); do tail -1 "$W/$1-$r.err" | awk '{print $3 + $4}'; done | median; }
echo "full build (index only):  median ${full_s} s (CPU $(cpu full) s), peak RSS $((full_mb / 1024)) MB  (runs: $RUNS)"
echo "rebuild after one change: median ${re_s} s (CPU $(cpu re) s), peak RSS $((re_mb / 1024)) MB, documents read $(field "$W/re-1.json" 'd["documents_read"]'), API files reused $(field "$W/re-1.json" 'd["api_files_reused"]')"
echo "load during the runs:     $(uptime | sed 's/.*average: //')"
echo "full build with website:  $(tail -1 "$W/site.err" | awk '{printf "%s s (CPU %.2f s), peak RSS %d MB", $1, $3 + $4, $2/1024}')"
echo "phases of full run 1:     $(field "$W/full-1.json" 'd["phases"]')"
echo "phases of rebuild 1:      $(field "$W/re-1.json" 'd["phases"]')"
echo "sizes: timestamp $(field "$W/full-1.json" 'd["timestamp_bytes"]') B, snapshot $(field "$W/full-1.json" 'd["snapshot_bytes"]') B, top-level targets $(field "$W/full-1.json" 'd["targets_bytes"]') B, largest $(field "$W/full-1.json" 'd["largest_metadata"]')"

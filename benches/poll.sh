#!/usr/bin/env bash
# Benchmark of the hsp-agent TUF updater (issue 5) against the synthetic index
# of benches/synth.py (P publishers x S services x V versions, each
# publisher signed with its own key), built with `hsp build` and served by
# python's http.server on 127.0.0.1, side by side with python-tuf's ngclient.
# Prints medians of RUNS runs:
#   - full (cold) refresh as a process: hsp-agent vs python-tuf, time and bytes
#   - idle poll as a process (nothing changed): time, CPU, bytes; python-tuf too
#   - idle poll in-process (cargo bench poll): wall, CPU, bytes, RSS between polls
#   - resident memory of a real `hsp-agent run` (30 services) between polls
#   - poll after an unrelated publisher changed: bytes (agent that already
#     read one service of another publisher)
#
#   benches/poll.sh [WORKDIR]     (env: P=200 S=50 V=10 RUNS=5)
#
# WORKDIR keeps the generated registry between runs (default: a temp folder);
# it is compatible with benches/index.sh's WORKDIR.
#
# Measured 2026-11-26 13:18 (2 cores, quiet machine: load ~1, release build, RUNS=5,
# medians; hash-bin layout: snapshot 9,130 B, top-level targets 78,449 B):
#   full refresh as a process  hsp-agent 8.2 ms (cpu 5.9 ms, 88,067 B, max RSS 11 MB)
#                              python-tuf ngclient 125 ms (cpu 123 ms): 15x wall, 21x cpu
#   idle poll as a process     hsp-agent 6.1 ms (cpu 4.5 ms, 0 B body: 2.root.json 404 +
#                              timestamp 304); python-tuf ngclient 121 ms: 20x
#   idle poll in-process       0.74 ms wall, 0.15 ms CPU, 0 B, 2 requests; RSS 2.4 MB at
#                              start, 5.1 MB after the first refresh and after 200 polls
#                              python-tuf ngclient (new Updater per poll) 8.5 ms, 7.7 ms CPU
#   hsp-agent run, 30 services VmRSS 7.6 MB between polls (each poll runs in a child
#                              process; 15.5 MB when polls ran in the daemon)
#   poll after an unrelated publisher changed  9,618 B (timestamp + snapshot only); the
#                              unchanged service re-read afterwards: 0 B
# The process wall times swing with load: with 15 runs at load 8 (target/bench-agent,
# same server) full refresh 25 ms vs python-tuf 526 ms; at load 6, 15.7 ms vs 172 ms.
# Before the hash-bin layout and the canonical-JSON writer (session 1): full refresh
# 0.10 s, 1,498,636 B per poll after an unrelated change, RSS between polls 28 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${P:-200} S=${S:-50} V=${V:-10} RUNS=${RUNS:-5}
W=${1:-$(mktemp -d)}
mkdir -p "$W"
W=$(cd "$W" && pwd)
cargo build --release -q -p hsp -p hsp-agent
HSP=$PWD/target/release/hsp
AGENT=$PWD/target/release/hsp-agent
PY=$PWD/.venv/bin/python
[ -x "$PY" ] || { echo "missing $PY: run .ci/install" >&2; exit 1; }

# --- the synthetic registry (same steps as benches/index.sh) -------
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
T0=$(date +%s)
echo "building the index ..." >&2
"$HSP" build "$W/repo" --keys "$W/keys" --out "$W/out" --no-site --now "$T0" 2>&1 | grep -E '^(built|metadata sizes)' >&2
ROOT=$W/out/metadata/1.root.json

# --- serve it -----------------------------------------------------------------
"$PY" -u -m http.server 0 --bind 127.0.0.1 --directory "$W/out" >"$W/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$W/server.log" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$W/server.log" | head -1)
URL=http://127.0.0.1:$PORT
curl -sf "$URL/metadata/timestamp.json" >/dev/null || { echo "server did not start" >&2; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timed NAME cmd...: runs cmd; "wall user sys maxrss_kb" (seconds to 0.1 ms, from
# wait4 of that one child) goes to $W/NAME.time, stderr to $W/NAME.err
cat >"$W/timed.py" <<'PYEOF'
import os, subprocess, sys, time
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(err, "wb") as e:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=e)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
with open(out, "w") as f:
    f.write(f"{wall:.4f} {ru.ru_utime:.4f} {ru.ru_stime:.4f} {ru.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status) != 0)
PYEOF
timed() { local n=$1; shift; "$PY" "$W/timed.py" "$W/$n.time" "$W/$n.err" "$@"; }
col() { for r in $(seq 1 "$RUNS"); do awk -v c="$2" '{print $c}' "$W/$1-$r.time"; done | median; }
cpu() { for r in $(seq 1 "$RUNS"); do awk '{print $2 + $3}' "$W/$1-$r.time"; done | median; }
bytes() { for r in $(seq 1 "$RUNS"); do tail -1 "$W/$1-$r.err" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes"])'; done | median; }
cat >"$W/ngclient.py" <<'PYEOF'
import sys
from tuf.ngclient import Updater
root, md, url = sys.argv[1], sys.argv[2], sys.argv[3]
Updater(metadata_dir=md, metadata_base_url=url, bootstrap=open(root, "rb").read()).refresh()
PYEOF

for r in $(seq 1 "$RUNS"); do
  rm -rf "$W/md" "$W/py-md"; mkdir -p "$W/py-md"
  "$AGENT" tuf --metadata-dir "$W/md" init "$ROOT" 2>/dev/null
  timed "cold-$r" "$AGENT" tuf --metadata-dir "$W/md" --metadata-url "$URL/metadata" refresh --stats
  timed "idle-$r" "$AGENT" tuf --metadata-dir "$W/md" --metadata-url "$URL/metadata" refresh --stats
  timed "pycold-$r" "$PY" "$W/ngclient.py" "$ROOT" "$W/py-md" "$URL/metadata"
  timed "pyidle-$r" "$PY" "$W/ngclient.py" "$ROOT" "$W/py-md" "$URL/metadata"
done

cat >"$W/ngclient_poll.py" <<'PYEOF'
import json, sys, time
from tuf.ngclient import Updater
root, md, url, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
boot = open(root, "rb").read()
walls, cpu0 = [], time.process_time()
for _ in range(n):  # an ngclient Updater refreshes once: a poll is a new Updater
    t = time.perf_counter()
    Updater(metadata_dir=md, metadata_base_url=url, bootstrap=boot).refresh()
    walls.append((time.perf_counter() - t) * 1000)
walls.sort()
print(json.dumps({"polls": n, "median_wall_ms": round(walls[n // 2], 3),
                  "cpu_ms_per_poll": round((time.process_time() - cpu0) * 1000 / n, 3)}))
PYEOF
PYINPROC=$("$PY" "$W/ngclient_poll.py" "$ROOT" "$W/py-md" "$URL/metadata" 50)
echo "in-process polls ..." >&2
INPROC=$(HSP_BENCH_INDEX=$URL HSP_BENCH_METADATA=$W/md HSP_BENCH_TARGET=api/services/com.bench0.svc0.json \
  cargo bench -q -p hsp-tuf --features client --bench poll 2>"$W/bench.err" | tail -1) || { cat "$W/bench.err" >&2; INPROC="(cargo bench failed)"; }

# --- resident memory of a real `hsp-agent run` between polls ------------------
# A 30-service environment from the synthetic index, host target, polling every
# 2 s, logging at warn (pubgrub's info lines are per solver step). The synthetic
# documents carry only container images, so each apply stops at "no artifact
# for platform linux-x86_64": a poll is refresh + plan + a failed apply. VmRSS
# is sampled every 0.25 s for 12 s; most samples fall between polls.
rm -rf "$W/run-state" "$W/run-host"
"$AGENT" init --state "$W/run-state" --root "$ROOT" --index "$URL/" 2>/dev/null
"$PY" - "$W" "$URL" "$ROOT" <<'PYEOF'
import json, sys
w, url, root = sys.argv[1:4]
env = {"name": "pollbench", "index": {"url": url + "/", "root": root},
       "services": [{"id": f"com.bench{i}.svc{i}", "version": "^1", "name": f"s{i}"} for i in range(30)],
       "policy": {"licenses": ["MIT"], "update": "any"},
       "target": {"kind": "host", "root": f"{w}/run-host"}}
json.dump(env, open(f"{w}/run-env.json", "w"))
PYEOF
RUST_LOG=warn "$AGENT" run "$W/run-env.json" --state "$W/run-state" --interval 2 --jitter 0 \
  --host-mode process >"$W/run.log" 2>&1 &
RUNPID=$!
trap 'kill "$SERVER" 2>/dev/null || true; kill "$RUNPID" 2>/dev/null || true' EXIT
sleep 1
for _ in $(seq 48); do awk '/^VmRSS/ {print $2}' "/proc/$RUNPID/status"; sleep 0.25; done >"$W/run-rss.txt"
kill -TERM "$RUNPID"; wait "$RUNPID" || true
polls=$(( $(grep -c 'no artifact' "$W/run.log" || true) / 30 ))
RUNRSS="median $(median <"$W/run-rss.txt") KB, max $(sort -g "$W/run-rss.txt" | tail -1) KB over 12 s ($polls polls)"

# --- poll after an unrelated publisher changed --------------------------------
rm -rf "$W/md" "$W/tg"
"$AGENT" tuf --metadata-dir "$W/md" init "$ROOT" 2>/dev/null
get() { "$AGENT" tuf --metadata-dir "$W/md" --metadata-url "$URL/metadata" --target-base-url "$URL/targets" \
  --target-dir "$W/tg" --target-name api/services/com.bench0.svc0.json --target-name services/com.bench0.svc0/1.0.0.json \
  download --stats 2>"$W/$1.err"; }
get warm
for r in $(seq 1 "$RUNS"); do
  doc="$W/repo/publishers/bench7/services/com.bench7.svc3/1.4.0.json"
  sed -i "s/\"release_notes\": \"Re-release [0-9]*:/\"release_notes\": \"/; s/\"release_notes\": \"/\"release_notes\": \"Re-release $r:/" "$doc"
  "$HSP" sign --key "$W/pkeys/bench7.key" "$W/repo/publishers/bench7" 2>/dev/null
  "$HSP" build "$W/repo" --keys "$W/keys" --out "$W/out" --no-site --now $((T0 + 60 * r)) >/dev/null 2>&1
  timed "changed-$r" "$AGENT" tuf --metadata-dir "$W/md" --metadata-url "$URL/metadata" refresh --stats
  get "reread-$r"
done
reread=$(for r in $(seq 1 "$RUNS"); do tail -1 "$W/reread-$r.err" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes"])'; done | median)

echo
echo "synthetic index: $P publishers x $S services x $V versions; medians of $RUNS runs; server python http.server on 127.0.0.1"
printf 'full refresh as a process:   hsp-agent %s s (cpu %s s, %s B, max RSS %s KB)   python-tuf ngclient %s s (cpu %s s)\n' \
  "$(col cold 1)" "$(cpu cold)" "$(bytes cold)" "$(col cold 4)" "$(col pycold 1)" "$(cpu pycold)"
printf 'idle poll as a process:      hsp-agent %s s (cpu %s s, %s B, max RSS %s KB)   python-tuf ngclient %s s (cpu %s s)\n' \
  "$(col idle 1)" "$(cpu idle)" "$(bytes idle)" "$(col idle 4)" "$(col pyidle 1)" "$(cpu pyidle)"
echo "idle poll in-process:        $INPROC"
echo "idle poll in-process, python-tuf ngclient: $PYINPROC"
echo "hsp-agent run (30 services, 2 s interval), VmRSS: $RUNRSS"
printf 'poll after an unrelated publisher changed: %s B (%s s); re-reading the unchanged service afterwards: %s B\n' \
  "$(bytes changed)" "$(col changed 1)" "$reread"

#!/usr/bin/env bash
# Records what `hsp` and `hsp-agent` print and write for the bundled examples, so
# two builds of the binaries can be compared byte for byte (a restructure must
# not change them):
#
#   tests/outputs.sh BIN_DIR OUT_DIR [NOW]
#   tests/outputs.sh /tmp/before/target/debug /tmp/out-before 2026-12-04T00:00:00Z
#   tests/outputs.sh target/debug /tmp/out-after 2026-12-04T00:00:00Z
#   diff -r /tmp/out-before /tmp/out-after
#
# NOW is the build instant (default: today 00:00 UTC); the agent verifies the
# index against the clock, so NOW must be less than a day old. Paths in the
# outputs are relative to the repo root, which this script runs from; the
# folders' absolute paths and check timings are replaced by placeholders. Each
# command's exit code is recorded beside its output.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "$1")
OUT=$2
NOW=${3:-$(date -u +%Y-%m-%dT00:00:00Z)}
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# run NAME CMD...: stdout to NAME.out, stderr to NAME.err, exit code to NAME.rc.
run() {
  local name=$1
  shift
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
  echo $? >"$OUT/$name.rc"
}

run hsp-help "$BIN/hsp" --help
run hsp-check "$BIN/hsp" check examples/registry
run hsp-check-json "$BIN/hsp" check examples/registry --json
run hsp-check-broken "$BIN/hsp" check tests/fixtures/broken
run hsp-check-broken-json "$BIN/hsp" check tests/fixtures/broken --json
run hsp-schema "$BIN/hsp" schema --out "$OUT/schemas"
run hsp-build "$BIN/hsp" build examples/registry --dev-keys --now "$NOW" --out "$WORK/index"
cp -r "$WORK/index" "$OUT/index"

run agent-help "$BIN/hsp-agent" --help
run agent-schema "$BIN/hsp-agent" schema
STATE=$WORK/state
run agent-init "$BIN/hsp-agent" init --state "$STATE" --root "$WORK/index/metadata/1.root.json" --index "$WORK/index"
run agent-search "$BIN/hsp-agent" search --state "$STATE" fhir
run agent-search-json "$BIN/hsp-agent" search --state "$STATE" --json fhir
run agent-show "$BIN/hsp-agent" show --state "$STATE" com.acme.care-coordinator
# The example environments with their secret files filled in (owner-only).
cp -r examples/environments "$WORK/environments"
python3 - "$WORK/environments" <<'PY'
import json, os, pathlib, sys
root = pathlib.Path(sys.argv[1])
def files(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "secret_file":
                yield x
            else:
                yield from files(x)
    elif isinstance(v, list):
        for x in v:
            yield from files(x)
for env in root.glob("*.json"):
    for rel in files(json.loads(env.read_text())):
        p = env.parent / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("example-" + p.name + "\n")
        os.chmod(p, 0o600)
PY
for env in "$WORK"/environments/*.json; do
  e=$(basename "$env" .json)
  run "plan-$e" "$BIN/hsp-agent" plan --state "$STATE" "$env"
  run "plan-$e-json" "$BIN/hsp-agent" plan --state "$STATE" "$env" --json
  run "plan-$e-actions" "$BIN/hsp-agent" plan --state "$STATE" "$env" --actions-json
  run "plan-$e-registry" "$BIN/hsp-agent" plan --state "$STATE" "$env" --registry "$PWD/examples/registry" --json
  for format in kubernetes helm compose; do
    run "export-$e-$format" "$BIN/hsp-agent" export --state "$STATE" "$env" --format "$format" --out "$OUT/export-$e-$format" --json
  done
done
# Paths of the folders and the time a check took are not part of the comparison.
grep -rlI -e "$WORK" -e "$OUT" -e "$PWD" -e ' in [0-9.]* s:' "$OUT" | while read -r f; do
  sed -i -e "s#$WORK#WORK#g" -e "s#$OUT#OUT#g" -e "s#$PWD#REPO#g" -e 's/ in [0-9.]* s:/ in T s:/' "$f"
done
echo "outputs in $OUT"

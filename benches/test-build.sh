#!/usr/bin/env bash
# What a clean build of the test suite costs: wall time and the size of target/
# after `cargo test --workspace --no-run` plus the binaries the end-to-end tests
# run (`cargo build --workspace --bins`), from a clean checkout of REV (default
# HEAD) with an empty target folder. Crates.io downloads are not counted (they
# come from ~/.cargo); run it on a quiet machine, or twice and compare.
#
#   benches/test-build.sh [REV]
#
#   CARGO_INCREMENTAL=1 benches/test-build.sh e4753ec   (as a developer builds)
#
# Measured 2026-12-04 on 2 cores, one run each (quiet machine), with incremental
# state (as CI built before): before the crate split (e4753ec) 218 s, 2.17 GB;
# after the split (26514e3) 238 s, 2.45 GB (more crates, each with a test
# binary). Figures for the final layout and CI's settings are in benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/src" "$rev"
cd "$work/src"
export CARGO_TARGET_DIR=$work/target
# As .ci/run builds (no incremental state) unless the caller sets it.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
start=$(date +%s)
cargo test -q --workspace --no-run 2>"$work/test.log" || { tail -20 "$work/test.log"; exit 1; }
tests=$(date +%s)
cargo build -q --workspace --bins 2>"$work/bins.log" || { tail -20 "$work/bins.log"; exit 1; }
end=$(date +%s)
bytes=$(du -sb "$CARGO_TARGET_DIR" | cut -f1)
echo "rev $(git rev-parse --short HEAD) (CARGO_INCREMENTAL=$CARGO_INCREMENTAL): $((end - start)) s ($((tests - start)) s tests, $((end - tests)) s binaries), target/ $bytes bytes ($(numfmt --to=iec "$bytes"))"

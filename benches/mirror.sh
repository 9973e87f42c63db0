#!/usr/bin/env bash
# Mirror throughput against skopeo (see crates/hsp-mirror/benches/mirror.rs).
# Needs .ci/install (distribution registry, skopeo). BENCH_IMAGES, BENCH_RUNS,
# BENCH_LAYER_MB tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p hsp
cargo bench -p hsp-mirror --bench mirror

#!/usr/bin/env bash
# Validation time and the validator's overhead (see crates/hsp-validate/benches/validate.rs).
# Needs .ci/install (dockerd, the registry on 127.0.0.1:5000). BENCH_RUNS tunes it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p hsp
cargo bench -p hsp-validate --bench validate

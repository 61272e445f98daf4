#!/usr/bin/env bash
# The coverage study of docs/validation.md: 1,000 independent samples of
# 2,400 households from one synthetic country, each weighted by
# weights/demo.yaml and estimated by Taylor linearization, JKn and the
# bootstrap. About 15 minutes on two idle cores (release build).
#   bench/coverage.sh [SAMPLES] [OUT.csv]
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:-1000}"
out="${2:-bench/coverage-${samples}.csv}"
cargo build --release --quiet
target/release/vicor simulate --study "$samples" \
    --areas-per-stratum 8 --households-per-area 15 --bootstrap-replicates 100 \
    --out "$out" --force

#!/usr/bin/env bash
# The largest errors of the float Box–Muller (uniform, −2 log u, radius over all 2^32 words; cos and
# sin over all 2^23 angles) against double libm; writes Benchmarks/results/philox_f32_error.json.
# About two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"${CC:-clang}" -O2 -ffp-contract=off -fno-math-errno -ISources/CWideNetCPU Benchmarks/philox_f32_error.c -lm -o "$tmp/philox_f32_error"
"$tmp/philox_f32_error" | tee Benchmarks/results/philox_f32_error.json

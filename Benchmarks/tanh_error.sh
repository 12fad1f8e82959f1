#!/usr/bin/env bash
# The largest error of the vectorised tanh (Sources/CWideNetCPU) over all 2^32 floats, per
# instruction set; writes Benchmarks/results/tanh_error.json. About a minute per variant.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"${CC:-clang}" -O2 -ffp-contract=off -fno-math-errno -ISources/CWideNetCPU/include -ISources/CWideNetCPU \
   Benchmarks/tanh_error.c Sources/CWideNetCPU/tanh.c Sources/CWideNetCPU/isa.c -lm -o "$tmp/tanh_error"
"$tmp/tanh_error" | tee Benchmarks/results/tanh_error.json

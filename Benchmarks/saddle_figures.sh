#!/usr/bin/env bash
# The saddle-to-saddle figures (ARCHITECTURE.md §1.3) on the CPU: the skipping sweep over σ0, the
# nonlinear staircases, and GD against Adam on Amari's duplicate units. Summaries go to
# Benchmarks/results/saddle_*.json. Usage: bash Benchmarks/saddle_figures.sh [widenet binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/release/widenet}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out=Benchmarks/results
"$bin" saddle --init-scales 1e-1,1e-2,1e-3,1e-4,1e-5,1e-6,1e-7,1e-8 --steps 3000 --lr 0.005 \
    --skip-plateaus --out "$tmp/sweep" --quiet
cp "$tmp/sweep/summary.json" "$out/saddle_skipping_sweep_cpu.json"
for act in tanh relu; do
    "$bin" saddle --activation "$act" --lr 0.02 --steps 4000 --out "$tmp/$act" --quiet
    cp "$tmp/$act/summary.json" "$out/saddle_${act}_staircase_cpu.json"
done
for run in "gd 0.05 1e-4" "gd 0.05 1e-8" "adam 0.01 1e-4" "adam 0.01 1e-8"; do
    set -- $run
    "$bin" saddle --activation tanh --d 2 --k 1 --hidden 2 --teacher-rank 2 --singular-values 2,1 --init duplicate \
        --init-scale "$3" --optimizer "$1" --lr "$2" --steps 6000 --log-every 1 --out "$tmp/dup-$1-$3" --quiet
    cp "$tmp/dup-$1-$3/summary.json" "$out/saddle_duplicate_${1}_sigma$3_cpu.json"
done

#!/usr/bin/env bash
# Arora, Du, Hu, Li, Wang (ICML 2019), their Figure 1 on handwritten digits 3 against 5 (datasets/digits):
# the same net trained on the true labels and on random ones. Random labels train slower, their
# labels sit on the small eigenvalues of H∞ (each run's report), and their complexity
# √(2yᵀ(H∞)⁻¹y/n) is the larger (summary.json "complexity"; the comparison lists both).
#   bash Scripts/digits_figure.sh [OUT] [extra train options, e.g. --width 1048576]
# Writes OUT/true, OUT/random (runs) and OUT/compare/report.html (default OUT: runs/digits).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/digits}; shift || true
bin=${WIDENET_BIN:-.build/release/widenet}
[ -x "$bin" ] || swift build -c release --product widenet
common=(--x datasets/digits/x.npy --y datasets/digits/y.npy --width 65536 --steps 2000 --log-every 20 --seed 1 --quiet "$@")
rm -rf "$out"
"$bin" train "${common[@]}" --out "$out/true"
"$bin" train "${common[@]}" --random-labels --out "$out/random"
"$bin" report "$out/true" "$out/random" --out "$out/compare"
for run in true random; do
    python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(f\"{sys.argv[2]:>6} labels: complexity {s['complexity']:.4g}, loss {s['initial_loss']:.4g} -> {s['final_loss']:.4g}\")" "$out/$run/summary.json" "$run"
done

#!/usr/bin/env bash
# The CPU NTK training step of widenet against the same step in plain numpy, side by side in one
# run, at n=256, d=64, m=65536, f32 (issue: CPU step ≥ 2× numpy). Usage:
#   Benchmarks/cpu_step_vs_numpy.sh [path/to/widenet] [rounds]
# Prints each round's seconds per step and the median ratio; writes JSON lines to $OUT_JSON if set.
set -euo pipefail
W=${1:-}
ROUNDS=${2:-3}
if [ -z "$W" ]; then
  swift build -c release --product widenet >/dev/null
  W="$(swift build -c release --show-bin-path)/widenet"
fi
N=256 D=64 M=65536 STEPS=20
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ours=() theirs=()
for r in $(seq "$ROUNDS"); do
  "$W" train --backend cpu --precision f32 --n $N --d $D --width $M --steps $STEPS --lr 0.1 \
     --log-every 1000 --quiet --out "$tmp/run$r" >/dev/null
  s=$(python3 -c "import json;print(json.load(open('$tmp/run$r/summary.json'))['seconds_per_step'])")
  p=$(python3 "$(dirname "$0")/peers/ntk_step_numpy.py" --n $N --d $D --width $M --steps $STEPS)
  t=$(python3 -c "import json,sys;print(json.loads(sys.argv[1])['seconds_per_step'])" "$p")
  ours+=("$s"); theirs+=("$t")
  echo "round $r: widenet $s s/step, numpy $t s/step"
  [ -n "${OUT_JSON:-}" ] && echo "{\"round\": $r, \"widenet_seconds_per_step\": $s, \"numpy\": $p}" >> "$OUT_JSON"
done
python3 - "${ours[@]}" -- "${theirs[@]}" <<'PY'
import sys, statistics
args = sys.argv[1:]; i = args.index("--")
ours = [float(v) for v in args[:i]]; theirs = [float(v) for v in args[i+1:]]
flops = 4.0 * 256 * 65536 * 64
mo, mt = statistics.median(ours), statistics.median(theirs)
print(f"median widenet {mo*1e3:.1f} ms/step ({flops/mo/1e9:.1f} GFLOP/s), numpy {mt*1e3:.1f} ms/step ({flops/mt/1e9:.1f} GFLOP/s)")
print(f"speedup over numpy: {mt/mo:.2f}x")
PY

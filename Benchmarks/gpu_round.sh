#!/usr/bin/env bash
# One round on a lent GPU machine: probe, tune, widenet bench, the peers in the same call, the
# widest NTK run, and the NTK science at GPU width. Everything lands in $OUT.
#
# Here, before the call (the bundle must travel as one compressed file: the carry limit is 64 MiB):
#   Scripts/bundle.sh && tar -C bundle -cJf bundle/widenet.tar.xz widenet
# The call:  bash Benchmarks/gpu_round.sh        (carry: bundle/widenet.tar.xz)
# Stages can be picked with STAGES="probe tune bench peers wide science" (default: all).
set -u
# At most 8 files come back from the device machine: work in a folder, return a tarball of it
# plus the two JSON files the benchmarks are judged by.
FINAL=${OUT:-/tmp/widenet-gpu-round}
OUT=/tmp/widenet-round
mkdir -p "$OUT" "$FINAL"
trap 'tar -C "$OUT" -czf "$FINAL/round.tgz" . ; cp "$OUT"/widenet-bench.json "$OUT"/peers.json "$OUT"/round.log "$FINAL"/ 2>/dev/null' EXIT
STAGES=${STAGES:-"probe tune bench peers wide science"}
has() { case " $STAGES " in *" $1 "*) return 0;; *) return 1;; esac; }
log() { echo "== $* ($(date +%T))" | tee -a "$OUT/round.log"; }

tar -C /tmp -xJf bundle/widenet.tar.xz || { echo "bundle/widenet.tar.xz missing: build it first"; exit 1; }
W=/tmp/widenet/widenet
export XDG_CACHE_HOME=$OUT/cache   # the GEMM tuning file comes back with the results

if has probe; then
  log probe
  /tmp/widenet/probe.sh > "$OUT/probe.txt" 2>&1
  "$W" devices > "$OUT/devices.txt" 2>&1; cat "$OUT/devices.txt"
fi
if has tune; then
  log tune
  timeout 240 "$W" tune --size 4096 --repeats 3 > "$OUT/tune.txt" 2>&1; tail -5 "$OUT/tune.txt"
fi
if has bench; then
  log bench
  timeout 300 "$W" bench --backends opencl --gemm-sizes 4096,8192 --ntk-width 16777216 --particles 16777216 \
    --json "$OUT/widenet-bench.json" > "$OUT/bench.txt" 2>&1; cat "$OUT/bench.txt"
fi
if has peers; then
  log peers
  PYTHONUNBUFFERED=1 timeout 420 python3 Benchmarks/peers/gpu_peers.py --gemm-sizes 4096,8192 --ntk-width 16777216 \
    --mfld-particles 16777216 --compare "$OUT/widenet-bench.json" --json "$OUT/peers.json" > "$OUT/peers.txt" 2>&1
  tail -40 "$OUT/peers.txt"
fi
if has wide; then
  log wide
  # The largest width trained for 10 steps at n=256, d=64 (the preflight names the limit if it does not fit).
  for m in 220000000 200000000 150000000; do
    if timeout 400 "$W" train --backend opencl --n 256 --d 64 --width $m --steps 10 --log-every 10 --lr 0.1 --quiet \
         --out "/tmp/wide-$m" > "$OUT/wide-$m.txt" 2>&1; then
      cp "/tmp/wide-$m/summary.json" "$OUT/wide-summary.json"; echo "width $m: ok"; break
    else echo "width $m: $(tail -1 "$OUT/wide-$m.txt")"; fi
  done
fi
if has science; then
  log science
  timeout 400 "$W" train --backend opencl --width 16777216 --steps 300 --quiet --out /tmp/ntk-m24 > "$OUT/ntk-m24.txt" 2>&1
  cp /tmp/ntk-m24/summary.json "$OUT/ntk-m24-summary.json" 2>/dev/null; cp /tmp/ntk-m24/report.html "$OUT/ntk-m24-report.html" 2>/dev/null
  cat "$OUT/ntk-m24.txt"
fi
log done

#!/usr/bin/env bash
# The GPU round (Benchmarks/gpu_round.sh) end to end on this machine, at tiny sizes, on the OpenCL
# device DEVICE (default 0: PoCL in CI) and the peers on the CPU, so the first GPU call is not the
# script's first run. Checks that every stage ran and left its files, prints a table and the total
# seconds; exits 1 when a stage is missing from round.json or left no files (a stage that ran and
# failed, e.g. a selftest command the binary does not have yet, is reported, not fatal; STRICT=1
# makes any failed stage fatal).
#
#   bash Benchmarks/gpu_round_dry_run.sh                    # WIDENET_BIN=.build/debug/widenet
#   WIDENET_BIN=/path/to/widenet STRICT=1 bash Benchmarks/gpu_round_dry_run.sh
#
# Environment: WIDENET_BIN, DEVICE (0), STRICT (0), KEEP=1 (keep the temporary folder and print
# its path), DRY_RUN_CACHE=folder (reuse kernel caches between runs; default: a fresh one, as in CI),
# STAGES (default: all seven), any other variable of gpu_round.sh (ROUND_BUDGETS, PYTHON, ...).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
bin=${WIDENET_BIN:-.build/debug/widenet}
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
if [ ! -x "$bin" ]; then echo "dry run: no widenet binary at $bin (swift build, or set WIDENET_BIN)" >&2; exit 2; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/widenet-round-dry.XXXXXX") || exit 2
if [ "${KEEP:-0}" = 1 ]; then echo "dry run: files kept in $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
out="$tmp/out"
stages=${STAGES:-"probe selftest bench peers widest science tuning gram resnet"}

t0=$(date +%s)
env OUT="$out" TMPDIR="$tmp" ROUND=full ROUND_SIZE=tiny WIDENET_BIN="$bin" DEVICE="${DEVICE:-0}" PEERS_DEVICE=cpu \
  STAGES="$stages" ${DRY_RUN_CACHE:+ROUND_CACHE="$DRY_RUN_CACHE"} \
  bash "$root/Benchmarks/gpu_round.sh" > "$tmp/round.stdout" 2>&1
rc=$?
total=$(( $(date +%s) - t0 ))

# The files each stage must leave (in the tarball), whatever its outcome.
key_file() {
  case "$1" in
    probe) echo "probe/probe.txt probe/devices.txt" ;;
    selftest) echo "selftest/selftest.txt" ;;
    bench) echo "bench/bench.txt bench/widenet-bench.json" ;;
    peers) echo "peers/peers.txt peers/peers.json" ;;
    widest) echo "widest/widest.json" ;;
    science) echo "science/science.txt" ;;
    tuning) echo "tuning/tune.txt" ;;
    gram) echo "gram/gram.txt gram/run/summary.json" ;;
    resnet) echo "resnet/resnet.txt resnet/run/summary.json" ;;
  esac
}

bad=0; failed=0
if [ "$rc" -ne 0 ]; then echo "dry run: gpu_round.sh exited $rc"; bad=1; fi
if [ ! -s "$out/round.json" ] || [ ! -s "$out/round.tgz" ]; then
  echo "dry run: no round.json / round.tgz in \$OUT"; tail -n 40 "$tmp/round.stdout"; exit 1
fi
mkdir -p "$tmp/unpacked"
tar -C "$tmp/unpacked" -xzf "$out/round.tgz" || { echo "dry run: round.tgz does not unpack"; bad=1; }
nout=$(find "$out" -type f | wc -l | tr -d ' ')
if [ "$nout" -gt 8 ]; then echo "dry run: $nout files in \$OUT (at most 8 come back)"; bad=1; fi

field() { # key: its value in the round.json row $row (a string without its quotes, or a number)
  printf '%s\n' "$row" | grep -o -E "\"$1\": (\"[^\"]*\"|[^,}]*)" | head -n1 | sed -e "s/^\"$1\": //" -e 's/^"//' -e 's/"$//'
}
printf '%-9s %-10s %4s %5s %6s  %s\n' stage status rc secs limit note
for s in $stages; do
  row=$(grep -F "\"stage\": \"$s\"" "$out/round.json" | head -n1)
  if [ -z "$row" ]; then printf '%-9s %s\n' "$s" "MISSING from round.json"; bad=1; continue; fi
  status=$(field status)
  missing=""
  for f in $(key_file "$s"); do [ -s "$tmp/unpacked/$f" ] || missing="$missing $f"; done
  note=$(field note)
  printf '%-9s %-10s %4s %5s %6s  %s\n' "$s" "$status" "$(field rc)" "$(field seconds)" "$(field limit_s)" "${note:0:110}"
  if [ "$status" = skipped ]; then echo "          stage did not run"; bad=1; fi
  if [ -n "$missing" ]; then echo "          missing files:$missing"; bad=1; fi
  if [ "$status" != ok ]; then failed=$((failed + 1)); fi
done
grep -q '"finished": true' "$out/round.json" || { echo "dry run: round.json does not say finished"; bad=1; }
echo "dry run: $total s in all ($(nproc 2>/dev/null || echo '?') cores); \$OUT: $(cd "$out" && find . -type f | sed "s|^\./||" | sort | tr '\n' ' ')"
if [ "$bad" -ne 0 ]; then echo "dry run: FAILED"; echo "--- gpu_round.sh output (tail)"; tail -n 60 "$tmp/round.stdout"; exit 1; fi
if [ "$failed" -gt 0 ] && [ "${STRICT:-0}" = 1 ]; then echo "dry run: $failed stage(s) failed (STRICT=1)"; exit 1; fi
if [ "$failed" -gt 0 ]; then echo "dry run: every stage ran ($failed reported a failure: see the notes)"
else echo "dry run: every stage ran and passed"; fi
exit 0

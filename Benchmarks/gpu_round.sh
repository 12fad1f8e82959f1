#!/usr/bin/env bash
# shellcheck disable=SC2317 # the stage functions are called indirectly ("stage_$STAGE_NAME")
# One round on a lent GPU machine (one NVIDIA GPU, no Swift, no network; PyTorch, CuPy, JAX), in
# one call of at most ~7 minutes, or a rerun of some stages in ~3:
#
#   probe     what the machine offers: nvidia-smi, ICD files, libnvidia-opencl (and whether it
#             loads), `widenet devices` through the launcher           -> probe/probe.txt, devices.txt
#   selftest  every kernel against the CPU reference on the device, and (--width) a forward pass at
#             m = 2^24 against the CPU backend, in one call             -> selftest/selftest.json
#   bench     widenet bench on the device only (opencl:N): GEMM 4096,8192, NTK step m = 2^24,
#             MFLD N = 2^24, f32                                       -> bench/widenet-bench.json
#   peers     Benchmarks/peers/gpu_peers.py (torch eager + torch.compile mode "default" only, CuPy,
#             JAX; TF32 off in the comparison) with --compare the bench JSON, its --budget-seconds
#             well inside the stage's limit                            -> peers/peers.json
#   widest    widenet train at n=256, d=64, 10 steps, widths from large to small, --no-checkpoint;
#             the largest that runs                                    -> widest/widest.json
#   science   the NTK experiment (widenet train) at m = 2^24, 300 steps, with its report
#                                                                      -> science/run/{summary.json,report.html,...}
#   tuning    a short widenet tune (GEMM 4096, 3 repeats) on the device -> tuning/gemm-tuning.json
#   gram      λ0 of H∞ at n = 50 000 (d = 16) by matrix-free Lanczos, every product on the device
#             (gram.cl arccos_product, f64), past neural-tangents' out-of-memory size
#                                                                      -> gram/run/summary.json
#   resnet    widenet resnet --experiment train on the device: width 4096, state 64, depth 16, 50 Adam
#             updates, f32 (time per update against the CPU's in Benchmarks/results/resnet_blocks.md)
#                                                                      -> resnet/run/summary.json
#
# Before the call, here (the bundle travels as ONE compressed file; the carry limit is 64 MiB):
#   Scripts/bundle.sh                    # writes bundle/widenet/ and bundle/widenet.tar.xz (<= 64 MiB)
# The call:   bash Benchmarks/gpu_round.sh                     (carry: bundle/widenet.tar.xz; <= 490 s)
# A rerun:    ROUND=rerun STAGES="selftest widest" bash Benchmarks/gpu_round.sh          (<= 180 s)
# Here, in CI: bash Benchmarks/gpu_round_dry_run.sh   (every stage on PoCL at tiny sizes)
#
# Every stage runs in a session of its own under `timeout -k 5 LIMIT`; when it ends (or times out)
# whatever is left of that session, and any process carrying the stage's ROUND_STAGE_TOKEN in its
# environment (one that started a session of its own), is stopped (SIGTERM, then SIGKILL): the
# peers' framework workers, a train run; nothing outlives its stage holding GPU memory. LIMIT is the stage's budget (below), cut to what
# is left of the round's deadline (ROUND_SECONDS). After EVERY stage its files are copied to $OUT
# and $OUT/round.tgz (the whole work folder) and $OUT/round.json are rewritten, so a call killed
# at any point still returns every stage that finished. $OUT gets 7 files (8 come back at most;
# round.tgz.part exists only while the tarball is rewritten):
#   round.tgz  round.json  selftest.json  widenet-bench.json  peers.json  widest.json  science-summary.json
# round.json: {"stages": [{"stage", "status" (ok|failed|timed_out|skipped|interrupted), "rc", "seconds",
# "timed_out", "limit_s", "leftover_processes", "files", "note"}, ...], "device", "finished", ...}.
#
# Budgets in seconds (a stage's `timeout`; the deadline cuts the later ones if earlier ones ran long):
#   stage      full  rerun  tiny        full: ROUND_SECONDS=470 (setup + 9 stages = 435)
#   setup        20     15    30        rerun: ROUND_SECONDS=170, default STAGES="probe bench peers"
#   probe        15     15    20               (setup + those = 165)
#   selftest     60     45    60        tiny: ROUND_SECONDS=420 (caps only; the dry run takes < 1 min)
#   bench        55     50    60        peers: --budget-seconds = its limit - 24 (tiny: - 19),
#   peers       100     85    45               --worker-timeout 50, --compile-timeout 40
#   widest       55     50    40
#   science      40     35    40
#   tuning       25     25    60
#   gram         40     35    40
#   resnet       25     25    40
#
# Environment:
#   STAGES="probe selftest ..."   stages to run (always in the order above)
#   ROUND=full|rerun              budget table and deadline (default full)
#   ROUND_SECONDS=S               the deadline of the whole script (default 470 / 170 / 420)
#   ROUND_BUDGETS="peers=90 ..."  per-stage limits instead of the table's
#   WIDE_WIDTHS="m1 m2 ..."       the widths the widest stage tries, largest first
#   ROUND_SIZE=full|tiny          tiny: small shapes everywhere (GEMM 64,96, widths 2^12, N = 4096, 5 steps)
#   WIDENET_BIN=path              this widenet binary instead of unpacking the bundle
#   BUNDLE=path                   the bundle tarball (default bundle/widenet.tar.xz)
#   DEVICE=N                      the OpenCL device index (default: the NVIDIA one from `widenet devices`;
#                                 none found: probe and peers run, the rest is skipped)
#   PEERS_DEVICE=cuda|cpu         gpu_peers.py --device (default cuda)
#   PYTHON=path                   the python with numpy for the peers (default python3)
#   ROUND_CACHE=folder            XDG_CACHE_HOME of the round (kernel caches; default a fresh folder)
#   OUT=folder                    where results go (default /tmp/widenet-gpu-round)
set -u

ALL_STAGES="probe selftest bench peers widest science tuning gram resnet"
now() { date +%s; }
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)

# --- helpers shared by the main script and the stages ----------------------------------------------
json_str() { # a JSON string literal of $1 (control characters dropped)
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013-\037' | tr '\t\n\r' '   ')
  s=${s//\\/\\\\}; s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
json_num() { case "$1" in ''|*[!0-9-]*) printf 'null' ;; *) printf '%s' "$1" ;; esac; }
json_files() { # the files under folder $1 as a JSON array of relative paths
  local f sep="" out="["
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    out="$out$sep$(json_str "${f#./}")"; sep=", "
  done < <(cd "$1" 2>/dev/null && find . -type f ! -name '*.tmp' | sort)
  printf '%s]' "$out"
}
summary_value() { # the value of "key" in a pretty-printed JSON file (one key per line), else empty
  sed -n "s/^ *\"$2\": *\\(.*[^,]\\),\\{0,1\\}\$/\\1/p" "$1" 2>/dev/null | head -n1
}

# ================================================================================================
# Stage mode: `bash gpu_round.sh __stage` runs $STAGE_NAME in $STAGE_DIR (a new session, under
# timeout, started by the main script below). It prints a short summary (stage.log) and writes a
# one-line note ($STAGE_DIR/note).
# ================================================================================================
if [ "${1:-}" = __stage ]; then
  cd "$ROOT" || exit 2
  D=${STAGE_DIR:?}
  note() { printf '%s\n' "$*" > "$D/note"; }
  left() { echo $(( STAGE_DEADLINE - $(now) - 4 )); }   # 4 s for what a stopped command writes, and the note
  limited() { # SECONDS CMD...: CMD under timeout, cut to what is left of the stage
    local t=$1 l; shift
    l=$(left); [ "$t" -le "$l" ] || t=$l
    [ "$t" -ge 1 ] || return 124
    timeout -k 3 "$t" "$@"
  }
  keep_small() { # SRC DEST: the run's files of at most 4 MiB (no weights, no checkpoints)
    mkdir -p "$2"
    (cd "$1" 2>/dev/null && find . -type f -size -4194305c) | while IFS= read -r f; do
      case "$f" in ./*/*) continue ;; esac
      cp -p "$1/${f#./}" "$2/" 2>/dev/null
    done
  }
  has_no_checkpoint() { "$W" train --help 2>&1 | grep -q -- '--no-checkpoint'; }

  stage_probe() {
    { echo "== widenet GPU round probe, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -srm)"
      WIDENET_PROBE_FIND_TIMEOUT=$PROBE_FIND_S WIDENET_PROBE_TIMEOUT=$(( $(left) / 2 > 5 ? $(left) / 2 : 5 )) \
        limited "$(left)" bash "$PROBE"
    } > "$D/probe.txt" 2>&1
    local rc=$?
    if [ -s "$WORK/setup/devices.txt" ]; then cp "$WORK/setup/devices.txt" "$D/devices.txt"
    elif [ -n "$W" ]; then limited 30 "$W" devices > "$D/devices.txt" 2>&1
    else echo "no widenet binary" > "$D/devices.txt"; fi
    local gpu="not on PATH" ndev
    if command -v nvidia-smi >/dev/null 2>&1; then
      limited 15 nvidia-smi > "$D/nvidia-smi.txt" 2>&1
      gpu=$(limited 15 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -n1)
    fi
    grep -E '^\[[0-9]+\] ' "$D/devices.txt"
    sed -n '/^== does it load/,/^==/p' "$D/probe.txt" | grep -v '^==' | head -n 5
    ndev=$(grep -c -E '^\[[0-9]+\] ' "$D/devices.txt")
    note "$ndev OpenCL device(s); device ${DEVICE:-none}${DEVICE_LINE:+: $DEVICE_LINE}; nvidia-smi: $gpu"
    return "$rc"
  }

  stage_selftest() {
    # one call: every kernel check, then (--width) the forward pass at m = SELFTEST_WIDTH against the
    # CPU backend; one line per check in selftest.txt even if the JSON is never written
    local rc c pattern checks=()
    # tiny: a few checks only (the test suite runs them all on PoCL already); full: every check
    for pattern in $SELFTEST_CHECKS; do checks+=(--check "$pattern"); done
    limited "$(left)" "$W" selftest --device "$DEVICE" --width "$SELFTEST_WIDTH" "${checks[@]}" --json "$D/selftest.json" \
      > "$D/selftest.txt" 2>&1
    rc=$?
    if grep -q -i "unknown command" "$D/selftest.txt"; then
      note "widenet has no selftest command (rc $rc): $(tail -n1 "$D/selftest.txt")"
      tail -n 3 "$D/selftest.txt"
      return $(( rc ? rc : 2 ))
    fi
    c=$(grep -E '^selftest: ' "$D/selftest.txt" | tail -n1)
    grep -i -E 'fail|error' "$D/selftest.txt" | grep -v -E '^selftest: ' | head -n 20
    echo "${c:-no closing line} (rc $rc; checks at m=$SELFTEST_WIDTH included)"
    note "${c:-no closing line: $(tail -n1 "$D/selftest.txt")} (rc $rc, forward pass at m=$SELFTEST_WIDTH included)"
    return "$rc"
  }

  stage_bench() {
    limited "$(left)" "$W" bench --backends "opencl:$DEVICE" --gemm-sizes "$GEMM_SIZES" --ntk-width "$NTK_WIDTH" \
      --particles "$PARTICLES" --precision f32 --repeats "$BENCH_REPEATS" --json "$D/widenet-bench.json" \
      > "$D/bench.txt" 2>&1
    local rc=$?
    grep -v '^note:' "$D/bench.txt" | tail -n 25
    if [ -s "$D/widenet-bench.json" ]; then
      note "rc $rc; opencl:$DEVICE $(grep -m1 -o '"device": *"[^"]*"' "$D/widenet-bench.json" | sed 's/.*: *//' | tr -d '"')"
    else
      note "rc $rc, no JSON: $(tail -n1 "$D/bench.txt")"
    fi
    return "$rc"
  }

  stage_peers() {
    local budget rc args
    budget=$(( $(left) - PEERS_MARGIN ))
    [ "$budget" -ge 10 ] || budget=10
    if [ -z "$PY" ]; then
      printf '{"schema": "widenet-gpu-peers/1", "complete": false, "measurements": [], "checks": [], "errors": [],\n "skipped": [{"framework": "all", "what": "gpu_peers.py", "reason": "no python3 with numpy on this machine"}]}\n' \
        > "$D/peers.json"
      echo "no python3 with numpy: peers skipped" | tee "$D/peers.txt"
      note "skipped: no python3 with numpy"
      return 3
    fi
    args=(--device "$PEERS_DEVICE" --gemm-sizes "$GEMM_SIZES" --ntk-width "$NTK_WIDTH" --mfld-particles "$PARTICLES"
          --compile-modes default --mfld-compile-modes default --budget-seconds "$budget"
          --worker-timeout "$PEERS_WORKER_S" --compile-timeout "$PEERS_COMPILE_S" --json "$D/peers.json")
    # shellcheck disable=SC2206 # split on purpose: the tiny sizes' extra options
    [ -z "$PEERS_EXTRA" ] || args+=($PEERS_EXTRA)
    if [ -s "$WORK/bench/widenet-bench.json" ]; then args+=(--compare "$WORK/bench/widenet-bench.json"); fi
    echo "gpu_peers.py ${args[*]}" > "$D/peers.txt"
    PYTHONUNBUFFERED=1 limited "$(left)" "$PY" "$ROOT/Benchmarks/peers/gpu_peers.py" "${args[@]}" >> "$D/peers.txt" 2>&1
    rc=$?
    if [ ! -s "$D/peers.json" ]; then   # it died before writing anything: say so in its place
      printf '{"schema": "widenet-gpu-peers/1", "complete": false, "returncode": %s, "measurements": [], "checks": [],\n "errors": [{"framework": "all", "what": "gpu_peers.py", "error": %s}],\n "skipped": [{"framework": "all", "what": "gpu_peers.py", "reason": "gpu_peers.py wrote no JSON (see peers.txt)"}]}\n' \
        "$rc" "$(json_str "$(tail -n3 "$D/peers.txt")")" > "$D/peers.json"
    fi
    sed -n '/^GPU peers on/,$p' "$D/peers.txt" | head -n 60
    local summary
    summary=$("$PY" - "$D/peers.json" 2>/dev/null <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
sk = sorted({f"{s.get('framework')}: {s.get('reason', '')[:60]}" for s in d.get("skipped", []) if s.get("what") == s.get("framework")})
cmp = d.get("comparison") or {}
print(f"{len(d.get('measurements', []))} measurements, {len(d.get('skipped', []))} skipped, "
      f"{len(d.get('errors', []))} errors, complete {d.get('complete')}"
      + (f", compared with widenet: {len(cmp.get('rows', []))} rows, TF32 off" if cmp else ", no comparison")
      + ("; " + "; ".join(sk) if sk else ""))
EOF
) || summary="unreadable peers.json"
    note "rc $rc, budget ${budget}s: $summary"
    return "$rc"
  }

  write_widest() { # status: the widest.json of what was tried so far
    {
      printf '{"n": %s, "d": %s, "steps": %s, "device": %s, "no_checkpoint": %s,\n' "$WIDE_N" "$WIDE_D" "$WIDE_STEPS" \
        "$(json_str "$DEVICE")" "$1"
      printf ' "largest_ok_width": %s, "status": %s,\n "attempts": [%s]}\n' "$(json_num "$largest")" "$(json_str "$2")" "$attempts"
    } > "$D/widest.json.tmp" && mv -f "$D/widest.json.tmp" "$D/widest.json"
  }

  stage_widest() {
    local ckpt=(--no-checkpoint) ckpt_json=true m rc t0 secs last fits f queue=() sep="" status="running" timed=0
    attempts=""; largest=""
    if ! has_no_checkpoint; then
      if [ "$ROUND_SIZE" = tiny ]; then
        ckpt=(); ckpt_json=false; echo "widenet train has no --no-checkpoint: tiny sizes, run without it"
      else
        write_widest false "not run: widenet train has no --no-checkpoint (a signal would write a checkpoint of ~56 GB)"
        note "not run: widenet train has no --no-checkpoint"
        echo "widenet train has no --no-checkpoint: the widest run is not started"
        return 3
      fi
    fi
    read -r -a queue <<< "$WIDE_WIDTHS"
    while [ "${#queue[@]}" -gt 0 ]; do
      m=${queue[0]}; queue=("${queue[@]:1}")
      if [ "$(left)" -lt 5 ]; then status="out of time before width $m"; break; fi
      t0=$(now)
      limited "$(left)" "$W" train --backend opencl --device "$DEVICE" --n "$WIDE_N" --d "$WIDE_D" --width "$m" \
        --steps "$WIDE_STEPS" --log-every "$WIDE_STEPS" --lr 0.1 --quiet ${ckpt[@]+"${ckpt[@]}"} \
        --out "$RUNS/wide-$m" > "$D/wide-$m.txt" 2>&1
      rc=$?; secs=$(( $(now) - t0 ))
      last=$(grep -v '^run directory:' "$D/wide-$m.txt" | tail -n1)
      echo "width $m: rc $rc, ${secs}s${last:+: $last}"
      attempts="$attempts$sep{\"width\": $m, \"rc\": $rc, \"seconds\": $secs, \"timed_out\": $([ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo true || echo false), \"last_line\": $(json_str "$last")}"
      sep=", "
      if [ "$rc" -eq 0 ]; then
        largest=$m; status="ok"
        keep_small "$RUNS/wide-$m" "$D/run-$m"
        cp "$RUNS/wide-$m/summary.json" "$D/wide-summary.json" 2>/dev/null
        break
      fi
      if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="timed out at width $m"; timed=1; break; fi
      # the memory preflight names the largest width that fits: try it next (rounded down to 2^20)
      fits=$(grep -o 'the largest width that fits is [0-9]*' "$D/wide-$m.txt" | grep -o '[0-9]*$' | head -n1)
      if [ -n "$fits" ]; then
        f=$(( fits >= 1048576 ? fits / 1048576 * 1048576 : fits / 32 * 32 ))
        if [ "$f" -gt 0 ] && [ "$f" -lt "$m" ] && { [ "${#queue[@]}" -eq 0 ] || [ "$f" -gt "${queue[0]}" ]; }; then
          queue=("$f" ${queue[@]+"${queue[@]}"})
        fi
      fi
      write_widest "$ckpt_json" "running"
      status="no width ran"
    done
    write_widest "$ckpt_json" "$status"
    note "largest width that ran: ${largest:-none} ($status)"
    if [ -n "$largest" ]; then return 0; fi
    if [ "$timed" = 1 ]; then return 124; fi
    return 1
  }

  stage_science() {
    local ckpt=() rc
    if has_no_checkpoint; then ckpt=(--no-checkpoint); fi
    limited "$(left)" "$W" train --backend opencl --device "$DEVICE" --width "$SCI_WIDTH" --steps "$SCI_STEPS" --quiet \
      ${ckpt[@]+"${ckpt[@]}"} --out "$RUNS/science" > "$D/science.txt" 2>&1
    rc=$?
    keep_small "$RUNS/science" "$D/run"
    cat "$D/science.txt"
    if [ -s "$D/run/summary.json" ]; then
      note "rc $rc; m=$SCI_WIDTH: final loss $(summary_value "$D/run/summary.json" final_loss), bound holds $(summary_value "$D/run/summary.json" bound_holds), max kernel deviation $(summary_value "$D/run/summary.json" max_kernel_deviation), $(summary_value "$D/run/summary.json" seconds_per_step) s/step; report.html $([ -s "$D/run/report.html" ] && echo yes || echo no)"
    else
      note "rc $rc, no summary: $(tail -n1 "$D/science.txt")"
    fi
    return "$rc"
  }

  stage_tuning() {
    # tiny: PoCL's optimiser off (the ~28 candidate builds are most of the dry run's time; ignored elsewhere)
    if [ "$ROUND_SIZE" = tiny ]; then export POCL_EXTRA_BUILD_FLAGS=${POCL_EXTRA_BUILD_FLAGS:--cl-opt-disable}; fi
    limited "$(left)" "$W" tune --device "$DEVICE" --size "$TUNE_SIZE" \
      --repeats "$TUNE_REPEATS" > "$D/tune.txt" 2>&1
    local rc=$?
    tail -n 3 "$D/tune.txt"
    note "rc $rc: $(grep -E '^(best|stored)' "$D/tune.txt" | tail -n1)"
    return "$rc"
  }

  run_note() { # NAME RC LINES FN: keep run NAME's small files, show LINES of NAME.txt, note FN SUMMARY's text (or why none)
    keep_small "$RUNS/$1" "$D/run"
    tail -n "$3" "$D/$1.txt"
    if [ -s "$D/run/summary.json" ]; then note "rc $2; $("$4" "$D/run/summary.json")"
    else note "rc $2, no summary: $(tail -n1 "$D/$1.txt")"; fi
    return "$2"
  }

  gram_note() { echo "n=$GRAM_N: λ0 $(summary_value "$1" lambda0) ± $(summary_value "$1" lambda0_error), converged $(summary_value "$1" converged), $(summary_value "$1" seconds) s, Krylov $(summary_value "$1" krylov_dimension)"; }
  stage_gram() {
    limited "$(left)" "$W" gram --backend opencl --device "$DEVICE" --n "$GRAM_N" --d 16 --seed 1 --eigensolver lanczos --matrix free \
      --eigenvalues 1 --block 32 --max-dimension "$GRAM_DIMENSION" --out "$RUNS/gram" > "$D/gram.txt" 2>&1
    run_note gram $? 4 gram_note
  }

  resnet_note() { echo "width $RESNET_WIDTH, depth 16: final loss $(summary_value "$1" final_loss), $(summary_value "$1" seconds_per_step) s/update"; }
  stage_resnet() {
    limited "$(left)" "$W" resnet --experiment train --backend opencl --device "$DEVICE" --task teacher --input-dim 16 --n 256 \
      --test-size 64 --dim 64 --width "$RESNET_WIDTH" --depth 16 --steps "$RESNET_STEPS" --no-checkpoint --quiet --out "$RUNS/resnet" \
      > "$D/resnet.txt" 2>&1
    run_note resnet $? 3 resnet_note
  }

  case " $ALL_STAGES " in *" $STAGE_NAME "*) ;; *) echo "unknown stage $STAGE_NAME"; exit 2 ;; esac
  "stage_$STAGE_NAME"
  exit $?
fi

# ================================================================================================
# Main: setup, then the stages one after another.
# ================================================================================================
T0=$(now)
export ROUND=${ROUND:-full} ROUND_SIZE=${ROUND_SIZE:-full}
case "$ROUND" in full|rerun) ;; *) echo "gpu_round: ROUND must be full or rerun" >&2; exit 2 ;; esac
case "$ROUND_SIZE" in full|tiny) ;; *) echo "gpu_round: ROUND_SIZE must be full or tiny" >&2; exit 2 ;; esac
table=$ROUND; [ "$ROUND_SIZE" = tiny ] && table=tiny
budget_of() { # stage: its limit in seconds (columns full, rerun, tiny; ROUND_BUDGETS="stage=S ..." first)
  local row kv
  for kv in ${ROUND_BUDGETS:-}; do
    case "$kv" in "$1="[0-9]*) echo "${kv#*=}"; return ;; esac
  done
  case "$1" in
    setup) row="20 15 30" ;; probe) row="15 15 20" ;; selftest) row="60 45 60" ;; bench) row="55 50 60" ;;
    peers) row="100 85 45" ;; widest) row="55 50 40" ;; science) row="40 35 40" ;; tuning) row="25 25 60" ;; gram) row="40 35 40" ;; resnet) row="25 25 40" ;;
  esac
  # shellcheck disable=SC2086 # split on purpose
  set -- $row
  case "$table" in full) echo "$1" ;; rerun) echo "$2" ;; tiny) echo "$3" ;; esac
}
case "$table" in full) dflt_secs=470 ;; rerun) dflt_secs=170 ;; tiny) dflt_secs=420 ;; esac
ROUND_SECONDS=${ROUND_SECONDS:-$dflt_secs}
DEADLINE=$((T0 + ROUND_SECONDS))
RESERVE=8   # what the end of a stage needs after its limit: the -k 5 grace, the sweep, the copies
if [ "$ROUND" = rerun ]; then STAGES=${STAGES:-"probe bench peers"}; else STAGES=${STAGES:-$ALL_STAGES}; fi
for s in $STAGES; do
  case " $ALL_STAGES " in *" $s "*) ;; *) echo "gpu_round: unknown stage '$s' (stages: $ALL_STAGES)" >&2; exit 2 ;; esac
done

# Sizes.
if [ "$ROUND_SIZE" = tiny ]; then
  GEMM_SIZES=64,96 NTK_WIDTH=4096 PARTICLES=4096 SELFTEST_WIDTH=4096 BENCH_REPEATS=2
  SELFTEST_CHECKS="philox_fill slices fused train:"
  WIDE_N=256 WIDE_D=64 WIDE_STEPS=5 WIDE_WIDTHS=${WIDE_WIDTHS:-"16384 8192 4096"} SCI_WIDTH=4096 SCI_STEPS=50
  GRAM_N=1500 GRAM_DIMENSION=256 RESNET_WIDTH=64 RESNET_STEPS=5
  TUNE_SIZE=64 TUNE_REPEATS=1 PROBE_FIND_S=5 PEERS_MARGIN=${PEERS_MARGIN:-15} PEERS_WORKER_S=25 PEERS_COMPILE_S=20
  PEERS_EXTRA="--repeats 3 --warmup 1 --check-width 1024 --gemm-check-size 64 --copy-mib 16 --peak-size 128 --mfld-check-particles 1024 --mfld-check-batch 32"
else
  GEMM_SIZES=4096,8192 NTK_WIDTH=16777216 PARTICLES=16777216 SELFTEST_WIDTH=16777216 BENCH_REPEATS=5
  SELFTEST_CHECKS=""
  # 2^29 first: the preflight refuses it at once and names the largest width that fits (tried next)
  WIDE_N=256 WIDE_D=64 WIDE_STEPS=10 WIDE_WIDTHS=${WIDE_WIDTHS:-"536870912 402653184 335544320 268435456 201326592 134217728"}
  SCI_WIDTH=16777216 SCI_STEPS=300
  GRAM_N=50000 GRAM_DIMENSION=1024 RESNET_WIDTH=4096 RESNET_STEPS=50
  TUNE_SIZE=4096 TUNE_REPEATS=3 PROBE_FIND_S=8 PEERS_MARGIN=${PEERS_MARGIN:-20} PEERS_WORKER_S=50 PEERS_COMPILE_S=40 PEERS_EXTRA=""
fi
export GRAM_N GRAM_DIMENSION RESNET_WIDTH RESNET_STEPS GEMM_SIZES NTK_WIDTH PARTICLES SELFTEST_WIDTH SELFTEST_CHECKS BENCH_REPEATS WIDE_N WIDE_D WIDE_STEPS WIDE_WIDTHS SCI_WIDTH \
  SCI_STEPS TUNE_SIZE TUNE_REPEATS PROBE_FIND_S PEERS_MARGIN PEERS_WORKER_S PEERS_COMPILE_S PEERS_EXTRA
export PEERS_DEVICE=${PEERS_DEVICE:-cuda}

# Folders: WORK is what comes back (small files only), RUNS holds run directories and caches.
FINAL=${OUT:-/tmp/widenet-gpu-round}
mkdir -p "$FINAL" || { echo "gpu_round: cannot create $FINAL" >&2; exit 2; }
FINAL=$(cd "$FINAL" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/widenet-round.XXXXXX") || exit 2
RUNS=$(mktemp -d "${TMPDIR:-/tmp}/widenet-round-runs.XXXXXX") || exit 2
export WORK RUNS
export XDG_CACHE_HOME=${ROUND_CACHE:-$RUNS/cache}
mkdir -p "$XDG_CACHE_HOME" "$WORK/setup" "$WORK/tuning"
export WIDENET_TUNING_FILE="$WORK/tuning/gemm-tuning.json" WIDENET_NTK_TUNING_FILE="$WORK/tuning/ntk-tuning.json"
cd "$ROOT" || exit 2

log() { echo "== $* ($(date +%T), ${SECONDS}s)" | tee -a "$WORK/round.log"; }
say() { echo "$*" | tee -a "$WORK/round.log"; }

# A new session for each stage: util-linux setsid (-w when it may fork), else python's os.setsid.
if command -v setsid >/dev/null 2>&1 && setsid --help 2>&1 | grep -q -- '--wait'; then
  NEWSESSION=(setsid -w)
elif command -v python3 >/dev/null 2>&1; then
  NEWSESSION=(python3 -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])')
else
  NEWSESSION=(); say "note: no setsid: stages share the round's session and leftovers cannot be swept"
fi
read -r MY_STAT < /proc/$$/stat 2>/dev/null || MY_STAT=""
read -r _ _ _ MY_SID _ <<< "${MY_STAT##*) }"
MY_SID=${MY_SID:-none}

session_members() { # live processes of session $1
  local p st state sess
  for p in /proc/[0-9]*; do
    read -r st < "$p/stat" 2>/dev/null || continue
    read -r state _ _ sess _ <<< "${st##*) }"
    if [ "$sess" = "$1" ] && [ "$state" != Z ] && [ "$state" != X ]; then echo "${p#/proc/}"; fi
  done
}
token_members() { # live processes whose environment holds ROUND_STAGE_TOKEN=$1 (even after a setsid of their own)
  grep -l -a -F -- "ROUND_STAGE_TOKEN=$1" /proc/[0-9]*/environ 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
}
stage_members() { # sid token: the stage's live processes (its session, and whoever carries its token)
  { if [ -n "$1" ] && [ "$1" != "$MY_SID" ]; then session_members "$1"; fi
    token_members "$2"; } | awk -v me="$$" '$1 != me && !seen[$1]++'
}
sweep() { # sid token: stop what is left of a stage; sets LEFTOVER
  local sid=$1 tok=$2 pids desc="" p c
  LEFTOVER=0
  [ -d /proc/self ] || return 0
  pids=$(stage_members "$sid" "$tok")
  [ -n "$pids" ] || return 0
  for p in $pids; do read -r c < "/proc/$p/comm" 2>/dev/null || c="?"; desc="$desc $p($c)"; LEFTOVER=$((LEFTOVER + 1)); done
  say "   stopping $LEFTOVER leftover process(es) of the stage:$desc"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    sleep 0.15
    pids=$(stage_members "$sid" "$tok"); [ -n "$pids" ] || return 0
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  sleep 0.3
  pids=$(stage_members "$sid" "$tok")
  [ -z "$pids" ] || say "   still there after SIGKILL: $pids"
}

# --- round.json and the copies out -------------------------------------------------------------
STAGE_ROWS=()
FINISHED=false
STOPPED=""
DEVICE_LINE=""; DEVICE_SOURCE=none
write_round_json() {
  local r rows="" sep=""
  for r in ${STAGE_ROWS[@]+"${STAGE_ROWS[@]}"}; do rows="$rows$sep
  $r"; sep=","; done
  {
    printf '{"schema": "widenet-gpu-round/1", "round": %s, "size": %s, "stages_requested": %s,\n' \
      "$(json_str "$ROUND")" "$(json_str "$ROUND_SIZE")" "$(json_str "$STAGES")"
    printf ' "started": %s, "elapsed_seconds": %s, "deadline_seconds": %s, "finished": %s, "stopped": %s,\n' \
      "$(json_str "$STARTED")" "$(( $(now) - T0 ))" "$ROUND_SECONDS" "$FINISHED" "$(json_str "$STOPPED")"
    printf ' "device": {"index": %s, "line": %s, "source": %s}, "peers_device": %s, "binary": %s, "host": %s,\n' \
      "$(json_str "${DEVICE:-}")" "$(json_str "$DEVICE_LINE")" "$(json_str "$DEVICE_SOURCE")" \
      "$(json_str "$PEERS_DEVICE")" "$(json_str "${W:-}")" "$(json_str "$(uname -n 2>/dev/null)")"
    printf ' "stages": [%s\n ]}\n' "$rows"
  } > "$WORK/round.json.tmp" && mv -f "$WORK/round.json.tmp" "$WORK/round.json"
}
# stage status rc seconds limit leftover note: one row of round.json
add_row() {
  local to=false
  if [ "$2" = timed_out ]; then to=true; fi
  STAGE_ROWS+=("{\"stage\": $(json_str "$1"), \"status\": $(json_str "$2"), \"rc\": $(json_num "$3"), \"seconds\": $(json_num "$4"), \"timed_out\": $to, \"limit_s\": $(json_num "$5"), \"leftover_processes\": $(json_num "$6"), \"files\": $(json_files "$WORK/$1"), \"note\": $(json_str "$7")}")
}
copy_out() { # the stage's key file, round.json and the tarball of WORK, into $OUT
  case "$1" in
    selftest) [ -f "$WORK/selftest/selftest.json" ] && cp "$WORK/selftest/selftest.json" "$FINAL/selftest.json" ;;
    bench) [ -f "$WORK/bench/widenet-bench.json" ] && cp "$WORK/bench/widenet-bench.json" "$FINAL/widenet-bench.json" ;;
    peers) [ -f "$WORK/peers/peers.json" ] && cp "$WORK/peers/peers.json" "$FINAL/peers.json" ;;
    widest) [ -f "$WORK/widest/widest.json" ] && cp "$WORK/widest/widest.json" "$FINAL/widest.json" ;;
    science) [ -f "$WORK/science/run/summary.json" ] && cp "$WORK/science/run/summary.json" "$FINAL/science-summary.json" ;;
  esac
  write_round_json
  cp "$WORK/round.json" "$FINAL/round.json"
  if tar -C "$WORK" -czf "$FINAL/round.tgz.part" . 2>/dev/null; then mv -f "$FINAL/round.tgz.part" "$FINAL/round.tgz"
  else rm -f "$FINAL/round.tgz.part"; say "   (tar of $WORK failed)"; fi
}

# --- one stage ---------------------------------------------------------------------------------
STAGE_PID=""; STAGE_SIDFILE=""
TOKEN_BASE="$$-$(now)-${RANDOM:-0}"   # ROUND_STAGE_TOKEN=$TOKEN_BASE-<stage> marks what a stage started
on_signal() {
  STOPPED="signal $1 during ${CURRENT:-setup}"
  say "== $STOPPED: stopping the stage"
  if [ -n "$STAGE_SIDFILE" ] && [ -r "$STAGE_SIDFILE" ]; then
    local sid=""; read -r sid < "$STAGE_SIDFILE"
    # shellcheck disable=SC2046
    kill -TERM $(stage_members "$sid" "$TOKEN_BASE-${CURRENT:-}") 2>/dev/null
  fi
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'on_signal HUP' HUP

run_stage() { # name limit: runs it; sets RC, SECS, LEFTOVER
  local s=$1 limit=$2 t0 sid=""
  mkdir -p "$WORK/$s"; rm -f "$WORK/$s/note"
  STAGE_SIDFILE="$RUNS/.sid-$s"; rm -f "$STAGE_SIDFILE"
  t0=$(now)
  # shellcheck disable=SC2016 # $$ and "$0".. are expanded by that bash
  STAGE_NAME=$s STAGE_DIR="$WORK/$s" STAGE_DEADLINE=$((t0 + limit)) ROUND_STAGE_TOKEN="$TOKEN_BASE-$s" \
    ${NEWSESSION[@]+"${NEWSESSION[@]}"} bash -c 'echo $$ > "$0"; exec timeout -k 5 "$1" bash "$2" __stage' \
    "$STAGE_SIDFILE" "$limit" "$SELF" > "$WORK/$s/stage.log" 2>&1 < /dev/null &
  STAGE_PID=$!
  # wait returns early when a trapped signal arrives: wait again (the handler stopped the stage)
  while :; do
    wait "$STAGE_PID"; RC=$?
    kill -0 "$STAGE_PID" 2>/dev/null || break
  done
  SECS=$(( $(now) - t0 ))
  read -r sid < "$STAGE_SIDFILE" 2>/dev/null || sid=""
  sweep "$sid" "$TOKEN_BASE-$s"
  STAGE_PID=""
}

# --- setup: the binary, python, the device -------------------------------------------------------
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "round $ROUND, size $ROUND_SIZE, stages: $STAGES (deadline ${ROUND_SECONDS}s; work $WORK; out $FINAL)"
CURRENT=setup
setup_t0=$(now); setup_notes=""; setup_status=ok; setup_limit=$(budget_of setup)
W=""; PROBE="$ROOT/Scripts/bundle/probe.sh"
if [ -n "${WIDENET_BIN:-}" ]; then
  case "$WIDENET_BIN" in /*) W=$WIDENET_BIN ;; *) W="$ROOT/$WIDENET_BIN" ;; esac
  if [ -x "$W" ]; then
    export WIDENET_PROBE_LAUNCHER="$W"
    setup_notes="WIDENET_BIN $W"
  else
    setup_notes="WIDENET_BIN $W is not an executable"; W=""; setup_status=failed
  fi
else
  BUNDLE=${BUNDLE:-$ROOT/bundle/widenet.tar.xz}
  mkdir -p "$RUNS/bundle"
  if [ ! -r "$BUNDLE" ]; then
    setup_notes="no bundle at $BUNDLE (build it first: Scripts/bundle.sh)"; setup_status=failed
  elif timeout -k 5 $((setup_limit * 2 / 3)) tar -C "$RUNS/bundle" -xJf "$BUNDLE" > "$WORK/setup/unpack.txt" 2>&1 ||
       timeout -k 5 $((setup_limit / 2)) python3 -m tarfile -e "$BUNDLE" "$RUNS/bundle" >> "$WORK/setup/unpack.txt" 2>&1; then
    for f in "$RUNS"/bundle/*/widenet; do
      if [ -x "$f" ] && [ -f "$(dirname "$f")/probe.sh" ]; then W=$f; PROBE="$(dirname "$f")/probe.sh"; break; fi
    done
    if [ -n "$W" ]; then setup_notes="bundle $BUNDLE ($(wc -c < "$BUNDLE" | tr -d ' ') bytes) unpacked"
    else setup_notes="bundle $BUNDLE holds no */widenet launcher"; setup_status=failed; fi
  else
    setup_notes="unpacking $BUNDLE failed: $(tail -n1 "$WORK/setup/unpack.txt")"; setup_status=failed
  fi
fi
export W PROBE

PY=""
for p in ${PYTHON:-} python3 python; do
  if command -v "$p" >/dev/null 2>&1 && timeout -k 2 20 "$p" -c 'import numpy' >/dev/null 2>&1; then PY=$(command -v "$p"); break; fi
done
export PY
# which frameworks are installed (found, not imported: importing torch alone takes seconds)
if [ -n "$PY" ]; then
  timeout -k 2 10 "$PY" -c 'import importlib.util as u, sys, numpy
print("python", sys.version.split()[0], "numpy", numpy.__version__)
for m in ("torch", "cupy", "jax", "triton"):
    print(m, "installed" if u.find_spec(m) else "missing")' > "$WORK/setup/python.txt" 2>&1
fi

if [ -n "$W" ]; then
  timeout -k 5 $(( setup_limit - ($(now) - setup_t0) > 5 ? setup_limit - ($(now) - setup_t0) : 5 )) \
    "$W" devices > "$WORK/setup/devices.txt" 2>&1 < /dev/null
  devrc=$?
  [ "$devrc" -eq 0 ] || setup_notes="$setup_notes; widenet devices: rc $devrc, $(tail -n1 "$WORK/setup/devices.txt")"
  if [ -n "${DEVICE:-}" ]; then
    DEVICE_SOURCE=DEVICE
    DEVICE_LINE=$(grep -m1 -E "^\[$DEVICE\] " "$WORK/setup/devices.txt" | sed 's/^\[[0-9]*\] //')
  else
    line=$(grep -E '^\[[0-9]+\] ' "$WORK/setup/devices.txt" | grep -i nvidia | grep -m1 '(GPU')
    [ -n "$line" ] || line=$(grep -E '^\[[0-9]+\] ' "$WORK/setup/devices.txt" | grep -m1 -i nvidia)
    if [ -n "$line" ]; then
      DEVICE=${line#\[}; DEVICE=${DEVICE%%\]*}; DEVICE_LINE=${line#*\] }; DEVICE_SOURCE=autodetected
    else
      DEVICE=""
      setup_notes="$setup_notes; no NVIDIA OpenCL device in \`widenet devices\`"
    fi
  fi
fi
export DEVICE=${DEVICE:-} DEVICE_LINE
if [ -n "$DEVICE" ]; then export WIDENET_DEVICE=$DEVICE WIDENET_BACKEND=opencl; fi
setup_notes="$setup_notes; device ${DEVICE:-none}${DEVICE_LINE:+ ($DEVICE_LINE, $DEVICE_SOURCE)}; python ${PY:-none with numpy}"
grep -E '^\[[0-9]+\] ' "$WORK/setup/devices.txt" 2>/dev/null | tee -a "$WORK/round.log"
say "   $setup_notes"
add_row setup "$setup_status" "" $(( $(now) - setup_t0 )) "$setup_limit" 0 "$setup_notes"
copy_out setup

# Without the binary or an NVIDIA device (and no DEVICE given): what the probe found, the peers, stop.
no_gpu_reason=""
if [ -z "$W" ]; then no_gpu_reason="no widenet binary ($setup_notes)"
elif [ -z "$DEVICE" ]; then no_gpu_reason="no NVIDIA OpenCL device (see probe/)"; fi
if [ -n "$no_gpu_reason" ]; then say "   $no_gpu_reason: only probe and peers run"; fi

# --- the stages ----------------------------------------------------------------------------------
for s in $ALL_STAGES; do
  case " $STAGES " in *" $s "*) ;; *) continue ;; esac
  CURRENT=$s
  if [ -n "$STOPPED" ]; then add_row "$s" skipped "" 0 0 0 "not started: $STOPPED"; continue; fi
  if [ -n "$no_gpu_reason" ] && [ "$s" != peers ] && { [ "$s" != probe ] || [ ! -r "$PROBE" ]; }; then
    add_row "$s" skipped "" 0 0 0 "$no_gpu_reason"; copy_out "$s"; continue
  fi
  limit=$(budget_of "$s")
  left=$(( DEADLINE - $(now) - RESERVE ))
  [ "$limit" -le "$left" ] || limit=$left
  if [ "$limit" -lt 5 ]; then
    say "== $s: skipped, the round's deadline (${ROUND_SECONDS}s) is spent"
    add_row "$s" skipped "" 0 0 0 "not started: the round's ${ROUND_SECONDS}s were spent"; copy_out "$s"; continue
  fi
  log "$s (limit ${limit}s)"
  run_stage "$s" "$limit"
  case "$RC" in
    0) status=ok ;;
    124|137) status=timed_out ;;
    *) status=failed ;;
  esac
  [ -z "$STOPPED" ] || status=interrupted
  stage_note=""; [ -r "$WORK/$s/note" ] && stage_note=$(head -n1 "$WORK/$s/note")
  [ "$status" != timed_out ] || stage_note="timed out after ${SECS}s (limit ${limit}s)${stage_note:+; $stage_note}"
  sed 's/^/   /' "$WORK/$s/stage.log" | tail -n 60
  say "   $s: $status (rc $RC, ${SECS}s)${stage_note:+: $stage_note}"
  if command -v nvidia-smi >/dev/null 2>&1 && [ "$PEERS_DEVICE" = cuda ]; then
    apps=$(timeout 10 nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader 2>/dev/null)
    [ -z "$apps" ] || say "   GPU still in use after $s: $apps"
  fi
  add_row "$s" "$status" "$RC" "$SECS" "$limit" "$LEFTOVER" "$stage_note"
  copy_out "$s"
done

CURRENT=end
[ -n "$STOPPED" ] || FINISHED=true
nok=0; for r in ${STAGE_ROWS[@]+"${STAGE_ROWS[@]}"}; do case "$r" in *'"status": "ok"'*) nok=$((nok + 1)) ;; esac; done
log "$([ -n "$STOPPED" ] && echo "stopped ($STOPPED)" || echo "done"): $nok of ${#STAGE_ROWS[@]} rows ok (setup included), $(( $(now) - T0 ))s; results in $FINAL"
copy_out end
rm -rf "$RUNS" 2>/dev/null
[ -z "$STOPPED" ] || exit 143
exit 0

#!/usr/bin/env python3
"""The width split over MPI ranks on the CPU backend: strong and weak scaling, and what the exchange costs.

Every run is `widenet train --backend cpu --n 256 --d 64 --precision f32` with the default blocks; the time
per step is summary.json's "seconds_per_step" (the update and the forward pass, the forward's allgather
included), the median over --rounds interleaved rounds, with its min-max.
  strong    m = 2^20 on K = 1 and K = 2 ranks: speed-up T1/T2, efficiency T1/(2*T2).
  weak      2^19 neurons per rank: K = 1 at m = 2^19 against K = 2 at m = 2^20 (the strong K = 2 run,
            run once): efficiency T1/T2.
  exchange  (a) summary.json "exchange.seconds_per_step" of the K = 2 run: time inside the step's
            collectives, the wait for the slower rank included; (b) Benchmarks/mpi_allgather_time.c
            (compiled here with mpicc): MPI_Allgather of the run's own per-rank send size
            (max blocks per rank * n * 8 bytes) alone, 2000 repetitions after warm-up: the wire cost.
Ceiling: on one machine the ranks share its cores (each rank runs cores/K workers), so the ideal here is
T2 = T1 for strong scaling (not T1/2) and T2 = 2*T1 for weak scaling; the "one machine" efficiencies
(T1/T2 and 2*T1/T2) are against that ideal, the plain ones against K machines' worth of cores.
Every configuration runs with the OpenBLAS variables as the machine sets them and with OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE unset in that command alone (as cpu_ceiling.py does).

    python3 Benchmarks/mpi_scaling.py                    # 5 rounds -> Benchmarks/results/mpi_scaling.{json,md}
    python3 Benchmarks/mpi_scaling.py --quick --binary .build/debug/widenet   # tiny, to test the script
"""
import argparse, json, os, platform, shlex, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Containers lack cross-memory attach, which Open MPI's shared-memory transport uses by default.
MPI_ENV = {"OMPI_MCA_btl_vader_single_copy_mechanism": "none"}
# Open MPI 4 binds each rank to one core when np <= 2 and widenet's workers follow the binding:
# unbound, each of the K ranks runs cores/K workers wherever the kernel schedules them.
MPIRUN_ARGS = "--oversubscribe --allow-run-as-root --bind-to none"


def log(msg):
    print(f"[mpi_scaling {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env_for(setting):
    env = dict(os.environ)
    for k, v in MPI_ENV.items():
        env.setdefault(k, v)
    if setting == "unset":
        for v in OPENBLAS_VARS:
            env.pop(v, None)
    return env


def most_blocks(blocks, k):
    """The most blocks any of k ranks holds (WidthPartition.blocks(rank:of:))."""
    return max(blocks * (r + 1) // k - blocks * r // k for r in range(k))


def train_cmd(a, k, m, out):
    cmd = [a.binary, "train", "--backend", "cpu", "--precision", "f32", "--n", str(a.n), "--d", str(a.d),
           "--width", str(m), "--steps", str(a.steps), "--log-every", str(a.steps), "--no-checkpoint", "--quiet",
           "--out", out]
    if a.block_width:
        cmd += ["--block-width", str(a.block_width)]
    return (["mpirun", "-np", str(k)] + shlex.split(a.mpirun_args) + cmd) if k > 1 else cmd


def run_train(a, k, m, env):
    """One run: its summary.json and resolved config (the run directory is removed)."""
    tmp = tempfile.mkdtemp(prefix="mpi_scaling-")
    try:
        out = os.path.join(tmp, "run")
        r = subprocess.run(train_cmd(a, k, m, out), env=env, capture_output=True, text=True, timeout=a.timeout)
        if r.returncode != 0:
            raise RuntimeError(f"K={k} m={m}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[-400:]}")
        summary = json.load(open(os.path.join(out, "summary.json")))
        resolved = json.load(open(os.path.join(out, "config.json"))).get("resolved", {})
        return summary, resolved
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_allgather(tmp):
    exe = os.path.join(tmp, "mpi_allgather_time")
    r = subprocess.run(["mpicc", "-O2", "-o", exe, os.path.join(HERE, "mpi_allgather_time.c")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"mpicc: {r.stderr.strip()[-400:]}")
    return exe


def allgather_cmd(a, exe, k, nbytes):
    return ["mpirun", "-np", str(k)] + shlex.split(a.mpirun_args) + [exe, str(nbytes), str(a.reps), str(a.warmup)]


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except Exception as ex:
        return f"unavailable ({ex})"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "all": xs} if xs else None


def fmt_ms(s):
    return "-" if s is None else f"{1e3 * s['median']:.3g} ({1e3 * s['min']:.3g}–{1e3 * s['max']:.3g})"


def ratio(x, y, scale=1.0):
    return None if x is None or y is None else scale * x["median"] / y["median"]


def f2(x):
    return "-" if x is None else f"{x:.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build/release/widenet"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="steps per run (a few seconds at 2^20 on a CPU)")
    p.add_argument("--block-width", type=int, default=None, help="passed to widenet (default: its own blocks)")
    p.add_argument("--reps", type=int, default=2000, help="timed MPI_Allgather repetitions")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--mpirun-args", default=MPIRUN_ARGS)
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 steps, 1 round, to test the script")
    p.add_argument("--out", default=None, help="path prefix of the .json and .md (default "
                   "Benchmarks/results/mpi_scaling; with --quick a temporary directory)")
    a = p.parse_args()
    a.n, a.d, strong_m, per_rank = 256, 64, 2 ** 20, 2 ** 19
    if a.quick:
        a.n, a.d, strong_m, per_rank, a.steps, a.rounds, a.reps, a.warmup = 32, 8, 4096, 2048, 2, 1, 200, 20
        a.block_width = a.block_width or 1024
    if a.out is None:
        a.out = os.path.join(tempfile.mkdtemp(prefix="mpi_scaling-quick-"), "mpi_scaling") if a.quick \
            else os.path.join(HERE, "results/mpi_scaling")
    if not os.access(a.binary, os.X_OK):
        sys.exit(f"error: {a.binary} is not an executable (swift build -c release first)")
    if shutil.which("mpirun") is None:
        sys.exit("error: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)")

    # (name, K, m); the weak K = 2 point is the strong K = 2 run.
    configs = [("strong K=1", 1, strong_m), ("K=2", 2, strong_m), ("weak K=1", 1, per_rank)]
    settings = ("as set", "unset")
    raw, notes, resolved, exchange, device = {}, [], {}, {}, {}
    wire = []
    tmp = tempfile.mkdtemp(prefix="mpi_allgather-")
    try:
        try:
            exe = build_allgather(tmp)
        except Exception as ex:   # the runs' own exchange figure remains
            exe = None
            notes.append(f"microbenchmark not built: {ex}")
        send_bytes = None
        for r in range(a.rounds):
            for setting in settings:
                env = env_for(setting)
                for i in range(len(configs)):
                    name, k, m = configs[(i + r) % len(configs)]   # rotate the order: no run always goes first
                    log(f"round {r + 1}/{a.rounds}, OpenBLAS variables {setting}: {name}, m={m}")
                    try:
                        s, res = run_train(a, k, m, env)
                    except Exception as ex:
                        notes.append(str(ex))
                        continue
                    raw.setdefault((setting, name), []).append(s["seconds_per_step"])
                    raw.setdefault((setting, name, "wall"), []).append(s["wall_seconds"])
                    resolved[name], device = res, {"device": s.get("device"), "driver": res.get("driver")}
                    if k > 1:
                        xs = s.get("exchange") or {}
                        exchange.setdefault(setting, []).append(xs)
                        if xs.get("seconds_per_step") is not None:
                            raw.setdefault((setting, name, "exchange"), []).append(xs["seconds_per_step"])
                        send_bytes = most_blocks(res["blocks"], k) * a.n * 8
            if exe and send_bytes:
                log(f"round {r + 1}/{a.rounds}: MPI_Allgather of {send_bytes} bytes per rank, K=2")
                try:
                    out = subprocess.run(allgather_cmd(a, exe, 2, send_bytes), env=env_for("as set"), capture_output=True,
                                         text=True, timeout=600, check=True).stdout
                    wire.append(json.loads(out.strip().splitlines()[-1]))
                except Exception as ex:
                    notes.append(f"microbenchmark: {ex}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    st = {k: spread(v) for k, v in raw.items()}
    rows = []
    for setting in settings:
        t1, t2, tw = st.get((setting, "strong K=1")), st.get((setting, "K=2")), st.get((setting, "weak K=1"))
        ex = st.get((setting, "K=2", "exchange"))
        rows.append({"setting": setting, "seconds_per_step": {"K1_m%d" % strong_m: t1, "K2_m%d" % strong_m: t2,
                                                              "K1_m%d" % per_rank: tw},
                     "strong_speedup": ratio(t1, t2), "strong_efficiency": ratio(t1, t2, 0.5),
                     "strong_efficiency_one_machine": ratio(t1, t2),
                     "weak_efficiency": ratio(tw, t2), "weak_efficiency_one_machine": ratio(tw, t2, 2.0),
                     "exchange_seconds_per_step": ex, "exchange_fraction_of_step": ratio(ex, t2)})
    # The bytes the runs reported against what the layout says they should be (K * most * n * 8).
    k2_blocks = resolved.get("K=2", {}).get("blocks")
    expected = 2 * most_blocks(k2_blocks, 2) * a.n * 8 if k2_blocks else None
    reported = sorted({e.get("bytes_per_step") for v in exchange.values() for e in v})
    wire_med = spread([w["median_us"] for w in wire])
    wire_p90 = spread([w["p90_us"] for w in wire])
    mpi_env = " ".join(f"{k}={v}" for k, v in MPI_ENV.items())
    commands = {name: (mpi_env + " " if k > 1 else "") + shlex.join(train_cmd(a, k, m, "RUN_DIR")) for name, k, m in configs}
    if send_bytes:
        commands["allgather"] = "mpicc -O2 -o ALLGATHER Benchmarks/mpi_allgather_time.c && " + mpi_env + " " \
            + shlex.join(allgather_cmd(a, "ALLGATHER", 2, send_bytes))
    commands["unset"] = "each run again with env -u " + " -u ".join(OPENBLAS_VARS) + " in front"
    doc = {"schema": "widenet-mpi-scaling/1", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "host": platform.node(),
           "quick": a.quick, "machine": {"cpu": cpu_model(), "logical_cores": os.cpu_count(), "platform": platform.platform(),
                                         "widenet_device": device.get("device"), "widenet_driver": device.get("driver"),
                                         "widenet_version": first_line([a.binary, "--version"]),
                                         "mpirun": first_line(["mpirun", "--version"]), "mpicc": first_line(["mpicc", "--version"])},
           "openblas_variables": {v: os.environ.get(v) for v in OPENBLAS_VARS},
           "problem": {"n": a.n, "d": a.d, "precision": "f32", "backend": "cpu", "steps": a.steps,
                       "strong_width": strong_m, "weak_width_per_rank": per_rank,
                       "blocks": {name: res.get("blocks") for name, res in resolved.items()},
                       "block_width": {name: res.get("block_width") for name, res in resolved.items()},
                       "send_bytes_per_rank": send_bytes, "exchange_bytes_per_step_expected": expected,
                       "exchange_bytes_per_step_reported": reported},
           "rounds": a.rounds, "commands": commands, "rows": rows,
           "exchange_summaries": exchange,
           "allgather_alone": {"runs": wire, "median_us": wire_med, "p90_us": wire_p90},
           "wall_seconds": {" | ".join(k[:2]): spread(v) for k, v in raw.items() if len(k) == 3 and k[2] == "wall"},
           "notes": sorted(set(notes))}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".json", "w") as f:
        json.dump(doc, f, indent=1)

    mc = doc["machine"]
    lines = [f"# The width over MPI ranks, CPU backend: {mc['cpu']} ({mc['logical_cores']} logical cores)", "",
             f"{doc['date']}; `python3 Benchmarks/mpi_scaling.py{' --quick' if a.quick else ''}`: n={a.n}, d={a.d}, f32, "
             f"{a.steps} steps per run; milliseconds per step, medians (min–max) of {a.rounds} interleaved rounds. "
             f"{mc['widenet_driver']}; "
             f"{mc['mpirun']}; OpenBLAS variables as set: {doc['openblas_variables']}. "
             f"Blocks: {doc['problem']['blocks']}; per-rank send {send_bytes} bytes.", "",
             f"| OpenBLAS vars | K=1, m={strong_m} | K=2, m={strong_m} | K=1, m={per_rank} | strong speed-up | "
             "efficiency T1/(2·T2) | one machine T1/T2 | weak efficiency T1/T2 | one machine 2·T1/T2 | "
             "(a) exchange in step, µs | of step |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        t = row["seconds_per_step"]
        ex = row["exchange_seconds_per_step"]
        ex_s = "-" if ex is None else f"{1e6 * ex['median']:.0f} ({1e6 * ex['min']:.0f}–{1e6 * ex['max']:.0f})"
        frac = row["exchange_fraction_of_step"]
        lines.append(f"| {row['setting']} | {fmt_ms(t['K1_m%d' % strong_m])} | {fmt_ms(t['K2_m%d' % strong_m])} | "
                     f"{fmt_ms(t['K1_m%d' % per_rank])} | {f2(row['strong_speedup'])} | {f2(row['strong_efficiency'])} | "
                     f"{f2(row['strong_efficiency_one_machine'])} | {f2(row['weak_efficiency'])} | "
                     f"{f2(row['weak_efficiency_one_machine'])} | {ex_s} | {'-' if frac is None else f'{100 * frac:.1f} %'} |")
    wire_s = "not measured" if wire_med is None else (
        f"median {wire_med['median']:.1f} µs ({wire_med['min']:.1f}–{wire_med['max']:.1f} over rounds), "
        f"p90 {wire_p90['median']:.1f} µs")
    lines += ["", f"(b) MPI_Allgather of {send_bytes} bytes per rank alone, K=2, {a.reps} repetitions: {wire_s}.", "",
              "(a) is the time rank 0 spends inside the step's collectives, the wait for the slower rank included; "
              "(b) is the collective alone after a barrier, the wire cost; (a) − (b) is mostly the ranks' imbalance. "
              "One machine: the two ranks share its cores (cores/2 workers each), so the ideal is T2 = T1 (strong) "
              "and T2 = 2·T1 (weak); the plain efficiencies assume a machine per rank.",
              f"Exchange bytes per step: reported {reported}, expected K·maxBlocks·n·8 = {expected}.", ""]
    lines += [f"- `{name}`: `{c}`" for name, c in commands.items()]
    lines += [""] + [f"- note: {n}" for n in doc["notes"]]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print("\n".join(lines))
    log(f"wrote {a.out}.json and {a.out}.md")


if __name__ == "__main__":
    main()

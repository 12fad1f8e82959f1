#!/usr/bin/env python3
"""The CPU backend against this machine's ceilings and its peers, side by side in one run.

Three operations, the same shapes for every tool:
  ntk_step    one GD step of the two-layer ReLU net, n=256, d=64, m in --ntk-widths, f32:
              4nmd flops; ceiling: the 4096^3 sgemm rate measured in the same round.
  mfld_step   one mean-field Langevin step, B=256, N=--particles, d=20, for the units tanh and relu
              and the losses squared and logistic (operation names as `widenet bench` gives them:
              mfld_step, mfld_step_relu, mfld_step_logistic, mfld_step_relu_logistic).
  mfld_noise  the noise-only update P <- (1 - 2 lr lam') P + sqrt(2 lam lr) xi over N x 22 values.
              Its floors: the bytes (read and write P once) over the copy bandwidth measured in the
              same round, and the generator's vector instructions as `widenet bench` counts them
              (CPUInstructionSet.noiseInstructionsPerValue) over the vector unit's instruction rate
              (the sgemm rate over the flops of one of its instructions).
Tools: widenet (`widenet bench --backends cpu`), numpy (Benchmarks/peers/*_numpy.py), PyTorch eager,
torch.compile and jax.jit (Benchmarks/peers/gpu_peers.py --device cpu), each where it imports.
Every round runs every tool once, with the OpenBLAS variables as the machine sets them and with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in that command alone (widenet and numpy; torch and
jax do not use OpenBLAS and run once per round, in the first --framework-rounds rounds, since each
run compiles its graphs anew); medians over --rounds interleaved rounds.

    python3 Benchmarks/cpu_ceiling.py                    # 5 rounds, writes Benchmarks/results/cpu_ceiling.{json,md}
    python3 Benchmarks/cpu_ceiling.py --quick --json /tmp/c.json --table /tmp/c.md   # small, to test the script
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
MFLD_OPS = ("mfld_step", "mfld_step_relu", "mfld_step_logistic", "mfld_step_relu_logistic")
MFLD_COMBOS = {"mfld_step": ("tanh", "squared"), "mfld_step_relu": ("relu", "squared"),
               "mfld_step_logistic": ("tanh", "logistic"), "mfld_step_relu_logistic": ("relu", "logistic")}
def log(msg):
    print(f"[cpu_ceiling {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env_for(setting):
    env = dict(os.environ)
    if setting == "unset":
        for v in OPENBLAS_VARS:
            env.pop(v, None)
    return env


def run_json(cmd, env, timeout):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    return r.stdout


def widenet_bench(a, width, env):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        run_json([a.widenet, "bench", "--backends", "cpu", "--gemm-sizes", str(a.gemm_size), "--ntk-width", str(width),
                  "--particles", str(a.particles), "--repeats", str(a.repeats), "--json", out, "--quiet"], env, 1800)
        doc = json.load(open(out))
    b = doc["backends"][0]
    return {m["operation"]: m for m in b["measurements"]}, b


def numpy_peers(a, env):
    py = a.python
    res = {}
    for m in a.ntk_widths:
        out = run_json([py, os.path.join(HERE, "peers/ntk_step_numpy.py"), "--width", str(m), "--steps", str(a.numpy_steps)], env, 1800)
        res[("ntk_step", m)] = json.loads(out)["seconds_per_step"]
    for op in MFLD_OPS:
        unit, loss = MFLD_COMBOS[op]
        out = json.loads(run_json([py, os.path.join(HERE, "peers/mfld_step_numpy.py"), "--particles", str(a.particles),
                                   "--steps", str(a.numpy_steps), "--unit", unit, "--loss", loss], env, 1800))
        res[(op, a.particles)] = out["seconds_per_step"]
        if op == "mfld_step":
            res[("mfld_noise", a.particles)] = out["noise_seconds_per_step"]
    return res


def framework_peers(a, env):
    """torch eager, torch.compile and jax.jit through gpu_peers.py on the CPU: {(tool, op, size): s}."""
    res, notes = {}, []
    for i, m in enumerate(a.ntk_widths):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "peers.json")
            sections = "ntk,mfld" if i == 0 else "ntk"
            cmd = [a.python, os.path.join(HERE, "peers/gpu_peers.py"), "--device", "cpu", "--only", "torch,jax",
                   "--sections", sections, "--ntk-width", str(m), "--check-width", "1024", "--mfld-particles", str(a.particles),
                   "--mfld-units", "tanh,relu", "--mfld-losses", "squared,logistic", "--compile-modes", "default",
                   "--mfld-compile-modes", "default", "--repeats", str(a.repeats), "--warmup", "1",
                   "--budget-seconds", str(a.peer_budget), "--json", out]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.peer_budget + 120)
            if not os.path.exists(out):
                notes.append(f"gpu_peers.py width {m}: no result (exit {r.returncode}): {r.stderr.strip()[-300:]}")
                continue
            doc = json.load(open(out))
        for s in doc.get("skipped", []):
            notes.append(f"{s.get('framework')} {s.get('what')}: {s.get('reason')}")
        for rec in doc.get("measurements", []):
            kind = rec.get("kind")
            if kind not in ("ntk_step", "mfld_noise") + MFLD_OPS or rec.get("precision", "f32").split("-")[0] != "f32":
                continue
            variant = rec.get("variant", "")
            tool = {"torch": "torch eager" if variant in ("eager", "default", "") else "torch.compile",
                    "jax": "jax.jit"}.get(rec["framework"], rec["framework"])
            size = m if kind == "ntk_step" else a.particles
            res[(tool, kind, size)] = rec["ms_median"] / 1e3
    return res, notes


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widenet", default=os.path.join(ROOT, ".build/release/widenet"))
    p.add_argument("--python", default=os.environ.get("WIDENET_BENCH_PYTHON", sys.executable),
                   help="the interpreter of the peers (a virtual environment with numpy, torch, jax)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="timed repeats inside each tool per round")
    p.add_argument("--ntk-widths", default="65536,262144")
    p.add_argument("--particles", type=int, default=2 ** 18)
    p.add_argument("--gemm-size", type=int, default=4096)
    p.add_argument("--numpy-steps", type=int, default=3)
    p.add_argument("--peer-budget", type=float, default=900, help="seconds for the torch/jax peers per round")
    p.add_argument("--no-frameworks", action="store_true", help="leave out torch and jax")
    p.add_argument("--framework-rounds", type=int, default=3,
                   help="rounds in which torch and jax run (each compiles its graphs anew: minutes)")
    p.add_argument("--quick", action="store_true", help="small sizes and 2 rounds, to test the script")
    p.add_argument("--json", default=os.path.join(HERE, "results/cpu_ceiling.json"))
    p.add_argument("--table", default=os.path.join(HERE, "results/cpu_ceiling.md"))
    a = p.parse_args()
    a.ntk_widths = [int(s) for s in a.ntk_widths.split(",") if s]
    if a.quick:
        a.rounds, a.ntk_widths, a.particles, a.gemm_size, a.numpy_steps, a.repeats, a.framework_rounds = 2, [4096], 8192, 512, 1, 2, 1
    if not os.access(a.widenet, os.X_OK):
        sys.exit(f"error: {a.widenet} is not an executable (swift build -c release first)")

    settings = ("as set", "unset")
    raw = {}   # (setting, tool, op, size) -> [seconds per round]
    ceilings = {s: {"sgemm_gflops": [], "copy_gbs": []} for s in settings}
    notes, device, counts = [], None, {}
    for r in range(a.rounds):
        for setting in settings:
            env = env_for(setting)
            for i, m in enumerate(a.ntk_widths):
                log(f"round {r + 1}/{a.rounds}, OpenBLAS variables {setting}: widenet m={m}")
                ops, device = widenet_bench(a, m, env)
                raw.setdefault((setting, "widenet", "ntk_step", m), []).append(ops["ntk_step"]["seconds"])
                if i == 0:
                    ceilings[setting]["sgemm_gflops"].append(ops["gemm"]["flops"] / ops["gemm"]["seconds"] / 1e9)
                    ceilings[setting]["copy_gbs"].append(ops["copy"]["bytes"] / ops["copy"]["seconds"] / 1e9)
                    for op in MFLD_OPS + ("mfld_noise",):
                        raw.setdefault((setting, "widenet", op, a.particles), []).append(ops[op]["seconds"])
                    # The generator's counted instructions and the flops of one of sgemm's (widenet's counts).
                    counts["instructions"] = ops["mfld_noise"]["vector_instructions"]
                    counts["flops_per_instruction"] = device.get("best_gemm_gflop_per_s", device.get("peak_gflop_per_s")) * 1e9 / device["vector_instructions_per_s"]
            log(f"round {r + 1}/{a.rounds}, OpenBLAS variables {setting}: numpy")
            try:
                for (op, size), s in numpy_peers(a, env).items():
                    raw.setdefault((setting, "numpy", op, size), []).append(s)
            except Exception as ex:   # a missing peer is recorded, not fatal
                notes.append(f"numpy: {ex}")
        if not a.no_frameworks and r < a.framework_rounds:
            log(f"round {r + 1}/{a.rounds}: torch and jax")
            res, n = framework_peers(a, env_for("as set"))
            notes += n
            for (tool, op, size), s in res.items():
                for setting in settings:   # they do not read the OpenBLAS variables
                    raw.setdefault((setting, tool, op, size), []).append(s)

    med = {k: median(v) for k, v in raw.items()}
    rows = []
    for setting in settings:
        sg = median(ceilings[setting]["sgemm_gflops"]); cp = median(ceilings[setting]["copy_gbs"])
        tools = sorted({k[1] for k in med if k[0] == setting and k[1] != "widenet"})
        sizes = [("ntk_step", m) for m in a.ntk_widths] + [(op, a.particles) for op in MFLD_OPS + ("mfld_noise",)]
        for op, size in sizes:
            w = med.get((setting, "widenet", op, size))
            if w is None:
                continue
            row = {"setting": setting, "operation": op, "size": size, "widenet_ms": 1e3 * w,
                   "peers_ms": {t: 1e3 * med[(setting, t, op, size)] for t in tools if (setting, t, op, size) in med}}
            if op == "ntk_step":
                flops = 4 * 256 * size * 64
                row["gflops"] = flops / w / 1e9
                row["fraction_of_sgemm"] = row["gflops"] / sg
            elif op == "mfld_noise":
                values = size * 22
                bytes_floor = 2 * values * 4 / (cp * 1e9)
                arith_floor = counts["instructions"] / (sg * 1e9 / counts["flops_per_instruction"])
                row["floor_bytes_ms"], row["floor_arithmetic_ms"] = 1e3 * bytes_floor, 1e3 * arith_floor
                row["fraction_of_floor"] = max(bytes_floor, arith_floor) / w
            row["speedup_over"] = {t: v / row["widenet_ms"] for t, v in row["peers_ms"].items()}
            rows.append(row)
    doc = {"schema": "widenet-cpu-ceiling/1", "date": time.strftime("%Y-%m-%d %H:%M:%S"), "host": platform.node(),
           "cpu": device.get("device") if device else None, "driver": device.get("driver") if device else None,
           "openblas_variables": {v: os.environ.get(v) for v in OPENBLAS_VARS}, "rounds": a.rounds,
           "repeats_per_round": a.repeats, "framework_rounds": 0 if a.no_frameworks else min(a.rounds, a.framework_rounds), "generator_instructions_per_value": counts.get("instructions", 0) / (a.particles * 22),
           "flops_per_vector_instruction": counts.get("flops_per_instruction"),
           "ceilings": {s: {"sgemm_gflops": median(c["sgemm_gflops"]), "copy_gbs": median(c["copy_gbs"]),
                            "sgemm_gflops_all": c["sgemm_gflops"], "copy_gbs_all": c["copy_gbs"]} for s, c in ceilings.items()},
           "rows": rows, "seconds": {" | ".join(map(str, k)): v for k, v in raw.items()}, "notes": sorted(set(notes))}
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
    lines = [f"# CPU ceilings: {doc['cpu']}", "",
             f"Medians of {a.rounds} interleaved rounds (`python3 Benchmarks/cpu_ceiling.py`), {doc['date']}. "
             f"OpenBLAS variables as set: {doc['openblas_variables']}.", ""]
    for s, c in doc["ceilings"].items():
        lines.append(f"- OpenBLAS variables {s}: sgemm {a.gemm_size}^3 {c['sgemm_gflops']:.1f} GFLOP/s, copy {c['copy_gbs']:.1f} GB/s")
    lines += ["", "| OpenBLAS vars | operation | size | widenet ms | of ceiling | " + " | ".join(
        ["numpy", "torch eager", "torch.compile", "jax.jit"]) + " |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        frac = row.get("fraction_of_sgemm", row.get("fraction_of_floor"))
        peers = [f"{row['peers_ms'][t]:.1f} ({row['speedup_over'][t]:.2f}x)" if t in row["peers_ms"] else "-"
                 for t in ("numpy", "torch eager", "torch.compile", "jax.jit")]
        lines.append(f"| {row['setting']} | {row['operation']} | {row['size']} | {row['widenet_ms']:.1f} | "
                     f"{'-' if frac is None else f'{frac:.2f}'} | " + " | ".join(peers) + " |")
    lines += ["", "Peers: milliseconds (widenet's speed-up over them). Ceiling: ntk_step's fraction of the sgemm rate; "
              "mfld_noise's of the larger of its floors (bytes over the copy bandwidth, generator arithmetic over the "
              "vector rate).", ""] + [f"- note: {n}" for n in doc["notes"]]
    with open(a.table, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Time and memory per residual block at width 4096 on this CPU: `widenet resnet --experiment train`
against the same network in PyTorch eager, side by side in one run.

The network (ARCHITECTURE.md §1.4): x_0 = E x, x_{l+1} = x_l + h V_l tanh(U_l x_l + c_l), f = wᵀx_L + b,
loss ½·mean (f − y)², one Adam step per update, f32, P points of a tanh teacher (d₀ = 16), state D,
block width m = 4096. Per block and update the GEMMs do 12·P·m·D flops (forward x Uᵀ and A Vᵀ,
backward ∂V, δ = G V, ∂U, G ← G + δU; 2·P·m·D each) plus O(P·m) element-wise work; the block keeps
2·P·m activation values (Z, A), P·D of state and 4·(2mD + m) of parameters, gradient and moments.

Per-block figures are slopes: each tool runs at two depths (L_lo, L_hi) and the time per update
and the peak resident memory are differenced, (X(L_hi) − X(L_lo)) / (L_hi − L_lo), so start-up, the
embedding and the read-out drop out. Times are medians over --rounds interleaved rounds. The
ceiling is numpy's float32 matmul of the block's shape (P×D)·(D×m), measured in the same round
(same OpenBLAS as widenet's CPU backend). widenet and numpy run with the OpenBLAS variables as the
machine sets them and with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in that command alone.

    python3 Benchmarks/resnet_blocks.py --widenet .build/release/widenet --python .build/torch-venv/bin/python
        writes Benchmarks/results/resnet_blocks.{json,md}
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from cpu_ceiling import env_for  # the OpenBLAS variables as set, or unset in that command alone

TORCH_SCRIPT = r"""
import json, sys, time, resource, torch
P, d0, D, m, L, steps, warm = map(int, sys.argv[1:8])
torch.set_num_threads(int(sys.argv[8]))
torch.manual_seed(0)
g = torch.Generator().manual_seed(1)
x = torch.randn(P, d0, generator=g) / d0 ** 0.5
y = torch.randn(P, generator=g)
h = 1.0 / L
E = torch.nn.Parameter(torch.randn(D, d0) / d0 ** 0.5)
U = [torch.nn.Parameter(torch.randn(m, D) / D ** 0.5) for _ in range(L)]
c = [torch.nn.Parameter(0.5 * torch.randn(m)) for _ in range(L)]
V = [torch.nn.Parameter(torch.randn(D, m) / m ** 0.5) for _ in range(L)]
w = torch.nn.Parameter(torch.randn(D) / D ** 0.5)
b = torch.nn.Parameter(torch.zeros(()))
params = [E, *U, *c, *V, w, b]
opt = torch.optim.Adam(params, lr=1e-3)
def step():
    opt.zero_grad(set_to_none=False)
    s = x @ E.T
    for l in range(L):
        s = s + h * torch.tanh(s @ U[l].T + c[l]) @ V[l].T
    loss = 0.5 * ((s @ w + b - y) ** 2).mean()
    loss.backward()
    opt.step()
    return loss
for _ in range(warm): step()
t0 = time.perf_counter()
for _ in range(steps): step()
dt = (time.perf_counter() - t0) / steps
print(json.dumps({"seconds_per_step": dt, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
"""

NUMPY_SCRIPT = r"""
import json, sys, time, numpy as np
P, D, m, reps = map(int, sys.argv[1:5])
rng = np.random.default_rng(0)
a = rng.standard_normal((P, D), dtype=np.float32); b = rng.standard_normal((D, m), dtype=np.float32)
a @ b
best = []
for _ in range(3):
    t0 = time.perf_counter()
    for _ in range(reps): a @ b
    best.append((time.perf_counter() - t0) / reps)
t = min(best)
print(json.dumps({"seconds": t, "gflops": 2 * P * D * m / t / 1e9, "numpy": np.__version__}))
"""


def log(msg):
    print(f"[resnet_blocks {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_rss(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns (stdout, peak RSS bytes)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(["/usr/bin/time", "-v", "-o", t.name] + cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip().splitlines()[-1:]}")
        rss = next(int(line.split(":")[1]) * 1024 for line in open(t.name) if "Maximum resident set size" in line)
    return p.stdout, rss


def widenet_run(args, depth, setting):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        cmd = [args.widenet, "resnet", "--experiment", "train", "--task", "teacher", "--input-dim", "16", "--n", str(args.points),
               "--test-size", "0", "--dim", str(args.dim), "--width", str(args.width), "--depth", str(depth), "--steps", str(args.steps),
               "--optimizer", "adam", "--lr", "0.001", "--backend", "cpu", "--precision", "f32", "--no-checkpoint", "--quiet",
               "--log-every", str(args.steps), "--out", out]
        _, rss = peak_rss(cmd, env_for(setting))
        s = json.load(open(os.path.join(out, "summary.json")))
    return {"seconds_per_step": s["seconds_per_step"], "peak_rss_bytes": rss}


def torch_run(args, depth):
    cmd = [args.python, "-c", TORCH_SCRIPT, str(args.points), "16", str(args.dim), str(args.width), str(depth), str(args.steps),
           "2", str(os.cpu_count() or 1)]
    out, rss = peak_rss(cmd, dict(os.environ))
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss_bytes"] = rss
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widenet", default=os.path.join(ROOT, ".build/release/widenet"))
    ap.add_argument("--python", default=sys.executable, help="a python with torch (and numpy)")
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--points", type=int, default=256)
    ap.add_argument("--depths", default="2,6")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=os.path.join(HERE, "results/resnet_blocks.json"))
    ap.add_argument("--table", default=os.path.join(HERE, "results/resnet_blocks.md"))
    args = ap.parse_args()
    lo, hi = map(int, args.depths.split(","))
    P, D, m = args.points, args.dim, args.width
    flops_block = 12 * P * m * D
    samples = {k: [] for k in ["widenet as set", "widenet unset", "torch eager"]}
    ceiling = {"as set": [], "unset": []}
    for r in range(args.rounds):
        log(f"round {r + 1}/{args.rounds}")
        for setting in ("as set", "unset"):
            key = "as set" if setting == "as set" else "unset"
            runs = {L: widenet_run(args, L, key) for L in (lo, hi)}
            samples[f"widenet {key}"].append(runs)
            out = subprocess.run([args.python, "-c", NUMPY_SCRIPT, str(P), str(D), str(m), "20"], env=env_for(key), capture_output=True,
                                 text=True, check=True).stdout
            ceiling[key].append(json.loads(out))
        samples["torch eager"].append({L: torch_run(args, L) for L in (lo, hi)})
    rows, raw = [], {"shape": {"points": P, "dim": D, "width": m, "depths": [lo, hi], "steps": args.steps, "input_dim": 16},
                     "flops_per_block_update": flops_block, "machine": platform.processor() or platform.machine(),
                     "cpus": os.cpu_count(), "samples": samples, "ceiling": ceiling}
    for name, runs in samples.items():
        per_block = [(x[hi]["seconds_per_step"] - x[lo]["seconds_per_step"]) / (hi - lo) for x in runs]
        mem = [(x[hi]["peak_rss_bytes"] - x[lo]["peak_rss_bytes"]) / (hi - lo) for x in runs]
        t = statistics.median(per_block)
        setting = "unset" if name.endswith("unset") else "as set"
        gemm = statistics.median(c["gflops"] for c in ceiling[setting])
        rows.append({"tool": name, "seconds_per_block": t, "gflops": flops_block / t / 1e9, "of_sgemm": flops_block / t / 1e9 / gemm,
                     "bytes_per_block": statistics.median(mem), "sgemm_gflops": gemm,
                     "seconds_per_update": {str(L): statistics.median(x[L]["seconds_per_step"] for x in runs) for L in (lo, hi)}})
    raw["rows"] = rows
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    json.dump(raw, open(args.json, "w"), indent=1)
    kept = P * 2 * m * 4 + 4 * (2 * m * D + m) * 4
    lines = [f"# Time and memory per residual block, width {m}, on this CPU", "",
             f"`python3 Benchmarks/resnet_blocks.py` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} threads): one Adam update of "
             f"x_{{l+1}} = x_l + h V_l tanh(U_l x_l + c_l), P = {P} points, state D = {D}, m = {m}, f32; per block = the slope of the "
             f"time per update (and of the peak RSS) between depths {lo} and {hi}, medians of {args.rounds} interleaved rounds of "
             f"{args.steps} updates. A block's update is 12·P·m·D = {flops_block / 1e9:.2f} GFLOP; the ceiling is numpy's f32 matmul "
             f"({P}×{D})·({D}×{m}) in the same round. A block's buffers in widenet are {kept / 2**20:.1f} MiB (Z and A, P×m each, and "
             f"θ, its gradient and Adam's two moments, f32; the state x_l adds P·D); the peak-RSS slope also counts the host's "
             f"f64 copies of the initial parameters made at the start (drawn, uploaded, written to parameters_init.npy).", "",
             "| tool | ms per block | GFLOP/s | of sgemm | MiB per block (peak RSS slope) | sgemm GFLOP/s |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {1e3 * r['seconds_per_block']:.2f} | {r['gflops']:.1f} | {100 * r['of_sgemm']:.0f} % | "
                     f"{r['bytes_per_block'] / 2**20:.1f} | {r['sgemm_gflops']:.1f} |")
    w = next(r for r in rows if r["tool"] == "widenet as set")["seconds_per_block"]
    t = next(r for r in rows if r["tool"] == "torch eager")["seconds_per_block"]
    lines += ["", f"widenet / torch eager time per block: {w / t:.2f} (as set). Raw figures: resnet_blocks.json.", ""]
    open(args.table, "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

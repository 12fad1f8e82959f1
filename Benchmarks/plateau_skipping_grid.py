#!/usr/bin/env python3
"""Plateau skipping against plain GD on a grid of linear saddle problems (ARCHITECTURE.md §1.3).

Every problem is drawn here, not taken from the tests: step size η, initial scale σ0, the number of
teacher modes and their singular values, the shapes and the label noise. Each runs twice with the same
seed, `widenet saddle` with and without `--skip-plateaus`, for the same number of steps. Reported per
problem: GD steps to 1e-3 of the initial loss (from losses.npy), the ranks each run passes through
(every step logged: 0, 1, …, modes for both, no stage missed or taken two at once), the final losses
beside the closed-form saddle where the staircase ends (the teacher's modes learned, the label
noise's far slower ones not: Eckart–Young, the loss of the best rank-`modes` map, from the run's own
whitened x.npy and y.npy with numpy), and the wall time to the target. Writes Benchmarks/results/plateau_skipping_grid.{json,md}.

    python3 Benchmarks/plateau_skipping_grid.py [path/to/widenet]
"""
import itertools, json, math, os, subprocess, sys, tempfile
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/widenet")
RATES = [0.005, 0.01, 0.02, 0.05]
SCALES = [1e-6, 1e-7, 1e-8, 1e-9]
MODES = [3, 4, 5]
NOISE = 0.02


def problem(index, lr, scale, modes):
    rng = np.random.default_rng(20261202 + index)
    # Singular values 1.4-1.8x apart, so that GD's stages are separate drops.
    s = [rng.uniform(1.0, 2.0)]
    for _ in range(modes - 1):
        s.append(s[-1] * rng.uniform(1.4, 1.8))
    s = sorted(s, reverse=True)
    d = modes + int(rng.integers(1, 5))
    k = modes + int(rng.integers(0, 3))
    hidden = modes + int(rng.integers(0, 5))
    n = int(rng.integers(300, 700))
    seed = int(rng.integers(0, 2**31))
    slowest = math.log1p(lr * s[-1])
    steps = int(3 * math.log(1 / scale) / slowest + 20 / (lr * s[-1]))
    return dict(lr=lr, init_scale=scale, modes=modes, singular_values=[round(v, 4) for v in s], n=n, d=d, k=k,
                hidden=hidden, seed=seed, steps=steps, label_noise=NOISE)


def run(p, skip, out, target=None):
    args = [BIN, "saddle", "--n", str(p["n"]), "--d", str(p["d"]), "--k", str(p["k"]), "--hidden", str(p["hidden"]),
            "--singular-values", ",".join(str(v) for v in p["singular_values"]), "--label-noise", str(p["label_noise"]),
            "--init-scale", str(p["init_scale"]), "--lr", str(p["lr"]), "--steps", str(p["steps"]), "--seed", str(p["seed"]),
            "--log-every", "1", "--backend", "cpu", "--quiet", "--out", out] + (["--skip-plateaus"] if skip else [])
    if target is not None:
        args += ["--target-loss", repr(target)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"widenet failed ({done.returncode}): {' '.join(args)}\n{done.stderr}")
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    losses = np.load(os.path.join(out, "losses.npy"))
    hit = np.nonzero(losses <= 1e-3 * losses[0])[0]
    return summary, losses, (int(hit[0]) if hit.size else None)


def last_minimum(out, rank):
    """½‖X B_r − Y‖²/n for the best map B_r of rank ≤ rank: the least-squares map truncated by its SVD."""
    x, y = np.load(os.path.join(out, "x.npy")), np.load(os.path.join(out, "y.npy"))
    b = np.linalg.lstsq(x, y, rcond=None)[0]
    u, s, vt = np.linalg.svd(b, full_matrices=False)
    br = (u[:, :rank] * s[:rank]) @ vt[:rank]
    return 0.5 * float(np.sum((x @ br - y) ** 2)) / x.shape[0]


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (lr, scale, modes) in enumerate(itertools.product(RATES, SCALES, MODES)):
            p = problem(index, lr, scale, modes)
            # The initial loss, from a run of no steps: both runs then time 1e-3 of it, where skipping stops.
            l0 = run(dict(p, steps=0), False, os.path.join(tmp, f"{index}-start"))[0]["initial_loss"]
            gd, gd_losses, gd_steps = run(p, False, os.path.join(tmp, f"{index}-gd"), target=1e-3 * l0)
            sk, sk_losses, sk_steps = run(p, True, os.path.join(tmp, f"{index}-skip"), target=1e-3 * l0)
            floor = last_minimum(os.path.join(tmp, f"{index}-gd"), modes)
            row = dict(problem=p, initial_loss=l0,
                       gd_steps_to_1em3=gd_steps, skip_steps_to_1em3=sk_steps,
                       ratio=(gd_steps / sk_steps) if gd_steps and sk_steps else None,
                       gd_ranks_visited=gd["ranks_visited"], skip_ranks_visited=sk["ranks_visited"],
                       gd_ranks_after_drops=gd["ranks_after_drops"], skip_ranks_after_jumps=sk["ranks_after_jumps"],
                       jumps=sk["jump_count"],
                       gd_final_loss=gd["final_loss"], skip_final_loss=sk["final_loss"], last_minimum=floor,
                       gd_seconds_to_target=gd.get("seconds_to_target"), skip_seconds_to_target=sk.get("seconds_to_target"),
                       gd_final_singular_values=gd["final_singular_values"], skip_final_singular_values=sk["final_singular_values"])
            staircase = list(range(0, modes + 1))
            row["same_ranks"] = gd["ranks_visited"] == staircase and sk["ranks_visited"] == staircase
            row["same_final_loss"] = (abs(gd["final_loss"] - sk["final_loss"]) <= 1e-9 * l0
                                      and abs(gd["final_loss"] - floor) <= 1e-9 * l0)
            row["pass"] = bool(row["same_ranks"] and row["same_final_loss"] and row["ratio"] and row["ratio"] >= 5)
            rows.append(row)
            print(f"η={lr:<6} σ0={scale:.0e} modes={modes}: GD {gd_steps} steps, skipping {sk_steps} "
                  f"({row['ratio'] or 0:.1f}×), ranks {gd['ranks_visited']} / {sk['ranks_visited']} (jumps {sk['ranks_after_jumps']}), final {gd['final_loss']:.6e} / "
                  f"{sk['final_loss']:.6e} / {floor:.6e} {'ok' if row['pass'] else 'FAIL'}", flush=True)
    results = os.path.join(ROOT, "Benchmarks", "results")
    with open(os.path.join(results, "plateau_skipping_grid.json"), "w") as f:
        json.dump(dict(binary=BIN, noise=NOISE, rows=rows), f, indent=1)
    ratios = [r["ratio"] for r in rows if r["ratio"]] or [0.0]
    lines = ["# Plateau skipping against GD on a generated grid of linear saddle problems", "",
             f"`python3 Benchmarks/plateau_skipping_grid.py` ({len(rows)} problems; label noise {NOISE}; "
             f"both runs the same steps). Steps: GD steps to 1e-3 of the initial loss. Final: the loss after the "
             "run's last step, GD / skipping, and the closed-form last minimum (Eckart–Young, numpy). "
             "Seconds: wall time to 1e-3 of the initial loss.", "",
             f"Passed {sum(r['pass'] for r in rows)} of {len(rows)}; ratio min {min(ratios):.1f}×, median "
             f"{float(np.median(ratios)):.1f}×, max {max(ratios):.1f}×.", "",
             "| η | σ0 | s | GD steps | skip steps | ratio | ranks visited (GD / skip) | final GD | final skip | last minimum | s GD | s skip |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    def fmt(v, spec):
        return "—" if v is None else format(v, spec)
    for r in rows:
        p = r["problem"]
        ranks = lambda v: ",".join(str(int(x)) for x in v)
        lines.append(f"| {p['lr']} | {p['init_scale']:.0e} | {','.join(f'{v:.2f}' for v in p['singular_values'])} | "
                     f"{r['gd_steps_to_1em3']} | {r['skip_steps_to_1em3']} | {fmt(r['ratio'], '.1f')} | "
                     f"{ranks(r['gd_ranks_visited'])} / {ranks(r['skip_ranks_visited'])} | "
                     f"{r['gd_final_loss']:.9e} | {r['skip_final_loss']:.9e} | {r['last_minimum']:.9e} | "
                     f"{fmt(r['gd_seconds_to_target'], '.3f')} | {fmt(r['skip_seconds_to_target'], '.3f')} |")
    with open(os.path.join(results, "plateau_skipping_grid.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    failed = [r for r in rows if not r["pass"]]
    if failed:
        print(f"{len(failed)} problems failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

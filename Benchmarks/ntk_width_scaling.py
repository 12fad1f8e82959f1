#!/usr/bin/env python3
"""The NTK-regime checks of ARCHITECTURE.md §1.1 across widths, from `widenet train` runs:
the loss stays under (1 − ηλ0/2)^k ‖u(0) − y‖², the trajectory approaches the kernel prediction,
and the largest weight movement falls like 1/√m (slope of a log-log fit).

    python3 Benchmarks/ntk_width_scaling.py --widenet PATH --out DIR [--widths 4096,...] [--steps 300]

Writes DIR/scaling.json and prints a table. Until `widenet sweep` exists this is the sweep.
"""
import argparse, json, math, os, subprocess, sys

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--widenet", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--widths", default=",".join(str(2**k) for k in range(12, 21, 2)))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default="cpu")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for m in [int(w) for w in a.widths.split(",")]:
        run = os.path.join(a.out, f"m{m}")
        cmd = [a.widenet, "train", "--backend", a.backend, "--n", str(a.n), "--d", str(a.d), "--width", str(m),
               "--steps", str(a.steps), "--seed", str(a.seed), "--gram-every", str(a.steps // 3), "--quiet", "--out", run]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        s = json.load(open(os.path.join(run, "summary.json")))
        rows.append({k: s.get(k) for k in ["width", "lr", "lambda0", "initial_loss", "final_loss", "bound_holds",
                                           "max_kernel_deviation", "final_max_move", "final_flip_fraction",
                                           "lambda_min_h_initial", "lambda_min_h_final", "seconds_per_step"]})
        print(f"m={m}: done", file=sys.stderr)
    xs = [math.log(r["width"]) for r in rows]
    def slope(key):
        ys = [math.log(r[key]) for r in rows]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    result = {"n": a.n, "d": a.d, "steps": a.steps, "seed": a.seed, "backend": a.backend, "runs": rows,
              "slope_max_move": slope("final_max_move"), "slope_kernel_deviation": slope("max_kernel_deviation"),
              "slope_flip_fraction": slope("final_flip_fraction")}
    json.dump(result, open(os.path.join(a.out, "scaling.json"), "w"), indent=2)
    print(f"{'width':>9} {'final loss':>11} {'bound':>6} {'kernel dev':>11} {'max move':>9} {'flips':>9} {'λmin H(0)':>10} {'λmin H(k)':>10} {'s/step':>8}")
    for r in rows:
        print(f"{r['width']:>9} {r['final_loss']:>11.3e} {str(r['bound_holds']):>6} {r['max_kernel_deviation']:>11.3e} "
              f"{r['final_max_move']:>9.3e} {r['final_flip_fraction']:>9.2e} {r['lambda_min_h_initial']:>10.4f} "
              f"{r['lambda_min_h_final']:>10.4f} {r['seconds_per_step']:>8.4f}")
    print(f"log-log slopes against m: max move {result['slope_max_move']:.3f} (theory −0.5), "
          f"kernel deviation {result['slope_kernel_deviation']:.3f}, flip fraction {result['slope_flip_fraction']:.3f}")

if __name__ == "__main__":
    main()

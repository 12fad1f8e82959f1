#!/usr/bin/env python3
"""The `widenet resnet` experiments at the sizes their figures use, with the figures' key numbers in one
table: training on circles in 2-D and 3-D states (and RevNet blocks in 2-D and 4-D, which are
invertible, so the 2-D RevNet cannot separate them), training at growing depth (the learned maps' gap
between successive depths and its order in h), boosting against layer-by-layer GD, and the
non-Lipschitz field. Each run keeps its directory (report.html with the figures) under --runs.

    python3 Benchmarks/resnet_experiments.py .build/release/widenet
        writes Benchmarks/results/resnet_experiments.{json,md}; run directories in runs/resnet-experiments/
"""
import json, os, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(widenet, name, args, runs):
    out = os.path.join(runs, name)
    subprocess.run(["rm", "-rf", out], check=True)
    t0 = time.time()
    p = subprocess.run([widenet, "resnet", "--quiet", "--out", out] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{name}: widenet resnet {' '.join(args)} failed: {p.stderr.strip().splitlines()[-1:]}")
    s = json.load(open(os.path.join(out, "summary.json")))
    return {"command": "widenet resnet " + " ".join(args), "seconds": time.time() - t0, "summary": s}


def main():
    widenet = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/widenet")
    runs = os.path.join(ROOT, "runs", "resnet-experiments")
    os.makedirs(runs, exist_ok=True)
    train = ["--experiment", "train", "--task", "circles", "--depth", "32", "--steps", "1500", "--n", "512", "--test-size", "512",
             "--backend", "cpu"]
    r = {
        "circles-dim2": run(widenet, "circles-dim2", train + ["--dim", "2"], runs),
        "circles-dim3": run(widenet, "circles-dim3", train + ["--dim", "3"], runs),
        "revnet-dim2": run(widenet, "revnet-dim2", train + ["--dim", "2", "--scheme", "revnet"], runs),
        "revnet-dim4": run(widenet, "revnet-dim4", train + ["--dim", "4", "--scheme", "revnet"], runs),
        "depth-sweep": run(widenet, "depth-sweep", ["--experiment", "train", "--task", "spirals", "--depths", "4,8,16,32,64,128,256",
                                                    "--steps", "300", "--optimizer", "gd", "--lr", "0.05", "--n", "256",
                                                    "--test-size", "256", "--backend", "cpu"], runs),
        "boost": run(widenet, "boost", ["--experiment", "boost", "--task", "spirals", "--steps", "64", "--n", "512",
                                        "--test-size", "512", "--width", "32", "--dim", "3", "--lr", "0.3"], runs),
        "non-lipschitz": run(widenet, "non-lipschitz", ["--experiment", "non-lipschitz", "--depths", "8,16,32,64,128,256,512,1024"], runs),
    }
    json.dump(r, open(os.path.join(HERE, "results/resnet_experiments.json"), "w"), indent=1)
    c2, c3 = r["circles-dim2"]["summary"], r["circles-dim3"]["summary"]
    r2, r4 = r["revnet-dim2"]["summary"], r["revnet-dim4"]["summary"]
    sw, b, nl = r["depth-sweep"]["summary"], r["boost"]["summary"], r["non-lipschitz"]["summary"]

    def interval(o):
        i = o.get("interval") or [float("nan")] * 2
        return f"[{i[0]:.3f}, {i[1]:.3f}]"
    order = sw.get("map_gap_order", {})
    lines = [f"# `widenet resnet` experiments ({time.strftime('%Y-%m-%d')}, release build, 2 threads)", "",
             "`python3 Benchmarks/resnet_experiments.py` (commands in resnet_experiments.json; figures in each run's report.html).", "",
             "| experiment | result |", "|---|---|",
             f"| train, circles, L = 32, 1500 Adam updates, state D = 2 | final loss {c2['final_loss']:.4f}, test accuracy {c2['final_test_accuracy']:.3f} |",
             f"| the same, D = 3 | final loss {c3['final_loss']:.4f}, test accuracy {c3['final_test_accuracy']:.3f} |",
             f"| the same, revnet blocks, D = 2 | final loss {r2['final_loss']:.4f}, test accuracy {r2['final_test_accuracy']:.3f}; "
             f"states rebuilt from x_L within {r2['revnet_reconstruction_error']:.1e} (f32) |",
             f"| the same, revnet blocks, D = 4 | final loss {r4['final_loss']:.4f}, test accuracy {r4['final_test_accuracy']:.3f}; "
             f"states rebuilt from x_L within {r4['revnet_reconstruction_error']:.1e} (f32) |",
             f"| train at L = 4…256, spirals, 300 GD updates (blocks' step η/h) | final losses {', '.join(f'{v:.4f}' for v in sw['final_losses'])}; "
             f"gap between successive learned maps {', '.join(f'{v:.2e}' for v in sw['map_gaps'])}, order in h "
             f"{order.get('order') if order.get('order') is not None else float('nan'):.3f} {interval(order)} |",
             f"| boost, spirals, 64 blocks of width 32 | training loss {b['final_loss']:.4f} (rate α = {b['boost_rate']['rate']:.3f} "
             f"{interval(b['boost_rate'])}), test {b['final_test_loss']:.4f}; layer by layer {b['final_layerwise_loss']:.4f} "
             f"(α = {b['layerwise_rate']['rate']:.3f} {interval(b['layerwise_rate'])}), test {b['final_layerwise_test_loss']:.4f} |"]
    for o in nl["starts"]:
        if o["start"] > 0:
            lines.append(f"| non-lipschitz, x₀ = {o['start']:g} | Euler order {o['euler_order']['order']:.3f} {interval(o['euler_order'])}; "
                         f"tangent at L = 1024 {o['tangents'][-1]:.4g} against exact {o['exact_tangent']:.4g}; backward Euler's most "
                         f"iterations a block {o['backward_euler_iterations'][-1]} |")
    lines.append(f"| non-lipschitz, x₀ = 0 | Euler stays at {nl['euler_from_zero_max']}; (x_L(δ) − x_L(0))/δ, δ = 1e-12, from "
                 f"{nl['quotients_at_zero'][0]:.3g} (L = 8) to {nl['quotients_at_zero'][-1]:.4g} (L = 1024), against T²/(4δ) = 2.5e11 |")
    lines.append("")
    open(os.path.join(HERE, "results/resnet_experiments.md"), "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

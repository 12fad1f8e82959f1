#!/usr/bin/env python3
"""One NTK gradient-descent step of the two-layer ReLU net, written in plain numpy the obvious way
(matrix products and masks), timed at the shape widenet is compared at.

    f(x) = (1/sqrt(m)) sum_r a_r relu(w_r . x),  loss = 1/2 ||u - y||^2
    Z = X W^T (n x m), S = 1{Z >= 0}, u = relu(Z) a / sqrt(m), e = u - y
    grad_W = diag(a) S^T diag(e) X / sqrt(m),  W <- W - lr grad_W

Flops per step: 2nmd (forward) + 2nmd (backward) + O(nm) elementwise.
Prints one JSON line: {"peer": "numpy", "n":..., "seconds_per_step": median, ...}.
"""
import argparse, json, time
import numpy as np

def step(X, y, W, a, lr):
    m = W.shape[0]
    Z = X @ W.T
    S = Z >= 0
    u = (np.maximum(Z, 0) @ a) / np.sqrt(m, dtype=X.dtype)
    e = u - y
    G = ((S * e[:, None]) * a[None, :]).T @ X / np.sqrt(m, dtype=X.dtype)
    W -= lr * G
    return 0.5 * float(e @ e)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--width", type=int, default=65536)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--dtype", default="float32")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    dt = np.dtype(args.dtype)
    X = rng.standard_normal((args.n, args.d)).astype(dt)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.uniform(-1, 1, args.n).astype(dt)
    W = rng.standard_normal((args.width, args.d)).astype(dt)
    a = np.where(rng.random(args.width) < 0.5, -1, 1).astype(dt)
    lr = dt.type(0.1)
    step(X, y, W, a, lr)  # warm-up
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step(X, y, W, a, lr)
        times.append(time.perf_counter() - t0)
    flops = 4.0 * args.n * args.width * args.d
    med = float(np.median(times))
    print(json.dumps({"peer": "numpy", "numpy": np.__version__, "n": args.n, "d": args.d, "width": args.width,
                      "dtype": args.dtype, "steps": args.steps, "seconds_per_step": med,
                      "gflops": flops / med / 1e9}))

if __name__ == "__main__":
    main()

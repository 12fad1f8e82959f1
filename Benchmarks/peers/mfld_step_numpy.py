#!/usr/bin/env python3
"""One mean-field Langevin (MFLD) step of N particles, written in plain numpy the obvious way
(matrix products and elementwise arrays), timed at the shape widenet bench uses on a CPU.

    particles P (N x D, D = d + 2), rows (w, b, a); batch X (B x d), y (B)
    Z = X W^T + b (B x N), T = tanh(Z), f = T a / N, c = l'(f, y) / B
    dZ = c[:,None] * a[None,:] * (1 - T^2)
    G = [dZ^T X | dZ.sum(0) | T^T c]
    P <- P - lr (G + 2 lam' P) + sqrt(2 lam lr) xi,  xi ~ N(0, 1) drawn fresh each step
    lr = 0.1, lam = lam' = 1e-3

--unit tanh (the default) or relu: T = relu(Z), and 1{Z >= 0} in place of 1 - T^2.
--loss squared (the default): l' = f - y, y uniform in [-1, 1]; or logistic: l(f, y) = log(1 + exp(-y f))
with labels y = +-1 (the signs of those draws), l' = -y / (1 + exp(y f)).
The operation is named as widenet bench names it: mfld_step (tanh, squared), mfld_step_relu,
mfld_step_logistic, mfld_step_relu_logistic.

Flops per step: 6BNd (2BNd forward, 4BNd backward), as widenet bench counts them, for every unit and
loss (their elementwise work is not counted). Also timed: the noise-only update
P <- (1 - 2 lr lam') P + sqrt(2 lam lr) xi (the same for every unit and loss), reported in GB/s of
the minimum traffic 2 N D 4 bytes (read and write P once); numpy writes xi to its own array and
reads it back. Prints one JSON line:
{"peer": "numpy", "operation": "mfld_step", "unit": "tanh", "loss": "squared", "seconds_per_step": median, ...}.
"""
import argparse, json, time
import numpy as np

LR, LAM, LAM2 = 0.1, 1e-3, 1e-3

def operation(unit, loss):
    return "_".join(["mfld_step"] + (["relu"] if unit == "relu" else []) + (["logistic"] if loss == "logistic" else []))

def step(X, y, P, lr, lam2, s, rng, unit="tanh", loss="squared"):
    N = P.shape[0]
    B, d = X.shape
    W, b, a = P[:, :d], P[:, d], P[:, d + 1]
    if unit == "relu":
        Z = X @ W.T + b
        T = np.maximum(Z, 0)
    else:
        T = np.tanh(X @ W.T + b)
    f = T @ a / N
    c = (-y / (1 + np.exp(y * f)) if loss == "logistic" else f - y) / B
    if unit == "relu":
        dZ = (Z >= 0) * c[:, None] * a[None, :]
    else:
        dZ = (1 - T * T) * c[:, None] * a[None, :]
    G = np.concatenate([dZ.T @ X, dZ.sum(0)[:, None], (T.T @ c)[:, None]], axis=1)
    P -= lr * (G + 2 * lam2 * P)
    P += s * rng.standard_normal(P.shape, dtype=P.dtype)
    return f

def noise(P, lr, lam2, s, rng):
    P *= 1 - 2 * lr * lam2
    P += s * rng.standard_normal(P.shape, dtype=P.dtype)

def timed(fn, steps):
    fn()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--particles", type=int, default=2 ** 18)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--d", type=int, default=20)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--dtype", default="float32", help="float32 or float64 (numpy's generator draws no other)")
    p.add_argument("--unit", choices=["tanh", "relu"], default="tanh")
    p.add_argument("--loss", choices=["squared", "logistic"], default="squared",
                   help="logistic: labels y = +-1, the signs of the squared loss's uniform draws")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    dt = np.dtype(args.dtype)
    B, d, N = args.batch, args.d, args.particles
    D = d + 2
    X = (rng.standard_normal((B, d)) / np.sqrt(d)).astype(dt)
    y = rng.uniform(-1, 1, B).astype(dt)
    if args.loss == "logistic":
        y = np.where(y >= 0, 1, -1).astype(dt)
    P = rng.standard_normal((N, D)).astype(dt)
    lr, lam2, s = dt.type(LR), dt.type(LAM2), dt.type(np.sqrt(2 * LAM * LR))
    med = timed(lambda: step(X, y, P, lr, lam2, s, rng, args.unit, args.loss), args.steps)
    med_noise = timed(lambda: noise(P, lr, lam2, s, rng), args.steps)
    flops = 6.0 * B * N * d
    nbytes = 2.0 * N * D * dt.itemsize
    print(json.dumps({"peer": "numpy", "numpy": np.__version__, "operation": operation(args.unit, args.loss),
                      "unit": args.unit, "loss": args.loss,
                      "shape": f"B={B} N={N} d={d}", "batch": B, "d": d, "particles": N, "dtype": args.dtype,
                      "steps": args.steps, "lr": LR, "lambda": LAM, "lambda_l2": LAM2,
                      "seconds_per_step": med, "gflops": flops / med / 1e9,
                      "noise_shape": f"N={N} D={D}", "noise_seconds_per_step": med_noise,
                      "noise_gb_per_s": nbytes / med_noise / 1e9}))

if __name__ == "__main__":
    main()

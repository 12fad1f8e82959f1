#!/usr/bin/env python3
"""GPU peers of widenet: the same operations written the obvious way in PyTorch, CuPy and JAX,
timed on the same GPU in the same run as `widenet bench`, so the figures sit side by side.

Measured for each framework that imports (a framework that is missing, or has no GPU, is skipped
with the reason recorded):

  gemm        C = A B, square n x n, f32 with TF32 off ("f32-highest") and on ("f32-tf32");
              TFLOP/s = 2 n^3 / t.
  ntk_step    one gradient step of the two-layer ReLU net (n samples, d inputs, width m, f32):
                Z = X W^T (n x m); S = 1{Z >= 0}; u = relu(Z) a / sqrt(m); e = u - y
                G = ((S * e[:,None]) * a[None,:])^T X / sqrt(m)  (m x d);  W -= lr G
              torch eager and torch.compile (modes from --compile-modes), CuPy, jax.jit.
              GFLOP/s = 4 n m d / t; bytes = what the obvious eager code reads and writes.
  ntk_gram    H = (X X^T) * (S S^T) / m from Z (S as 0/1 floats, S S^T a float matmul).
  max_width   torch eager: the largest m for which 10 steps run without running out of memory
              (doubling, then bisection); only with --max-width-search.
  mfld_step   one mean-field Langevin step of N tanh particles P = (w, b, a) (N x D, D = d + 2),
              batch X (B x d), squared loss, f32:
                Z = X W^T + b; T = tanh(Z); f = T a / N; c = (f - y) / B
                dZ = c[:,None] * a[None,:] * (1 - T^2); G = [dZ^T X | dZ.sum(0) | T^T c]
                P <- P - lr (G + 2 lam' P) + sqrt(2 lam lr) xi,  xi ~ N(0, 1) fresh each step
              torch eager, torch.compile (--mfld-compile-modes), CuPy, jax.jit; GFLOP/s = 6 B N d / t.
  mfld_step_relu, mfld_step_logistic, mfld_step_relu_logistic
              the same step for the other units and losses of --mfld-units (tanh, relu) and
              --mfld-losses (squared, logistic), named as widenet bench names them (mfld_step is tanh
              with the squared loss; the others by what differs):
                relu:      T = relu(Z), and 1{Z >= 0} in place of 1 - T^2
                logistic:  l(f, y) = log(1 + exp(-y f)), labels y = +-1 (random signs):
                           c = l'(f, y) / B = -y / (1 + exp(y f)) / B
              GFLOP/s = 6 B N d / t for every combination (the elementwise work differs, the counted
              flops do not, so the rates compare as the times do).
  mfld_noise  the same update with the data term off, P <- (1 - 2 lr lam') P + sqrt(2 lam lr) xi:
              pure streaming, GB/s = 2 N D 4 / t, set beside the copy bandwidth of the same run; it
              depends on no unit or loss and is measured once.
  copy, matmul_peak
              torch: device-to-device copy bandwidth and the bf16/f32 matmul peak, the ceilings.

Rules: every implementation is first checked against a float64 numpy reference at a small size
(and compiled graphs again at full size against the framework's own eager code); code whose check
failed is not timed. Check inputs of the steps with a relu mask (ntk_step, mfld_step_relu*) keep
every |Z| >= CHECK_MARGIN, so the masks 1{Z >= 0} of float32 and float64 agree. Inputs are fresh
random numbers. Timing: warm-up, then CUDA events (torch, CuPy) or a host timer after
block_until_ready (JAX, and everything on --device cpu); the median of --repeats is reported.
Each framework runs in its own child process, so the memory pools of one (JAX preallocates) never
starve another, CUPY_TF32 is set before CuPy is imported, and a torch.compile that runs past
--compile-timeout can be stopped (each MFLD step of --mfld-units x --mfld-losses compiles in a
child of its own). The plain measurements of every framework run first, torch.compile and the
width search last, all within --budget-seconds.
The children stay in the parent's session (each in a process group of its own) and die with the
parent (PR_SET_PDEATHSIG), so `timeout` or a kill of the caller's session takes them along; on
SIGTERM/SIGINT the parent stops the running child, writes the JSON of what was measured and exits
128+signal. The JSON is also rewritten after every child ("complete": false until the end).

    python3 Benchmarks/peers/gpu_peers.py --json $OUT/peers.json
    python3 Benchmarks/peers/gpu_peers.py --compare $OUT/widenet.json --json $OUT/peers.json   # with ratios
    python3 Benchmarks/peers/gpu_peers.py --device cpu --gemm-sizes 256 --ntk-width 4096 --repeats 3 \\
        --json /tmp/peers-test.json        # small run on the CPU, to test the script
    python3 Benchmarks/peers/gpu_peers.py --sections mfld --mfld-particles 16777216 --json $OUT/peers-mfld.json
    python3 Benchmarks/peers/gpu_peers.py --sections mfld --mfld-units tanh,relu --mfld-losses squared,logistic \
        --json $OUT/peers-mfld-all.json  # the four MFLD steps

Writes one JSON document (--json) and prints a table on stdout; progress goes to stderr.
"""
import argparse
import contextlib
import datetime
import gc
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

SCHEMA = "widenet-gpu-peers/1"
FRAMEWORKS = ("torch", "cupy", "jax")
SECTIONS = ("gemm", "ntk", "gram", "mfld", "ceilings")
# Tolerances (relative Frobenius error against float64).
TOL_GEMM_F32 = 1e-5        # f32 without TF32, reduction length <= 1024: errors are ~1e-7
TOL_GEMM_TF32 = 1e-2       # TF32 rounds inputs to 10 mantissa bits: errors ~3e-4
TOL_GEMM_BF16 = 2e-2       # bf16 output rounding alone is ~4e-3
TOL_NTK_F32 = 1e-4         # the brief's bound for the NTK step in f32 without TF32
TOL_GRAM = 1e-5            # S S^T counts are exact; only X X^T carries f32 rounding
TOL_XCHECK_E = 1e-4        # compiled against eager at full size: u - y is continuous in Z
TOL_XCHECK_G = 1e-3        # ... G is not: a Z within ~1e-7 of 0 may take the other sign
CHECK_MARGIN = 1e-4        # check inputs keep every |Z_ir| >= this, so masks are not coin tosses
TOL_MFLD = 1e-4            # MFLD step, noise off: f, G and P_new against float64
TOL_MFLD_XCHECK = 1e-4     # compiled against eager at full size (f, G): tanh is smooth, no mask flips
TOL_MFLD_XCHECK_MASK = TOL_XCHECK_G   # ... relu's gW and gb: a Z within ~1e-7 of 0 may take the other side
MFLD_UNITS = ("tanh", "relu")
MFLD_LOSSES = ("squared", "logistic")
NOISE_SIGMAS = 5.0         # noise statistics: mean, variance, correlation within this many standard errors


def log(msg):
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def choice_list(p, opt, value, choices):
    """A comma list of some of `choices`, each once, in the order given; at least one."""
    out = list(dict.fromkeys(s for s in value.split(",") if s))
    for s in out:
        if s not in choices:
            p.error(f"{opt}: unknown value {s!r} (choose among {', '.join(choices)})")
    if not out:
        p.error(f"{opt}: give at least one of {', '.join(choices)}")
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                   help="cuda (the benchmark) or cpu (to test the script on a machine without a GPU)")
    p.add_argument("--only", default=",".join(FRAMEWORKS), help="comma list among torch,cupy,jax")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma list among " + ",".join(SECTIONS))
    p.add_argument("--json", metavar="FILE", help="write the JSON document here")
    p.add_argument("--compare", metavar="WIDENET_JSON",
                   help="the `widenet bench --json` file of the same call: pair its measurements with the "
                        "peers' of the same operation and shape and report peer ms / widenet ms")
    p.add_argument("--gemm-sizes", default="4096,8192", help="square SGEMM sizes")
    p.add_argument("--gemm-check-size", type=int, default=512, help="size of the SGEMM accuracy check")
    p.add_argument("--n", type=int, default=256, help="samples")
    p.add_argument("--d", type=int, default=64, help="input dimension")
    p.add_argument("--ntk-width", type=int, default=2 ** 24, help="width m of the NTK step and Gram")
    p.add_argument("--check-width", type=int, default=4096, help="width of the float64 check")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=10, help="timed repetitions (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed repetitions first")
    p.add_argument("--compile-modes", default="default,max-autotune-no-cudagraphs",
                   help="torch.compile modes to time ('' for none)")
    p.add_argument("--compile-timeout", type=float, default=150.0,
                   help="seconds one torch.compile compilation may take before it is stopped and recorded as failed")
    p.add_argument("--worker-timeout", type=float, default=300.0,
                   help="seconds one child process (one framework or one compile mode) may run in all")
    p.add_argument("--budget-seconds", type=float, default=420.0,
                   help="seconds for the whole script: no child starts once it is spent, and each is stopped "
                        "when it runs out (the GPU call it shares with `widenet bench` has a time limit)")
    p.add_argument("--max-width-search", action="store_true",
                   help="torch: search the largest width whose eager steps fit in memory (slow)")
    p.add_argument("--search-seconds", type=float, default=180.0, help="time budget of the width search")
    p.add_argument("--search-start", type=int, default=None, help="first width tried (default 2^20 cuda, 2^12 cpu)")
    p.add_argument("--search-cap", type=int, default=None,
                   help="treat widths above this as failing (default: none on cuda; 2^16 on cpu, "
                        "where running out of memory would take the machine down)")
    p.add_argument("--search-steps", type=int, default=10, help="eager steps each width must survive")
    p.add_argument("--copy-mib", type=int, default=None, help="copy buffer size (default 4096 cuda, 256 cpu)")
    p.add_argument("--peak-size", type=int, default=None, help="matmul-peak size (default 8192 cuda, 512 cpu)")
    p.add_argument("--mfld-particles", type=int, default=None,
                   help="particles N of the MFLD step (default 2^24 cuda, 2^18 cpu: widenet bench's defaults)")
    p.add_argument("--mfld-batch", type=int, default=256, help="batch B of the MFLD step")
    p.add_argument("--mfld-d", type=int, default=20, help="input dimension d of the MFLD step (D = d + 2)")
    p.add_argument("--mfld-check-particles", type=int, default=4096, help="N of the MFLD float64 check")
    p.add_argument("--mfld-check-batch", type=int, default=64, help="B of the MFLD float64 check")
    p.add_argument("--mfld-lr", type=float, default=0.1, help="MFLD learning rate")
    p.add_argument("--mfld-lambda", type=float, default=1e-3, help="MFLD entropy weight (noise sqrt(2 lambda lr))")
    p.add_argument("--mfld-lambda-l2", type=float, default=1e-3, help="MFLD L2 weight lambda' (decay 2 lambda' P)")
    p.add_argument("--mfld-compile-modes", default="default",
                   help="torch.compile modes of the MFLD step and noise update ('' for none)")
    p.add_argument("--mfld-units", default="tanh",
                   help="comma list among " + ",".join(MFLD_UNITS) + ": the units of the MFLD steps measured")
    p.add_argument("--mfld-losses", default="squared",
                   help="comma list among " + ",".join(MFLD_LOSSES) + ": the losses of the MFLD steps measured "
                        "(each unit with each loss; logistic draws the labels as random signs)")
    # internal: a child process running one framework
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    p.add_argument("--_result", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.only_list = [s for s in a.only.split(",") if s]
    for s in a.only_list:
        if s not in FRAMEWORKS:
            p.error(f"--only: unknown framework {s!r} (choose among {', '.join(FRAMEWORKS)})")
    a.section_list = [s for s in a.sections.split(",") if s]
    for s in a.section_list:
        if s not in SECTIONS:
            p.error(f"--sections: unknown section {s!r} (choose among {', '.join(SECTIONS)})")
    try:
        a.gemm_size_list = [int(s) for s in a.gemm_sizes.split(",") if s]
    except ValueError:
        p.error("--gemm-sizes: give integers, e.g. 4096,8192")
    a.compile_mode_list = [s for s in a.compile_modes.split(",") if s]
    a.mfld_compile_mode_list = [s for s in a.mfld_compile_modes.split(",") if s]
    a.mfld_unit_list = choice_list(p, "--mfld-units", a.mfld_units, MFLD_UNITS)
    a.mfld_loss_list = choice_list(p, "--mfld-losses", a.mfld_losses, MFLD_LOSSES)
    a.mfld_combo_list = [(u, l) for u in a.mfld_unit_list for l in a.mfld_loss_list]
    if a.mfld_particles is None:
        a.mfld_particles = 2 ** 18 if a.device == "cpu" else 2 ** 24
    if min([a.n, a.d, a.ntk_width, a.check_width, a.repeats, a.gemm_check_size] + a.gemm_size_list) < 1:
        p.error("sizes and --repeats must be positive")
    if min(a.mfld_particles, a.mfld_batch, a.mfld_d, a.mfld_check_particles, a.mfld_check_batch) < 1:
        p.error("--mfld-* sizes must be positive")
    if a.mfld_lr <= 0 or a.mfld_lambda <= 0 or a.mfld_lambda_l2 < 0:
        p.error("--mfld-lr and --mfld-lambda must be positive, --mfld-lambda-l2 non-negative")
    if a.warmup < 0:
        p.error("--warmup must be >= 0")
    cpu = a.device == "cpu"
    if a.copy_mib is None:
        a.copy_mib = 256 if cpu else 4096
    if a.peak_size is None:
        a.peak_size = 512 if cpu else 8192
    if a.search_start is None:
        a.search_start = 2 ** 12 if cpu else 2 ** 20
    if a.search_cap is None and cpu:
        a.search_cap = 2 ** 16
    return a


# ----------------------------------------------------------------------------------------------
# float64 references (numpy)

def make_ntk_inputs(n, d, m, seed, margin=0.0):
    """X (n x d, unit rows), y (n), W (m x d), a (m, +-1), all float32. With margin > 0, rows of W
    are redrawn until every |Z_ir| (computed in float64 from the float32 values) is >= margin."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.uniform(-1, 1, n).astype(np.float32)
    W = rng.standard_normal((m, d)).astype(np.float32)
    a = np.where(rng.random(m) < 0.5, -1.0, 1.0).astype(np.float32)
    if margin > 0:
        X64 = X.astype(np.float64)
        for _ in range(100):
            bad = np.flatnonzero(np.min(np.abs(W.astype(np.float64) @ X64.T), axis=1) < margin)
            if bad.size == 0:
                break
            W[bad] = rng.standard_normal((bad.size, d)).astype(np.float32)
        else:
            raise RuntimeError("could not draw check inputs away from Z = 0")
    return X, y, W, a


def ntk_reference(X, y, W, a, lr):
    """One NTK step in float64: returns G, e, W_new, Z."""
    X, y, W, a = (v.astype(np.float64) for v in (X, y, W, a))
    m = W.shape[0]
    Z = X @ W.T
    S = Z >= 0
    u = np.maximum(Z, 0) @ a / math.sqrt(m)
    e = u - y
    G = ((S * e[:, None]) * a[None, :]).T @ X / math.sqrt(m)
    return G, e, W - lr * G, Z


def gram_reference(X, Z):
    S = (Z >= 0).astype(np.float64)
    X = X.astype(np.float64)
    return (X @ X.T) * (S @ S.T) / Z.shape[1]


def mfld_op(unit, loss):
    """The operation name of one unit and loss, as widenet bench names it: mfld_step (tanh, squared),
    mfld_step_relu, mfld_step_logistic, mfld_step_relu_logistic."""
    return "_".join(["mfld_step"] + (["relu"] if unit == "relu" else []) + (["logistic"] if loss == "logistic" else []))


MFLD_STEP_OPS = tuple(mfld_op(u, l) for u in MFLD_UNITS for l in MFLD_LOSSES)


def make_mfld_inputs(B, d, N, seed, loss="squared", margin=0.0):
    """X (B x d, entries N(0, 1/d)), y (B, uniform in [-1, 1]; for the logistic loss its signs, +-1),
    P (N x (d+2), standard normal), float32. With margin > 0, (w, b) of the rows of P are redrawn
    until every |Z_ir| = |x_i . w_r + b_r| (in float64 from the float32 values) is >= margin."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((B, d)) / math.sqrt(d)).astype(np.float32)
    y = rng.uniform(-1, 1, B).astype(np.float32)
    if loss == "logistic":
        y = np.where(y >= 0, 1.0, -1.0).astype(np.float32)
    P = rng.standard_normal((N, d + 2)).astype(np.float32)
    if margin > 0:
        X64 = X.astype(np.float64)
        for _ in range(100):
            Z = X64 @ P[:, :d].astype(np.float64).T + P[:, d].astype(np.float64)
            bad = np.flatnonzero(np.min(np.abs(Z), axis=0) < margin)
            if bad.size == 0:
                break
            P[bad, :d + 1] = rng.standard_normal((bad.size, d + 1)).astype(np.float32)
        else:
            raise RuntimeError("could not draw MFLD check inputs away from Z = 0")
    return X, y, P


def mfld_reference(X, y, P, lr, lam2, unit="tanh", loss="squared"):
    """The MFLD step without noise in float64: returns f (B), G (N x D) and P_new."""
    X, y, P = (v.astype(np.float64) for v in (X, y, P))
    N, D = P.shape
    B, d = X.shape
    W, b, a = P[:, :d], P[:, d], P[:, d + 1]
    Z = X @ W.T + b
    T = np.maximum(Z, 0) if unit == "relu" else np.tanh(Z)
    f = T @ a / N
    # logistic: l' = -y sigma(-y f), with sigma(-u) = 1 / (1 + e^u) = exp(-log(1 + e^u)) (no overflow)
    c = (-y * np.exp(-np.logaddexp(0, y * f)) if loss == "logistic" else f - y) / B
    dZ = c[:, None] * a[None, :] * ((Z >= 0) if unit == "relu" else (1 - T ** 2))
    G = np.concatenate([dZ.T @ X, dZ.sum(0)[:, None], (T.T @ c)[:, None]], axis=1)
    return f, G, P - lr * (G + 2 * lam2 * P)


def mfld_flops(B, d, N):
    """Forward 2BNd (X W^T), backward 4BNd (dZ^T X and, in widenet's kernel, Z again). The same
    count for every unit and loss: the elementwise work (tanh or relu, their derivatives, the
    loss derivative over B values) is not counted."""
    return 6.0 * B * N * d


def mfld_bytes_min(N, D):
    """Read and write P once (f32): what a fused update must move, the same as widenet bench's."""
    return 2 * N * D * 4


def mfld_bytes_obvious(B, d, N, unit="tanh"):
    """Bytes read + written by the eager step below (f32): X W^T writes BN (4BN, reading W), + b
    (8BN), tanh (8BN), T a (4BN), T*T, 1 -, * c, * a (32BN), dZ^T X, dZ.sum(0), T^T c (12BN);
    the update: cat (8ND), 2 lam' P (8ND), G + (12ND), lr * (8ND), P -= (12ND), randn (4ND),
    s * xi (8ND), P += (12ND), and W read by the first product (~4ND). Total 68BN + 76ND.
    relu: relu(Z) (8BN) in place of tanh, Z >= 0 (5BN: a bool mask), * c (5BN), * a (8BN) in place
    of the 32BN: 54BN + 76ND. The loss works on B values only: the same for both losses."""
    D = d + 2
    return (54 if unit == "relu" else 68) * B * N + 76 * N * D


def mfld_noise_bytes_obvious(N, D):
    """The eager noise-only update: P *= k (8ND), randn writes xi (4ND), s * xi (8ND), P += (12ND)."""
    return 32 * N * D


def mfld_peak_obvious(B, d, N, unit="tanh"):
    """Bytes alive at the peak of the eager step: T and two B x N temporaries of (1 - T*T) * c * a,
    while P, G and its parts and two N x D temporaries of the update are held. relu keeps Z beside
    T (the mask is read from Z): Z, T, S * c and (S * c) * a, 16BN."""
    return (16 if unit == "relu" else 12) * B * N + 4 * N * (d + 2) * 5


def rel_err(x, ref):
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    den = float(np.linalg.norm(ref.ravel()))
    num = float(np.linalg.norm((x - ref).ravel()))
    return num / den if den > 0 else num


class TooBig(Exception):
    """An operation that would not fit in host memory on --device cpu (skipped, not attempted)."""


def host_guard(args, nbytes, what):
    """On --device cpu, running out of memory summons the kernel's OOM killer (or swaps the
    machine to a halt), so refuse what needs more than 80 % of the available memory. On a GPU an
    out-of-memory error is an ordinary exception and is recorded instead."""
    if args.device != "cpu":
        return
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(l.split()[1]) * 1024 for l in f if l.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return
    if nbytes > 0.8 * avail:
        raise TooBig(f"{what} needs about {nbytes / 2 ** 30:.1f} GiB of host memory, "
                     f"{avail / 2 ** 30:.1f} GiB available; not attempted on --device cpu")


def ntk_flops(n, d, m):
    return 4.0 * n * m * d


def ntk_bytes_obvious(n, d, m):
    """Bytes read + written by the obvious eager step (f32 = 4 bytes, bool mask = 1 byte):
    Z = X W^T writes Z (4nm, reads W 4md); Z >= 0 reads Z, writes S (5nm); relu(Z) (8nm);
    relu(Z) @ a reads it (4nm); S * e (1nm + 4nm); (...) * a (8nm); (...)^T X reads it (4nm),
    writes G (4md); G / sqrt(m) (8md); lr * G (8md); W -= (12md). Total 38nm + 36md + O(m + nd)."""
    return 38 * n * m + 36 * m * d + 8 * m + 8 * n * d + 24 * n


def ntk_bytes_fused_min(n, d, m):
    """A fused step (widenet's design): read W for the forward pass, read and write W in the
    update (12md), write and read 1-bit masks (nm/4)."""
    return 12 * m * d + n * m // 4


def ntk_peak_obvious(n, d, m):
    """Bytes alive at the peak of the obvious eager step: Z (4nm), S (nm), S*e and (S*e)*a
    (4nm each) while W (4md) is held."""
    return 13 * n * m + 4 * m * d


# ----------------------------------------------------------------------------------------------
# Framework adapters: the same small interface over torch, CuPy and JAX.

class InPlaceCallers:
    """Calling conventions shared by the frameworks whose steps update their arrays in place
    (torch, CuPy); JAX returns new arrays and has its own."""

    def ntk_caller(self, fn):
        def call(st):
            return fn(st["X"], st["y"], st["W"], st["a"])
        return call

    def mfld_callers(self, step, noise):
        def call_step(st, s):
            return step(st["X"], st["y"], st["P"], s)

        def call_noise(st, s):
            noise(st["P"], s)
            return st["P"]
        return call_step, call_noise


class TorchOps(InPlaceCallers):
    name = "torch"

    def __init__(self, device):
        import torch
        self.torch = torch
        self.cuda = device == "cuda"
        self.dev = torch.device("cuda" if self.cuda else "cpu")
        self.timer = "cuda-events" if self.cuda else "perf_counter"

    def info(self):
        t = self.torch
        i = {"version": t.__version__, "cuda_runtime": t.version.cuda,
             "cudnn": t.backends.cudnn.version() if self.cuda else None, "device": str(self.dev)}
        if self.cuda:
            pr = t.cuda.get_device_properties(0)
            i.update(device_name=t.cuda.get_device_name(0), capability=f"{pr.major}.{pr.minor}",
                     total_memory=pr.total_memory, multiprocessors=pr.multi_processor_count)
        else:
            i.update(device_name=platform.processor() or platform.machine(), threads=t.get_num_threads())
        return i

    @contextlib.contextmanager
    def precision(self, mode):
        t = self.torch
        old = (t.backends.cuda.matmul.allow_tf32, t.get_float32_matmul_precision())
        tf32 = mode == "tf32"
        t.backends.cuda.matmul.allow_tf32 = tf32
        t.set_float32_matmul_precision("high" if tf32 else "highest")
        try:
            yield self.precision_settings()
        finally:
            t.backends.cuda.matmul.allow_tf32 = old[0]
            t.set_float32_matmul_precision(old[1])

    def precision_settings(self):
        t = self.torch
        return {"torch.backends.cuda.matmul.allow_tf32": t.backends.cuda.matmul.allow_tf32,
                "torch.get_float32_matmul_precision()": t.get_float32_matmul_precision(),
                "torch.backends.cuda.matmul.fp32_precision":
                    getattr(t.backends.cuda.matmul, "fp32_precision", None)}

    def from_np(self, x):
        return self.torch.tensor(np.ascontiguousarray(x), device=self.dev)  # a copy, never a view

    def to_np(self, x):
        return x.detach().float().cpu().numpy() if x.dtype == self.torch.bfloat16 else x.detach().cpu().numpy()

    def randn(self, shape, seed, dtype="float32"):
        g = self.torch.Generator(device=self.dev).manual_seed(seed)
        return self.torch.randn(shape, generator=g, device=self.dev, dtype=getattr(self.torch, dtype))

    def ntk_state(self, n, d, m, seed):
        t = self.torch
        g = t.Generator(device=self.dev).manual_seed(seed)
        X = t.randn((n, d), generator=g, device=self.dev)
        X /= t.linalg.vector_norm(X, dim=1, keepdim=True)
        y = t.rand(n, generator=g, device=self.dev) * 2 - 1
        W = t.randn((m, d), generator=g, device=self.dev)
        a = t.where(t.rand(m, generator=g, device=self.dev) < 0.5, -1.0, 1.0)
        return {"X": X, "y": y, "W": W, "a": a}

    def clone(self, x):
        return x.clone()

    def sync(self, out=None):
        if self.cuda:
            self.torch.cuda.synchronize()

    def dev_rel_err(self, x, ref):
        t = self.torch
        den = float(t.linalg.vector_norm(ref))
        return float(t.linalg.vector_norm(x - ref)) / den if den > 0 else float(t.linalg.vector_norm(x))

    def time(self, fn, warmup, repeats):
        for _ in range(warmup):
            fn()
        self.sync()
        if self.cuda:
            ev = [(self.torch.cuda.Event(enable_timing=True), self.torch.cuda.Event(enable_timing=True))
                  for _ in range(repeats)]
            for s, e in ev:
                s.record()
                fn()
                e.record()
            self.torch.cuda.synchronize()
            return [s.elapsed_time(e) for s, e in ev]
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    def free(self):
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()

    def reset_peak(self):
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self):
        return int(self.torch.cuda.max_memory_allocated()) if self.cuda else None

    def is_oom(self, ex):
        if isinstance(ex, getattr(self.torch.cuda, "OutOfMemoryError", ())):
            return True
        msg = str(ex)
        return isinstance(ex, (RuntimeError, MemoryError)) and (
            "out of memory" in msg or "ALLOC_FAILED" in msg or isinstance(ex, MemoryError))

    # the operations, written the obvious way

    def matmul_fn(self):
        return lambda A, B: A @ B

    def ntk_step_eager(self, lr):
        torch = self.torch

        def ntk_step(X, y, W, a):
            m = W.shape[0]
            Z = X @ W.T
            S = Z >= 0
            u = torch.relu(Z) @ a / math.sqrt(m)
            e = u - y
            G = ((S * e[:, None]) * a[None, :]).T @ X / math.sqrt(m)
            W -= lr * G
            return G, e
        return ntk_step

    def gram_fn(self):
        def gram(Z, K):
            S = (Z >= 0).to(Z.dtype)
            return K * (S @ S.T) / Z.shape[1]
        return gram

    def z_and_k(self, st):
        with self.precision("highest"):
            Z = st["X"] @ st["W"].T
            K = st["X"] @ st["X"].T
        return Z, K

    # the MFLD particle step: P (N x D) is updated in place; the noise comes from torch's global
    # generator (Philox on CUDA); the noise scale s is a 0-dim tensor, so a compiled graph serves
    # both the check (s = 0) and the timed steps
    rng_note = "torch.randn_like (global generator; torch.compile's inductor draws Philox numbers in its own kernels)"

    def mfld_state(self, B, d, N, seed, loss="squared"):
        t = self.torch
        g = t.Generator(device=self.dev).manual_seed(seed)
        X = t.randn((B, d), generator=g, device=self.dev) / math.sqrt(d)
        y = t.rand(B, generator=g, device=self.dev) * 2 - 1
        if loss == "logistic":
            y = t.where(y >= 0, 1.0, -1.0)   # labels +-1: random signs
        P = t.randn((N, d + 2), generator=g, device=self.dev)
        st = {"X": X, "y": y, "P": P}
        self.seed_noise(st, seed + 1)
        return st

    def seed_noise(self, st, seed):
        self.torch.manual_seed(seed)

    def noise_scale(self, s):
        return self.torch.tensor(s, dtype=self.torch.float32, device=self.dev)

    def mfld_fns(self, lr, lam2, unit="tanh", loss="squared"):
        """The step of one unit and loss (chosen here, so a compiled graph holds one of them) and
        the noise-only update."""
        torch = self.torch
        relu, logistic = unit == "relu", loss == "logistic"

        def mfld_step(X, y, P, s):
            N = P.shape[0]
            B, d = X.shape
            W, b, a = P[:, :d], P[:, d], P[:, d + 1]
            if relu:
                Z = X @ W.T + b                          # kept: the mask is 1{Z >= 0}
                T = torch.relu(Z)
            else:
                T = torch.tanh(X @ W.T + b)              # Z = X W^T + b, not kept
            f = T @ a / N
            c = (-y / (1 + torch.exp(y * f)) if logistic else f - y) / B
            if relu:
                dZ = (Z >= 0) * c[:, None] * a[None, :]
            else:
                dZ = (1 - T * T) * c[:, None] * a[None, :]   # this order keeps 3 B x N arrays alive, not 4
            gW = dZ.T @ X
            gb = dZ.sum(0)
            ga = T.T @ c
            G = torch.cat([gW, gb[:, None], ga[:, None]], dim=1)
            P -= lr * (G + 2 * lam2 * P)
            P += s * torch.randn_like(P)
            return f, gW, gb, ga

        def mfld_noise(P, s):
            P *= 1 - 2 * lr * lam2
            P += s * torch.randn_like(P)
        return mfld_step, mfld_noise

    def moments(self, x):
        x = x.double()
        return float(x.mean()), float(x.var(unbiased=False))


class CupyOps(InPlaceCallers):
    name = "cupy"

    def __init__(self, device):
        import cupy
        self.cp = cupy
        self.timer = "cuda-events"
        cupy.cuda.runtime.getDeviceCount()  # raises without a GPU

    def info(self):
        cp = self.cp
        props = cp.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        i = {"version": cp.__version__, "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
             "cuda_driver": cp.cuda.runtime.driverGetVersion(),
             "device_name": name.decode() if isinstance(name, bytes) else name,
             "total_memory": int(props.get("totalGlobalMem", 0)) or None,
             "CUPY_TF32": os.environ.get("CUPY_TF32")}
        try:
            from cupy._core import _routines_linalg as rl
            ct = rl.get_compute_type(np.float32)
            i["float32_compute_type"] = int(ct)
            if hasattr(rl, "COMPUTE_TYPE_TF32"):
                i["float32_compute_type_is_tf32"] = int(ct) == int(rl.COMPUTE_TYPE_TF32)
        except Exception as ex:  # private API: record, do not fail
            i["float32_compute_type"] = f"unknown ({type(ex).__name__})"
        return i

    @contextlib.contextmanager
    def precision(self, mode):
        want = "1" if mode == "tf32" else "0"
        have = os.environ.get("CUPY_TF32", "0") or "0"
        if (int(have) > 0) != (want == "1"):
            raise RuntimeError(f"CuPy's precision is fixed when it is imported (CUPY_TF32={have}); "
                               f"{mode} needs CUPY_TF32={want} in a fresh process")
        yield {"CUPY_TF32": have}

    def from_np(self, x):
        return self.cp.asarray(x)

    def to_np(self, x):
        return self.cp.asnumpy(x)

    def randn(self, shape, seed, dtype="float32"):
        return self.cp.random.default_rng(seed).standard_normal(shape, dtype=dtype)

    def ntk_state(self, n, d, m, seed):
        cp = self.cp
        rng = cp.random.default_rng(seed)
        X = rng.standard_normal((n, d), dtype=cp.float32)
        X /= cp.linalg.norm(X, axis=1, keepdims=True)
        y = (rng.random(n, dtype=cp.float32) * 2 - 1).astype(cp.float32)
        W = rng.standard_normal((m, d), dtype=cp.float32)
        a = cp.where(rng.random(m, dtype=cp.float32) < 0.5, -1.0, 1.0).astype(cp.float32)
        return {"X": X, "y": y, "W": W, "a": a}

    def clone(self, x):
        return x.copy()

    def sync(self, out=None):
        self.cp.cuda.Device().synchronize()

    def dev_rel_err(self, x, ref):
        cp = self.cp
        den = float(cp.linalg.norm(ref))
        return float(cp.linalg.norm(x - ref)) / den if den > 0 else float(cp.linalg.norm(x))

    def time(self, fn, warmup, repeats):
        cp = self.cp
        for _ in range(warmup):
            fn()
        self.sync()
        ev = [(cp.cuda.Event(), cp.cuda.Event()) for _ in range(repeats)]
        for s, e in ev:
            s.record()
            fn()
            e.record()
        ev[-1][1].synchronize()
        return [cp.cuda.get_elapsed_time(s, e) for s, e in ev]

    def free(self):
        gc.collect()
        self.cp.get_default_memory_pool().free_all_blocks()

    def reset_peak(self):
        self.free()

    def peak_bytes(self):
        return int(self.cp.get_default_memory_pool().total_bytes())  # the pool holds its high-water mark

    def is_oom(self, ex):
        return isinstance(ex, self.cp.cuda.memory.OutOfMemoryError) or "out of memory" in str(ex).lower()

    def matmul_fn(self):
        return lambda A, B: A @ B

    def ntk_step_eager(self, lr):
        cp = self.cp

        def ntk_step(X, y, W, a):
            m = W.shape[0]
            Z = X @ W.T
            S = Z >= 0
            u = cp.maximum(Z, 0) @ a / math.sqrt(m)
            e = u - y
            G = ((S * e[:, None]) * a[None, :]).T @ X / math.sqrt(m)
            W -= lr * G
            return G, e
        return ntk_step

    def gram_fn(self):
        def gram(Z, K):
            S = (Z >= 0).astype(Z.dtype)
            return K * (S @ S.T) / Z.shape[1]
        return gram

    def z_and_k(self, st):
        return st["X"] @ st["W"].T, st["X"] @ st["X"].T

    rng_note = "cupy.random.standard_normal (the legacy RandomState: cuRAND XORWOW, float32)"

    def mfld_state(self, B, d, N, seed, loss="squared"):
        cp = self.cp
        rng = cp.random.default_rng(seed)
        X = (rng.standard_normal((B, d), dtype=cp.float32) / math.sqrt(d)).astype(cp.float32)
        y = (rng.random(B, dtype=cp.float32) * 2 - 1).astype(cp.float32)
        if loss == "logistic":
            y = cp.where(y >= 0, 1.0, -1.0).astype(cp.float32)   # labels +-1: random signs
        P = rng.standard_normal((N, d + 2), dtype=cp.float32)
        st = {"X": X, "y": y, "P": P}
        self.seed_noise(st, seed + 1)
        return st

    def seed_noise(self, st, seed):
        self.cp.random.seed(seed)

    def noise_scale(self, s):
        return float(s)

    def mfld_fns(self, lr, lam2, unit="tanh", loss="squared"):
        cp = self.cp
        relu, logistic = unit == "relu", loss == "logistic"

        def mfld_step(X, y, P, s):
            N = P.shape[0]
            B, d = X.shape
            W, b, a = P[:, :d], P[:, d], P[:, d + 1]
            if relu:
                Z = X @ W.T + b
                T = cp.maximum(Z, 0)
            else:
                T = cp.tanh(X @ W.T + b)
            f = T @ a / N
            c = (-y / (1 + cp.exp(y * f)) if logistic else f - y) / B
            if relu:
                dZ = (Z >= 0) * c[:, None] * a[None, :]
            else:
                dZ = (1 - T * T) * c[:, None] * a[None, :]
            gW = dZ.T @ X
            gb = dZ.sum(0)
            ga = T.T @ c
            G = cp.concatenate([gW, gb[:, None], ga[:, None]], axis=1)
            P -= lr * (G + 2 * lam2 * P)
            P += s * cp.random.standard_normal(P.shape, dtype=cp.float32)
            return f, gW, gb, ga

        def mfld_noise(P, s):
            P *= 1 - 2 * lr * lam2
            P += s * cp.random.standard_normal(P.shape, dtype=cp.float32)
        return mfld_step, mfld_noise

    def moments(self, x):
        x = x.astype(self.cp.float64)
        return float(x.mean()), float(x.var())


class JaxOps:
    name = "jax"

    def __init__(self, device):
        import jax
        import jax.numpy as jnp
        self.jax, self.jnp = jax, jnp
        backend = jax.default_backend()
        if device == "cuda" and backend != "gpu":
            raise RuntimeError(f"jax has no GPU backend here (default backend {backend!r}; "
                               "is the jax CUDA plugin installed?)")
        self.dev = jax.devices()[0]
        self.timer = "perf_counter+block_until_ready"

    def info(self):
        import jaxlib
        i = {"version": self.jax.__version__, "jaxlib": jaxlib.__version__,
             "backend": self.jax.default_backend(), "device_name": self.dev.device_kind,
             "platform": self.dev.platform,
             "XLA_PYTHON_CLIENT_PREALLOCATE": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
             "XLA_PYTHON_CLIENT_MEM_FRACTION": os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION")}
        try:
            st = self.dev.memory_stats() or {}
            i["bytes_limit"] = st.get("bytes_limit")
        except Exception:
            pass
        return i

    @contextlib.contextmanager
    def precision(self, mode):
        name = "tensorfloat32" if mode == "tf32" else "highest"
        with self.jax.default_matmul_precision(name):
            yield {"jax.default_matmul_precision": name}

    def from_np(self, x):
        return self.jax.device_put(np.ascontiguousarray(x), self.dev)

    def to_np(self, x):
        return np.asarray(x)

    def randn(self, shape, seed, dtype="float32"):
        return self.jax.random.normal(self.jax.random.key(seed), shape, dtype=getattr(self.jnp, dtype))

    def ntk_state(self, n, d, m, seed):
        jax, jnp = self.jax, self.jnp
        k = jax.random.split(jax.random.key(seed), 4)
        X = jax.random.normal(k[0], (n, d), jnp.float32)
        X = X / jnp.linalg.norm(X, axis=1, keepdims=True)
        y = jax.random.uniform(k[1], (n,), jnp.float32, -1.0, 1.0)
        W = jax.random.normal(k[2], (m, d), jnp.float32)
        a = jnp.where(jax.random.uniform(k[3], (m,)) < 0.5, -1.0, 1.0).astype(jnp.float32)
        return {"X": X, "y": y, "W": W, "a": a}

    def clone(self, x):
        return self.jnp.array(x, copy=True)

    def sync(self, out=None):
        if out is not None:
            self.jax.block_until_ready(out)

    def dev_rel_err(self, x, ref):
        jnp = self.jnp
        den = float(jnp.linalg.norm(ref))
        return float(jnp.linalg.norm(x - ref)) / den if den > 0 else float(jnp.linalg.norm(x))

    def time(self, fn, warmup, repeats):
        for _ in range(warmup):
            self.jax.block_until_ready(fn())
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            self.jax.block_until_ready(fn())
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    def free(self):
        gc.collect()

    def reset_peak(self):
        gc.collect()

    def peak_bytes(self):
        try:
            return (self.dev.memory_stats() or {}).get("peak_bytes_in_use")
        except Exception:
            return None

    def is_oom(self, ex):
        s = str(ex)
        return "RESOURCE_EXHAUSTED" in s or "out of memory" in s.lower()

    def matmul_fn(self):
        return self.jax.jit(lambda A, B: A @ B)

    def ntk_step_eager(self, lr):
        jnp = self.jnp

        def ntk_step(X, y, W, a):
            m = W.shape[0]
            Z = X @ W.T
            S = Z >= 0
            u = jnp.maximum(Z, 0) @ a / math.sqrt(m)
            e = u - y
            G = ((S * e[:, None]) * a[None, :]).T @ X / math.sqrt(m)
            return W - lr * G, G, e
        return ntk_step

    def ntk_step_jit(self, lr):
        return self.jax.jit(self.ntk_step_eager(lr), donate_argnums=2)

    def ntk_caller(self, fn):
        def call(st):
            W, G, e = fn(st["X"], st["y"], st["W"], st["a"])
            st["W"] = W
            return G, e
        return call

    def gram_fn(self):
        def gram(Z, K):
            S = (Z >= 0).astype(Z.dtype)
            return K * (S @ S.T) / Z.shape[1]
        return self.jax.jit(gram)

    def z_and_k(self, st):
        with self.precision("highest"):
            f = self.jax.jit(lambda X, W: (X @ W.T, X @ X.T))
            return f(st["X"], st["W"])

    @property
    def rng_note(self):
        impl = getattr(self.jax.config, "jax_default_prng_impl", None)
        return f"jax.random.normal with a key split each step (PRNG implementation {impl})"

    def mfld_state(self, B, d, N, seed, loss="squared"):
        jax, jnp = self.jax, self.jnp
        k = jax.random.split(jax.random.key(seed), 3)
        X = jax.random.normal(k[0], (B, d), jnp.float32) / math.sqrt(d)
        y = jax.random.uniform(k[1], (B,), jnp.float32, -1.0, 1.0)
        if loss == "logistic":
            y = jnp.where(y >= 0, 1.0, -1.0).astype(jnp.float32)   # labels +-1: random signs
        P = jax.random.normal(k[2], (N, d + 2), jnp.float32)
        st = {"X": X, "y": y, "P": P}
        self.seed_noise(st, seed + 1)
        return st

    def seed_noise(self, st, seed):
        st["key"] = self.jax.random.key(seed)

    def noise_scale(self, s):
        return self.jnp.asarray(s, self.jnp.float32)

    def mfld_fns(self, lr, lam2, unit="tanh", loss="squared"):
        """Pure functions: they return the new P and the next key (the caller keeps both)."""
        jax, jnp = self.jax, self.jnp
        relu, logistic = unit == "relu", loss == "logistic"

        def mfld_step(X, y, P, s, key):
            N = P.shape[0]
            B, d = X.shape
            W, b, a = P[:, :d], P[:, d], P[:, d + 1]
            if relu:
                Z = X @ W.T + b
                T = jnp.maximum(Z, 0)
            else:
                T = jnp.tanh(X @ W.T + b)
            f = T @ a / N
            c = (-y / (1 + jnp.exp(y * f)) if logistic else f - y) / B
            if relu:
                dZ = (Z >= 0) * c[:, None] * a[None, :]
            else:
                dZ = (1 - T * T) * c[:, None] * a[None, :]
            gW = dZ.T @ X
            gb = dZ.sum(0)
            ga = T.T @ c
            G = jnp.concatenate([gW, gb[:, None], ga[:, None]], axis=1)
            key, sub = jax.random.split(key)
            P = P - lr * (G + 2 * lam2 * P) + s * jax.random.normal(sub, P.shape, P.dtype)
            return P, key, f, gW, gb, ga

        def mfld_noise(P, s, key):
            key, sub = jax.random.split(key)
            return (1 - 2 * lr * lam2) * P + s * jax.random.normal(sub, P.shape, P.dtype), key
        return mfld_step, mfld_noise

    def mfld_jit(self, lr, lam2, unit="tanh", loss="squared"):
        step, noise = self.mfld_fns(lr, lam2, unit, loss)
        return self.jax.jit(step, donate_argnums=2), self.jax.jit(noise, donate_argnums=0)

    def mfld_callers(self, step, noise):
        def call_step(st, s):
            st["P"], st["key"], *out = step(st["X"], st["y"], st["P"], s, st["key"])
            return tuple(out)

        def call_noise(st, s):
            st["P"], st["key"] = noise(st["P"], s, st["key"])
            return st["P"]
        return call_step, call_noise

    def moments(self, x):
        """float32 (no x64 here), in two levels (rows, then their means) to keep the rounding small."""
        jnp = self.jnp
        x = x.reshape(x.shape[0], -1)
        m = float(jnp.mean(jnp.mean(x, axis=1)))
        v = float(jnp.mean(jnp.mean((x - m) ** 2, axis=1)))
        return m, v


# ----------------------------------------------------------------------------------------------
# Worker: one framework in one child process. Results are written to a file after every record,
# so whatever was measured survives a kill.

class Report:
    def __init__(self, path, worker):
        self.path = path
        self.doc = {"worker": worker, "frameworks": {}, "checks": [], "measurements": [], "skipped": [],
                    "errors": [], "phase": None}

    def emit(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.doc, f, default=_json_default)
        os.replace(tmp, self.path)

    def phase(self, name):
        self.doc["phase"] = {"name": name, "since": time.time()} if name else None
        self.emit()

    def add(self, key, rec):
        self.doc[key].append(rec)
        self.emit()

    def skip(self, framework, what, reason):
        log(f"{framework} {what}: skipped: {reason}")
        self.add("skipped", {"framework": framework, "what": what, "reason": reason})

    def error(self, framework, what, ex):
        tb = traceback.format_exception(type(ex), ex, ex.__traceback__)
        log(f"{framework} {what}: error: {type(ex).__name__}: {ex}")
        self.add("errors", {"framework": framework, "what": what,
                            "error": f"{type(ex).__name__}: {str(ex)[:2000]}", "traceback": "".join(tb[-6:])[-4000:]})


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return str(o)


def timing_fields(ms, ops, args):
    return {"ms_median": statistics.median(ms), "ms_min": min(ms), "ms_max": max(ms), "ms_all": ms,
            "repeats": len(ms), "warmup": args.warmup, "timer": ops.timer}


def section_gemm(ops, R, args, modes, sizes=None, kind="gemm", dtype="float32", variant="default"):
    """Square C = A B: accuracy check against float64 at --gemm-check-size, then the timed sizes."""
    mm = ops.matmul_fn()
    sizes = sizes or args.gemm_size_list
    for mode in modes:
        label = {"float32": "f32-" + ("tf32" if mode == "tf32" else "highest"), "bfloat16": "bf16"}[dtype]
        what = f"{kind} {label}"
        try:
            with ops.precision(mode) as settings:
                k = args.gemm_check_size
                A = ops.randn((k, k), args.seed + 11, dtype)
                B = ops.randn((k, k), args.seed + 12, dtype)
                C = ops.to_np(mm(A, B))
                ref = ops.to_np(A).astype(np.float64) @ ops.to_np(B).astype(np.float64)
                err = rel_err(C, ref)
                tol = {"highest": TOL_GEMM_F32, "tf32": TOL_GEMM_TF32}[mode] if dtype == "float32" else TOL_GEMM_BF16
                check = {"framework": ops.name, "variant": variant, "kind": kind, "precision": label,
                         "params": {"n": k}, "metrics": {"rel_err": err}, "tol": tol, "passed": err <= tol,
                         "against": "numpy float64 of the same inputs", "settings": settings}
                if dtype == "float32":
                    # TF32 shows as an error far above f32 rounding; say whether the mode took effect
                    check["tf32_in_effect"] = err > TOL_GEMM_F32
                R.add("checks", check)
                log(f"{ops.name} {what}: check rel err {err:.2e} (tol {tol:.0e}) {'ok' if err <= tol else 'FAILED'}")
                del A, B, C
                if err > tol:
                    R.skip(ops.name, what, f"accuracy check failed (rel err {err:.3e} > {tol:.0e}); not timed")
                    continue
                for n in sizes:
                    host_guard(args, 3 * n * n * 4, f"{kind} n={n}")
                    A = ops.randn((n, n), args.seed + 2 * n, dtype)
                    B = ops.randn((n, n), args.seed + 2 * n + 1, dtype)
                    ms = ops.time(lambda: mm(A, B), args.warmup, args.repeats)
                    med = statistics.median(ms)
                    rec = {"framework": ops.name, "variant": variant, "kind": kind, "precision": label,
                           "params": {"n": n, "dtype": dtype}, **timing_fields(ms, ops, args),
                           "tflops": 2.0 * n ** 3 / (med * 1e-3) / 1e12, "checked": True, "settings": settings}
                    R.add("measurements", rec)
                    log(f"{ops.name} {what} n={n}: {med:.3f} ms, {rec['tflops']:.2f} TFLOP/s")
                    del A, B
                    ops.free()
        except TooBig as ex:
            R.skip(ops.name, what, str(ex))
        except Exception as ex:
            R.error(ops.name, what, ex)
        ops.free()


def check_ntk_small(ops, R, args, call, variant, label, settings):
    """Run one step of `call` on margin-drawn inputs at --check-width and compare with float64."""
    Xn, yn, Wn, an = make_ntk_inputs(args.n, args.d, args.check_width, args.seed + 1, CHECK_MARGIN)
    G_ref, e_ref, W_ref, _ = ntk_reference(Xn, yn, Wn, an, args.lr)
    W0 = Wn.astype(np.float64)  # kept apart: the step updates its W in place
    st = {"X": ops.from_np(Xn), "y": ops.from_np(yn), "W": ops.from_np(Wn.copy()), "a": ops.from_np(an)}
    t0 = time.perf_counter()
    G, e = call(st)
    ops.sync((G, e, st["W"]))
    first_s = time.perf_counter() - t0
    G, e, W1 = ops.to_np(G), ops.to_np(e), ops.to_np(st["W"])
    metrics = {"rel_err_G": rel_err(G, G_ref), "rel_err_e": rel_err(e, e_ref),
               "rel_err_update": rel_err(W0 - W1, W0 - W_ref)}
    tol = {"rel_err_G": TOL_NTK_F32, "rel_err_e": TOL_NTK_F32, "rel_err_update": 1e-3}
    passed = all(metrics[k] <= tol[k] for k in metrics)
    R.add("checks", {"framework": ops.name, "variant": variant, "kind": "ntk_step", "precision": label,
                     "params": {"n": args.n, "d": args.d, "m": args.check_width, "lr": args.lr,
                                "margin": CHECK_MARGIN},
                     "metrics": metrics, "tol": tol, "passed": passed, "first_call_s": first_s,
                     "against": "numpy float64 of the same float32 inputs", "settings": settings})
    log(f"{ops.name} ntk_step {variant}: check m={args.check_width}: " +
        ", ".join(f"{k} {v:.2e}" for k, v in metrics.items()) + (" ok" if passed else " FAILED"))
    return passed, first_s


def section_ntk(ops, R, args, variant, call, ref_call=None, compiled=False):
    """Check at small size; at full size optionally cross-check against ref_call (the same
    framework's eager code), then time. `call(state)` runs one step and updates state['W']."""
    label = "f32-highest"
    what = f"ntk_step {variant}"
    n, d, m = args.n, args.d, args.ntk_width
    try:
        with ops.precision("highest") as settings:
            if compiled:
                R.phase("compiling")
            ok, check_first_s = check_ntk_small(ops, R, args, call, variant, label, settings)
            R.phase(None)
            if not ok:
                R.skip(ops.name, what, "float64 check failed; not timed")
                return
            ops.free()
            host_guard(args, ntk_peak_obvious(n, d, m) + (8 * m * d if ref_call else 0), f"{what} m={m}")
            st = ops.ntk_state(n, d, m, args.seed + 3)
            xcheck = None
            if ref_call is not None:
                try:
                    st_ref = dict(st, W=ops.clone(st["W"]))
                    G_ref, e_ref = ref_call(st_ref)
                    ops.sync((G_ref, e_ref))
                    del st_ref
                    ops.free()
                except Exception as ex:
                    if not ops.is_oom(ex):
                        raise
                    G_ref = e_ref = None
                    xcheck = {"done": False, "reason": f"eager reference ran out of memory at m={m}"}
                    ops.free()
            if compiled:
                R.phase("compiling")
            ops.reset_peak()
            t0 = time.perf_counter()
            G, e = call(st)
            ops.sync((G, e, st["W"]))
            first_s = time.perf_counter() - t0
            R.phase(None)
            if ref_call is not None and xcheck is None:
                xm = {"rel_err_G": ops.dev_rel_err(G, G_ref), "rel_err_e": ops.dev_rel_err(e, e_ref)}
                xtol = {"rel_err_G": TOL_XCHECK_G, "rel_err_e": TOL_XCHECK_E}
                xcheck = {"done": True, "metrics": xm, "tol": xtol,
                          "passed": all(xm[k] <= xtol[k] for k in xm)}
                R.add("checks", {"framework": ops.name, "variant": variant, "kind": "ntk_step_fullsize",
                                 "precision": label, "params": {"n": n, "d": d, "m": m},
                                 "metrics": xm, "tol": xtol, "passed": xcheck["passed"],
                                 "against": f"{ops.name} eager, same inputs, full size"})
                log(f"{ops.name} {what}: full-size cross-check vs eager: G {xm['rel_err_G']:.2e}, "
                    f"e {xm['rel_err_e']:.2e} {'ok' if xcheck['passed'] else 'FAILED'}")
                del G_ref, e_ref
            del G, e
            ops.free()
            if xcheck is not None and xcheck.get("done") and not xcheck["passed"]:
                R.skip(ops.name, what, "full-size cross-check against eager failed; not timed")
                return
            ms = ops.time(lambda: call(st), args.warmup, args.repeats)
            peak = ops.peak_bytes()
            med = statistics.median(ms)
            fl, by = ntk_flops(n, d, m), ntk_bytes_obvious(n, d, m)
            rec = {"framework": ops.name, "variant": variant, "kind": "ntk_step", "precision": label,
                   "params": {"n": n, "d": d, "m": m, "lr": args.lr}, **timing_fields(ms, ops, args),
                   "gflops": fl / (med * 1e-3) / 1e9, "flops_per_step": fl,
                   "bytes_obvious_estimate": by, "gbps_obvious_estimate": by / (med * 1e-3) / 1e9,
                   "bytes_fused_minimum": ntk_bytes_fused_min(n, d, m),
                   "peak_memory_obvious_estimate": ntk_peak_obvious(n, d, m),
                   "peak_memory_bytes": peak, "first_call_s": first_s,
                   "compile_s": first_s if compiled else None,
                   "compile_check_s": check_first_s if compiled else None, "checked": True,
                   "fullsize_crosscheck": xcheck, "settings": settings}
            R.add("measurements", rec)
            log(f"{ops.name} {what} m={m}: {med:.3f} ms/step, {rec['gflops']:.1f} GFLOP/s"
                + (f", compile {first_s:.1f} s" if compiled else ""))
            del st
    except TooBig as ex:
        R.skip(ops.name, what, str(ex))
    except Exception as ex:
        R.phase(None)
        R.error(ops.name, what, ex)
    ops.free()


def section_gram(ops, R, args, modes, variant="default"):
    gram = ops.gram_fn()
    n, d, m = args.n, args.d, args.ntk_width
    for mode in modes:
        label = "f32-" + ("tf32" if mode == "tf32" else "highest")
        what = f"ntk_gram {label}"
        try:
            # check: Z and X X^T are the operation's inputs; they come from the margin-drawn
            # inputs in float32 on the host, so the masks equal the float64 ones whatever
            # precision the framework's own matmul would have used to form Z
            Xn, _, Wn, _ = make_ntk_inputs(n, d, args.check_width, args.seed + 1, CHECK_MARGIN)
            ref = gram_reference(Xn, Xn.astype(np.float64) @ Wn.astype(np.float64).T)
            Z, K = ops.from_np(Xn @ Wn.T), ops.from_np(Xn @ Xn.T)
            with ops.precision(mode) as settings:
                H = ops.to_np(gram(Z, K))
            err = rel_err(H, ref)
            passed = err <= TOL_GRAM
            R.add("checks", {"framework": ops.name, "variant": variant, "kind": "ntk_gram", "precision": label,
                             "params": {"n": n, "d": d, "m": args.check_width}, "metrics": {"rel_err": err},
                             "tol": TOL_GRAM, "passed": passed, "against": "numpy float64", "settings": settings})
            log(f"{ops.name} {what}: check rel err {err:.2e} {'ok' if passed else 'FAILED'}")
            del Z, K
            if not passed:
                R.skip(ops.name, what, "float64 check failed; not timed")
                continue
            ops.free()
            host_guard(args, 9 * n * m + 4 * m * d, f"{what} m={m}")  # Z, S as f32, the bool mask
            st = ops.ntk_state(n, d, m, args.seed + 5)
            Z, K = ops.z_and_k(st)
            del st
            ops.free()
            with ops.precision(mode) as settings:
                ms = ops.time(lambda: gram(Z, K), args.warmup, args.repeats)
            med = statistics.median(ms)
            fl = 2.0 * n * n * m
            rec = {"framework": ops.name, "variant": variant, "kind": "ntk_gram", "precision": label,
                   "params": {"n": n, "d": d, "m": m}, **timing_fields(ms, ops, args),
                   "tflops_mask_matmul": fl / (med * 1e-3) / 1e12,
                   "note": "timed: S = (Z >= 0) as f32 0/1, S S^T as an f32 matmul, times X X^T (computed "
                           "once, f32 highest), / m. Counts are integers <= m, exact in f32 (and with TF32, "
                           "whose inputs 0/1 are exact and whose accumulation is f32) while m <= 2^24.",
                   "exact_counts": m <= 2 ** 24, "checked": True, "settings": settings}
            R.add("measurements", rec)
            log(f"{ops.name} {what} m={m}: {med:.3f} ms")
            del Z, K
        except TooBig as ex:
            R.skip(ops.name, what, str(ex))
        except Exception as ex:
            R.error(ops.name, what, ex)
        ops.free()


def noise_stats_check(R_res, n):
    """mean and variance of residuals that should be N(0, 1), with their bounds (NOISE_SIGMAS
    standard errors: 1/sqrt(n) for the mean, sqrt(2/(n-1)) for the variance)."""
    mean, var = R_res
    tol = {"abs_mean": NOISE_SIGMAS / math.sqrt(n), "abs_var_minus_1": NOISE_SIGMAS * math.sqrt(2.0 / (n - 1))}
    metrics = {"mean": mean, "var": var, "abs_mean": abs(mean), "abs_var_minus_1": abs(var - 1)}
    return metrics, tol


def np_moments(x):
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()), float(x.var())


def np_corr(x, y):
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    x, y = x - x.mean(), y - y.mean()
    return float(x @ y / math.sqrt((x @ x) * (y @ y)))


def mfld_consts(args):
    lr, lam, lam2 = args.mfld_lr, args.mfld_lambda, args.mfld_lambda_l2
    return lr, lam, lam2, math.sqrt(2 * lam * lr), 1 - 2 * lr * lam2


def mfld_params(unit, loss, params):
    """The params of an MFLD step record: tanh with the squared loss keeps the fields it always had,
    the other combinations add their unit and loss."""
    return params if (unit, loss) == ("tanh", "squared") else {**params, "unit": unit, "loss": loss}


def check_mfld_small(ops, R, args, call_step, variant, label, settings, unit="tanh", loss="squared"):
    """The float64 checks of one step (OP: mfld_op(unit, loss), mfld_step for tanh with the squared
    loss) at --mfld-check-batch / --mfld-check-particles:
    OP               noise scale 0: f, G = [gW | gb | ga] and P_new against float64 (TOL_MFLD);
    OP_noise         noise on: (P_new - P_new_ref) / s of two steps from the same P: mean 0, variance 1,
                     the two draws uncorrelated (fresh noise each step).
    For relu the inputs keep every |Z_ir| >= CHECK_MARGIN, so the masks 1{Z >= 0} of float32 and
    float64 agree (and G is continuous in the rounding). For the logistic loss y = +-1.
    Returns (passed, first-call seconds)."""
    B, d, N = args.mfld_check_batch, args.mfld_d, args.mfld_check_particles
    lr, lam, lam2, s, k = mfld_consts(args)
    op = mfld_op(unit, loss)
    margin = CHECK_MARGIN if unit == "relu" else 0.0
    X, y, P = make_mfld_inputs(B, d, N, args.seed + 21, loss, margin)
    f_ref, G_ref, P_ref = mfld_reference(X, y, P, lr, lam2, unit, loss)
    P64 = P.astype(np.float64)
    n = P.size
    params = {"B": B, "N": N, "d": d, "D": d + 2, "lr": lr, "lambda": lam, "lambda_l2": lam2, "noise_scale": s}
    if margin:
        params["margin"] = margin
    params = mfld_params(unit, loss, params)

    def fresh(seed):
        st = {"X": ops.from_np(X), "y": ops.from_np(y), "P": ops.from_np(P.copy())}
        ops.seed_noise(st, seed)
        return st

    # deterministic part: noise scale 0
    st = fresh(args.seed + 22)
    t0 = time.perf_counter()
    f, gW, gb, ga = call_step(st, ops.noise_scale(0.0))
    ops.sync((f, gW, gb, ga, st["P"]))
    step_first_s = time.perf_counter() - t0
    G = np.concatenate([ops.to_np(gW), ops.to_np(gb)[:, None], ops.to_np(ga)[:, None]], axis=1)
    P1 = ops.to_np(st["P"])
    # P_new - P is ~1e-3 of P, so rounding P_new to f32 alone costs the update a relative error of
    # ~2e-5 at the defaults: the update's bound is TOL_MFLD, or 4x that floor if a smaller lr makes it larger
    floor = rel_err(P_ref.astype(np.float32).astype(np.float64) - P64, P_ref - P64)
    met = {"rel_err_f": rel_err(ops.to_np(f), f_ref), "rel_err_G": rel_err(G, G_ref),
           "rel_err_P": rel_err(P1, P_ref), "rel_err_update": rel_err(P1.astype(np.float64) - P64, P_ref - P64),
           "update_f32_rounding_floor": floor}
    ok_det = mfld_check_record(ops, R, variant, label, settings, params, op, met,
                               {"rel_err_f": TOL_MFLD, "rel_err_G": TOL_MFLD, "rel_err_P": TOL_MFLD,
                                "rel_err_update": max(TOL_MFLD, 4 * floor)},
                               "numpy float64 of the same float32 inputs, noise scale 0")

    # the full step with noise: two steps from the same P
    st = fresh(args.seed + 24)
    res = []
    for _ in range(2):
        st["P"] = ops.from_np(P.copy())
        call_step(st, ops.noise_scale(s))
        ops.sync(st["P"])
        res.append((ops.to_np(st["P"]).astype(np.float64) - P_ref) / s)
    met, tol = noise_stats_check(np_moments(res[0]), n)
    met["abs_corr_two_steps"] = abs(np_corr(res[0], res[1]))
    tol["abs_corr_two_steps"] = NOISE_SIGMAS / math.sqrt(n)
    ok_step_noise = mfld_check_record(ops, R, variant, label, settings, params, f"{op}_noise", met, tol,
                                      "(P_new - float64 noise-free P_new) / sqrt(2 lam lr) ~ N(0, 1), "
                                      "fresh each step")
    return ok_det and ok_step_noise, step_first_s


def check_mfld_noise_small(ops, R, args, call_noise, variant, label, settings):
    """mfld_noise: the noise-only update at --mfld-check-particles: (P_new - (1 - 2 lr lam') P) / s of
    two updates from the same P: mean 0, variance 1, the two draws uncorrelated.
    Returns (passed, first-call seconds)."""
    B, d, N = args.mfld_check_batch, args.mfld_d, args.mfld_check_particles
    lr, lam, lam2, s, k = mfld_consts(args)
    X, y, P = make_mfld_inputs(B, d, N, args.seed + 21)
    P64 = P.astype(np.float64)
    n = P.size
    params = {"B": B, "N": N, "d": d, "D": d + 2, "lr": lr, "lambda": lam, "lambda_l2": lam2, "noise_scale": s}
    st = {"X": ops.from_np(X), "y": ops.from_np(y), "P": ops.from_np(P.copy())}
    ops.seed_noise(st, args.seed + 26)
    res, noise_first_s = [], None
    for i in range(2):
        st["P"] = ops.from_np(P.copy())
        t0 = time.perf_counter()
        call_noise(st, ops.noise_scale(s))
        ops.sync(st["P"])
        if i == 0:
            noise_first_s = time.perf_counter() - t0
        res.append((ops.to_np(st["P"]).astype(np.float64) - k * P64) / s)
    met, tol = noise_stats_check(np_moments(res[0]), n)
    met["abs_corr_two_steps"] = abs(np_corr(res[0], res[1]))
    tol["abs_corr_two_steps"] = NOISE_SIGMAS / math.sqrt(n)
    ok = mfld_check_record(ops, R, variant, label, settings, params, "mfld_noise", met, tol,
                           "(P_new - (1 - 2 lr lam') P) / sqrt(2 lam lr) ~ N(0, 1), fresh each step")
    return ok, noise_first_s


def mfld_check_record(ops, R, variant, label, settings, params, kind, metrics, tol, against):
    passed = all(metrics[m] <= tol[m] for m in tol)
    R.add("checks", {"framework": ops.name, "variant": variant, "kind": kind, "precision": label,
                     "params": params, "metrics": metrics, "tol": tol, "passed": passed,
                     "against": against, "settings": settings})
    log(f"{ops.name} {kind} {variant}: check N={params['N']}: " +
        ", ".join(f"{m} {metrics[m]:.2e}" for m in tol) + (" ok" if passed else " FAILED"))
    return passed


MFLD_NOISE_NOTE = ("xi is drawn into its own N x D buffer and read back by the update (an extra write and read of "
                   "4 N D bytes, plus the s * xi temporary in eager code) unless the generator is fused into the "
                   "update: torch.compile's inductor and XLA may fuse it; widenet draws Philox numbers inside "
                   "its update kernel. gbps counts only the minimum 2 N D 4 bytes.")


def mfld_steps(args, fns, ref_fns=None):
    """[(unit, loss, fn, ref_fn)] over --mfld-units x --mfld-losses: fns(unit, loss) and ref_fns(unit, loss)
    give the callers of the step timed and of its reference (None: none)."""
    return [(u, l, fns(u, l), ref_fns(u, l) if ref_fns else None) for u, l in args.mfld_combo_list]


def section_mfld(ops, R, args, variant, steps, call_noise=None, compiled=False):
    """MFLD: the float64 checks at small size of each step of `steps` [(unit, loss, call_step,
    ref_step)] and of the noise-only update (call_noise; None: not measured here), then at full
    size: the noise statistics of the noise-only update and its timing (mfld_noise), then for each
    step the noise statistics (and, with ref_step, the noise-free step against the framework's
    eager code) and its timing (mfld_step, mfld_step_relu, ...). A step whose check failed is not
    timed; the others are."""
    label = "f32-highest"
    B, d, N = args.mfld_batch, args.mfld_d, args.mfld_particles
    D = d + 2
    lr, lam, lam2, s, k = mfld_consts(args)
    params_common = {"lr": lr, "lambda": lam, "lambda_l2": lam2, "noise_scale": s}
    n = N * D
    try:
        with ops.precision("highest") as settings:
            passed, ok_noise, noise_check_s = [], False, None
            for i, (unit, loss, call_step, ref_step) in enumerate(steps):
                op = mfld_op(unit, loss)
                try:
                    if compiled:
                        R.phase("compiling")
                    ok, step_check_s = check_mfld_small(ops, R, args, call_step, variant, label, settings, unit, loss)
                    R.phase(None)
                    if ok:
                        passed.append((unit, loss, call_step, ref_step, step_check_s))
                    else:
                        R.skip(ops.name, f"{op} {variant}", "float64 check failed; not timed")
                except Exception as ex:
                    R.phase(None)
                    R.error(ops.name, f"{op} {variant}", ex)
                if i == 0 and call_noise is not None:   # in the order the checks always had
                    try:
                        if compiled:
                            R.phase("compiling")
                        ok_noise, noise_check_s = check_mfld_noise_small(ops, R, args, call_noise, variant, label,
                                                                         settings)
                        R.phase(None)
                        if not ok_noise:
                            R.skip(ops.name, f"mfld_noise {variant}", "float64 check failed; not timed")
                    except Exception as ex:
                        R.phase(None)
                        R.error(ops.name, f"mfld_noise {variant}", ex)
                ops.free()
            if not (passed or ok_noise):
                return
            host_guard(args, 6 * n * 4, f"mfld N={N} D={D}")
            sc, zero = ops.noise_scale(s), ops.noise_scale(0.0)

            if ok_noise:
                what = f"mfld_noise {variant}"
                st = None
                try:
                    st = ops.mfld_state(B, d, N, args.seed + 23)
                    P0 = ops.clone(st["P"])
                    if compiled:
                        R.phase("compiling")
                    t0 = time.perf_counter()
                    Pn = call_noise(st, sc)
                    ops.sync(Pn)
                    first_s = time.perf_counter() - t0
                    R.phase(None)
                    met, tol = noise_stats_check(ops.moments((Pn - k * P0) / s), n)
                    ok_n = all(met[m] <= tol[m] for m in tol)
                    R.add("checks", {"framework": ops.name, "variant": variant, "kind": "mfld_noise_fullsize",
                                     "precision": label, "params": {"N": N, "D": D, **params_common},
                                     "metrics": met, "tol": tol, "passed": ok_n,
                                     "against": "(P_new - (1 - 2 lr lam') P) / s ~ N(0, 1), full size"})
                    log(f"{ops.name} {what}: full-size noise mean {met['mean']:.2e}, var {met['var']:.5f} "
                        + ("ok" if ok_n else "FAILED"))
                    st["P"] = P0
                    del Pn
                    ops.free()
                    if not ok_n:
                        R.skip(ops.name, what, "full-size noise statistics failed; not timed")
                    else:
                        ops.reset_peak()
                        ms = ops.time(lambda: call_noise(st, sc), args.warmup, args.repeats)
                        med = statistics.median(ms)
                        by = mfld_bytes_min(N, D)
                        rec = {"framework": ops.name, "variant": variant, "kind": "mfld_noise", "precision": label,
                               "params": {"N": N, "D": D, **params_common}, **timing_fields(ms, ops, args),
                               "gbps": by / (med * 1e-3) / 1e9, "bytes_minimum": by,
                               "bytes_obvious_estimate": None if compiled else mfld_noise_bytes_obvious(N, D),
                               "peak_memory_bytes": ops.peak_bytes(), "first_call_s": first_s,
                               "compile_s": first_s if compiled else None,
                               "compile_check_s": noise_check_s if compiled else None,
                               "rng": ops.rng_note, "noise_note": MFLD_NOISE_NOTE, "checked": True,
                               "settings": settings}
                        if not compiled:
                            rec["gbps_obvious_estimate"] = rec["bytes_obvious_estimate"] / (med * 1e-3) / 1e9
                        R.add("measurements", rec)
                        log(f"{ops.name} {what} N={N}: {med:.3f} ms, {rec['gbps']:.1f} GB/s (2 N D 4 bytes)")
                except TooBig as ex:
                    R.skip(ops.name, what, str(ex))
                except Exception as ex:
                    R.phase(None)
                    if ops.is_oom(ex):
                        R.skip(ops.name, what, f"out of memory at N={N}: {str(ex).splitlines()[0][:300]}")
                    else:
                        R.error(ops.name, what, ex)
                del st
                ops.free()

            for unit, loss, call_step, ref_step, step_check_s in passed:
                op = mfld_op(unit, loss)
                what = f"{op} {variant}"
                params = mfld_params(unit, loss, {"B": B, "N": N, "d": d, **params_common})
                st = None
                try:
                    host_guard(args, mfld_peak_obvious(B, d, N, unit) + 3 * n * 4, f"{what} B={B} N={N}")
                    st = ops.mfld_state(B, d, N, args.seed + 23, loss)
                    P0 = ops.clone(st["P"])
                    xcheck, ref = None, None
                    if ref_step is not None:
                        try:
                            st_ref = dict(st, P=ops.clone(P0))
                            ref = ref_step(st_ref, zero)
                            ops.sync(ref)
                            del st_ref
                            ops.free()
                        except Exception as ex:
                            if not ops.is_oom(ex):
                                raise
                            ref = None
                            xcheck = {"done": False, "reason": f"eager reference ran out of memory at N={N}"}
                            ops.free()
                    if compiled:
                        R.phase("compiling")
                    t0 = time.perf_counter()
                    out = call_step(st, zero)
                    ops.sync((out, st["P"]))
                    first_s = time.perf_counter() - t0
                    R.phase(None)
                    ok_x = True
                    if ref is not None:
                        xm = {f"rel_err_{nm}": ops.dev_rel_err(o, r) for nm, o, r in zip(("f", "gW", "gb", "ga"), out, ref)}
                        # relu: gW and gb carry the mask, which a Z within rounding of 0 may flip
                        xtol = {m: TOL_MFLD_XCHECK_MASK if unit == "relu" and m in ("rel_err_gW", "rel_err_gb")
                                else TOL_MFLD_XCHECK for m in xm}
                        ok_x = all(xm[m] <= xtol[m] for m in xm)
                        xcheck = {"done": True, "metrics": xm, "tol": xtol, "passed": ok_x}
                        R.add("checks", {"framework": ops.name, "variant": variant, "kind": f"{op}_fullsize",
                                         "precision": label, "params": params,
                                         "metrics": xm, "tol": xtol, "passed": ok_x,
                                         "against": f"{ops.name} eager, same inputs, full size, noise scale 0"})
                        log(f"{ops.name} {what}: full-size cross-check vs eager: " +
                            ", ".join(f"{m[8:]} {v:.2e}" for m, v in xm.items()) + (" ok" if ok_x else " FAILED"))
                    del out, ref
                    # noise at full size: the same step with the noise on, from the same P
                    P_det = st["P"]
                    st["P"] = ops.clone(P0)
                    call_step(st, sc)
                    ops.sync(st["P"])
                    met, tol = noise_stats_check(ops.moments((st["P"] - P_det) / s), n)
                    ok_n = all(met[m] <= tol[m] for m in tol)
                    R.add("checks", {"framework": ops.name, "variant": variant, "kind": f"{op}_noise_fullsize",
                                     "precision": label, "params": params,
                                     "metrics": met, "tol": tol, "passed": ok_n,
                                     "against": "(P_new - the same step's P_new with noise scale 0) / s ~ N(0, 1), "
                                                "full size"})
                    log(f"{ops.name} {what}: full-size noise mean {met['mean']:.2e}, var {met['var']:.5f} "
                        + ("ok" if ok_n else "FAILED"))
                    st["P"] = P0
                    del P_det
                    ops.free()
                    if not (ok_x and ok_n):
                        R.skip(ops.name, what, "full-size check failed; not timed")
                    else:
                        ops.reset_peak()
                        ms = ops.time(lambda: (call_step(st, sc), st["P"]), args.warmup, args.repeats)
                        med = statistics.median(ms)
                        fl, by = mfld_flops(B, d, N), mfld_bytes_min(N, D)
                        rec = {"framework": ops.name, "variant": variant, "kind": op, "precision": label,
                               "params": mfld_params(unit, loss, {"B": B, "N": N, "d": d, "D": D, **params_common}),
                               **timing_fields(ms, ops, args),
                               "gflops": fl / (med * 1e-3) / 1e9, "flops_per_step": fl,
                               "gbps": by / (med * 1e-3) / 1e9, "bytes_minimum": by,
                               "bytes_obvious_estimate": None if compiled else mfld_bytes_obvious(B, d, N, unit),
                               "peak_memory_obvious_estimate": mfld_peak_obvious(B, d, N, unit),
                               "peak_memory_bytes": ops.peak_bytes(), "first_call_s": first_s,
                               "compile_s": first_s if compiled else None,
                               "compile_check_s": step_check_s if compiled else None,
                               "fullsize_crosscheck": xcheck, "rng": ops.rng_note, "noise_note": MFLD_NOISE_NOTE,
                               "returns": "f and the gradient parts gW, gb, ga (materialised by the products and "
                                          "the reduction in any case), so the checks can read them",
                               "checked": True, "settings": settings}
                        if not compiled:
                            rec["gbps_obvious_estimate"] = rec["bytes_obvious_estimate"] / (med * 1e-3) / 1e9
                        R.add("measurements", rec)
                        log(f"{ops.name} {what} B={B} N={N}: {med:.3f} ms/step, {rec['gflops']:.1f} GFLOP/s"
                            + (f", compile {first_s:.1f} s" if compiled else ""))
                except TooBig as ex:
                    R.skip(ops.name, what, str(ex))
                except Exception as ex:
                    R.phase(None)
                    if ops.is_oom(ex):
                        R.skip(ops.name, what, f"out of memory at B={B} N={N}: {str(ex).splitlines()[0][:300]}")
                    else:
                        R.error(ops.name, what, ex)
                del st
                ops.free()
    except TooBig as ex:
        R.skip(ops.name, f"mfld {variant}", str(ex))
    except Exception as ex:
        R.phase(None)
        R.error(ops.name, f"mfld {variant}", ex)
    ops.free()


def section_copy(ops, R, args):
    """torch: device-to-device copy bandwidth (the ceiling of the streaming operations)."""
    torch = ops.torch
    what = "copy"
    try:
        nbytes = args.copy_mib * 2 ** 20
        host_guard(args, 2 * nbytes, f"copy of {args.copy_mib} MiB")
        src = torch.empty(nbytes // 4, dtype=torch.float32, device=ops.dev).uniform_(-1, 1)
        dst = torch.empty_like(src)
        dst.copy_(src)
        ops.sync()
        ok = bool(torch.equal(dst, src))
        R.add("checks", {"framework": "torch", "variant": "copy_", "kind": "copy", "precision": "f32",
                         "params": {"bytes": nbytes}, "metrics": {"equal": ok}, "passed": ok,
                         "against": "source buffer"})
        if ok:
            ms = ops.time(lambda: dst.copy_(src), args.warmup, args.repeats)
            med = statistics.median(ms)
            rec = {"framework": "torch", "variant": "copy_", "kind": "copy", "precision": "f32",
                   "params": {"bytes": nbytes}, **timing_fields(ms, ops, args),
                   "gbps": 2.0 * nbytes / (med * 1e-3) / 1e9, "bytes_moved": 2 * nbytes,
                   "note": "bytes read + bytes written over time", "checked": True}
            R.add("measurements", rec)
            log(f"torch copy {args.copy_mib} MiB: {med:.3f} ms, {rec['gbps']:.0f} GB/s")
        else:
            R.skip("torch", what, "copy did not reproduce the source; not timed")
        del src, dst
    except TooBig as ex:
        R.skip("torch", what, str(ex))
    except Exception as ex:
        R.error("torch", what, ex)
    ops.free()


def section_ceilings(ops, R, args):
    """torch: device-to-device copy bandwidth and the matmul peak in bf16 and f32."""
    section_copy(ops, R, args)
    section_gemm(ops, R, args, ["highest"], sizes=[args.peak_size], kind="matmul_peak", dtype="bfloat16")
    section_gemm(ops, R, args, ["highest", "tf32"], sizes=[args.peak_size], kind="matmul_peak")


def section_width_search(ops, R, args):
    """Largest m (n, d fixed) for which --search-steps eager steps run without running out of memory."""
    torch = ops.torch
    n, d = args.n, args.d
    step = ops.ntk_caller(ops.ntk_step_eager(args.lr))
    t_start = time.perf_counter()
    tries = []
    gran = 1024 if args.device == "cuda" else 64

    def attempt(m):
        if args.search_cap is not None and m > args.search_cap:
            tries.append({"m": m, "ok": False, "reason": f"above --search-cap {args.search_cap}"})
            return False
        t0 = time.perf_counter()
        ok, reason, peak = True, None, None
        try:
            host_guard(args, ntk_peak_obvious(n, d, m), f"m={m}")
        except TooBig as ex:
            tries.append({"m": m, "ok": False, "reason": str(ex)})
            return False
        try:
            ops.free()
            ops.reset_peak()
            st = ops.ntk_state(n, d, m, args.seed + 7)
            for _ in range(args.search_steps):
                step(st)
            ops.sync()
            peak = ops.peak_bytes()
        except Exception as ex:
            if not ops.is_oom(ex):
                raise
            ok, reason = False, f"{type(ex).__name__}: {str(ex).splitlines()[0][:300]}"
        st = None
        ops.free()
        tries.append({"m": m, "ok": ok, "peak_memory_bytes": peak, "seconds": time.perf_counter() - t0,
                      **({"reason": reason} if reason else {})})
        log(f"torch width search: m={m} {'fits' if ok else 'fails'} ({time.perf_counter() - t0:.1f} s)")
        return ok

    def out_of_time():
        return time.perf_counter() - t_start > args.search_seconds

    lo = hi = None
    m = max(gran, args.search_start // gran * gran)
    stop = None
    while not out_of_time():                      # doubling
        if attempt(m):
            lo = m
            m *= 2
        else:
            hi = m
            break
    else:
        stop = "time budget spent while doubling"
    if lo is None and hi is not None and stop is None:
        m = hi // 2                               # the first try failed: halve down instead
        while m >= gran and not out_of_time():
            if attempt(m):
                lo = m
                break
            hi = m
            m //= 2
    while stop is None and lo is not None and hi is not None and (hi - lo) / lo > 0.05:   # bisection
        if out_of_time():
            stop = "time budget spent while bisecting"
            break
        mid = (lo + hi) // 2 // gran * gran
        if mid <= lo or mid >= hi:
            break
        if attempt(mid):
            lo = mid
        else:
            hi = mid
    best = next((t for t in tries if t["m"] == lo and t["ok"]), None)
    rec = {"framework": "torch", "variant": "eager", "kind": "max_width", "precision": "f32-highest",
           "params": {"n": n, "d": d, "steps": args.search_steps, "search_seconds": args.search_seconds,
                      "search_cap": args.search_cap, "granularity": gran},
           "largest_ok_width": lo, "smallest_failed_width": hi,
           "resolution": (hi - lo) / lo if (lo and hi) else None,
           "resolved_to_5pct": bool(lo and hi and ((hi - lo) / lo <= 0.05 or hi - lo <= gran)),
           "stopped": stop, "peak_memory_bytes": best and best.get("peak_memory_bytes"),
           "peak_memory_obvious_estimate": ntk_peak_obvious(n, d, lo) if lo else None,
           "device_total_memory": (torch.cuda.get_device_properties(0).total_memory if ops.cuda else None),
           "tries": tries, "seconds": time.perf_counter() - t_start, "checked": True}
    R.add("measurements", rec)
    log(f"torch width search: largest m that fits {lo}, smallest that fails {hi}")


def load_ops(fw, device):
    if fw == "torch":
        ops = TorchOps(device)
        if device == "cuda" and not ops.torch.cuda.is_available():
            raise RuntimeError(f"torch.cuda.is_available() is False (torch {ops.torch.__version__}, "
                               f"built for CUDA {ops.torch.version.cuda})")
        return ops
    if fw == "cupy":
        if device != "cuda":
            raise RuntimeError("CuPy runs on CUDA devices only (--device cpu)")
        return CupyOps(device)
    if fw == "jax":
        return JaxOps(device)
    raise ValueError(fw)


def mfld_eager(ops, args):
    """The eager steps of every --mfld-units x --mfld-losses combination and the noise-only update,
    as section_mfld takes them."""
    lr, lam2 = args.mfld_lr, args.mfld_lambda_l2
    steps = mfld_steps(args, lambda u, l: ops.mfld_callers(*ops.mfld_fns(lr, lam2, u, l))[0])
    return steps, ops.mfld_callers(*ops.mfld_fns(lr, lam2))[1]


def mfld_compile_jobs(args, mode):
    """One torch.compile child per MFLD step (each with its own --worker-timeout; the noise-only update
    goes with the first): torch-mfld-compile:MODE for mfld_step, torch-mfld-compile:MODE:OP for the others."""
    return [f"torch-mfld-compile:{mode}" + ("" if mfld_op(u, l) == "mfld_step" else f":{mfld_op(u, l)}")
            for u, l in args.mfld_combo_list]


def run_worker(args):
    """Child process: --_worker is torch | torch-compile:MODE | torch-mfld-compile:MODE[:OP] | torch-width |
    cupy | cupy-tf32 | jax."""
    job = args._worker
    fw = job.split("-")[0].split(":")[0]
    R = Report(args._result, job)
    R.emit()
    try:
        ops = load_ops(fw, args.device)
    except Exception as ex:
        reason = f"{type(ex).__name__}: {ex}"
        R.doc["frameworks"][fw] = {"available": False, "reason": reason}
        R.skip(fw, job, reason)
        return 0
    try:
        R.doc["frameworks"][fw] = {"available": True, **ops.info()}
    except Exception as ex:
        R.doc["frameworks"][fw] = {"available": True, "info_error": f"{type(ex).__name__}: {ex}"}
    R.emit()
    secs = args.section_list
    if job == "torch":
        if "gemm" in secs:
            section_gemm(ops, R, args, ["highest", "tf32"])
        if "ntk" in secs:
            section_ntk(ops, R, args, "eager", ops.ntk_caller(ops.ntk_step_eager(args.lr)))
        if "gram" in secs:
            section_gram(ops, R, args, ["highest", "tf32"])
        if "mfld" in secs:
            section_mfld(ops, R, args, "eager", *mfld_eager(ops, args))
        if "ceilings" in secs:
            section_ceilings(ops, R, args)
        elif "mfld" in secs:
            section_copy(ops, R, args)  # the bandwidth the noise-only update is set against
    elif job.startswith("torch-compile:"):
        mode = job.split(":", 1)[1]
        import torch
        eager = ops.ntk_step_eager(args.lr)
        try:
            compiled = torch.compile(eager, mode=mode, dynamic=False, fullgraph=True)
        except Exception as ex:
            R.error("torch", f"ntk_step compile:{mode}", ex)
            return 0
        section_ntk(ops, R, args, f"compile:{mode}", ops.ntk_caller(compiled),
                    ref_call=ops.ntk_caller(eager), compiled=True)
    elif job.startswith("torch-mfld-compile:"):
        mode, _, op = job.split(":", 1)[1].partition(":")
        op = op or "mfld_step"
        unit, loss = next(((u, l) for u, l in args.mfld_combo_list if mfld_op(u, l) == op), (None, None))
        if unit is None:
            raise SystemExit(f"unknown worker {job}: {op} is not among --mfld-units x --mfld-losses")
        with_noise = (unit, loss) == args.mfld_combo_list[0]
        import torch
        eager = ops.mfld_fns(args.mfld_lr, args.mfld_lambda_l2, unit, loss)
        try:
            compiled = [torch.compile(fn, mode=mode, dynamic=False, fullgraph=True)
                        for fn in (eager if with_noise else eager[:1])]
        except Exception as ex:
            R.error("torch", f"{op} compile:{mode}" if op != "mfld_step" else f"mfld compile:{mode}", ex)
            return 0
        call_step, call_noise = ops.mfld_callers(compiled[0], compiled[1] if with_noise else None)
        section_mfld(ops, R, args, f"compile:{mode}", [(unit, loss, call_step, ops.mfld_callers(*eager)[0])],
                     call_noise if with_noise else None, compiled=True)
    elif job == "torch-width":
        with ops.precision("highest"):
            if check_ntk_small(ops, R, args, ops.ntk_caller(ops.ntk_step_eager(args.lr)), "eager",
                               "f32-highest", ops.precision_settings())[0]:
                try:
                    section_width_search(ops, R, args)
                except Exception as ex:
                    R.error("torch", "max_width", ex)
            else:
                R.skip("torch", "max_width", "float64 check failed; not searched")
    elif job in ("cupy", "cupy-tf32"):
        mode = "tf32" if job == "cupy-tf32" else "highest"
        variant = "CUPY_TF32=1" if mode == "tf32" else "CUPY_TF32=0"
        if "gemm" in secs:
            section_gemm(ops, R, args, [mode], variant=variant)
        if mode == "highest" and "ntk" in secs:
            section_ntk(ops, R, args, "eager", ops.ntk_caller(ops.ntk_step_eager(args.lr)))
        if "gram" in secs:
            section_gram(ops, R, args, [mode], variant=variant)
        if mode == "highest" and "mfld" in secs:
            section_mfld(ops, R, args, "eager", *mfld_eager(ops, args))
    elif job == "jax":
        if "gemm" in secs:
            section_gemm(ops, R, args, ["highest", "tf32"], variant="jit")
        if "ntk" in secs:
            section_ntk(ops, R, args, "jit", ops.ntk_caller(ops.ntk_step_jit(args.lr)),
                        ref_call=ops.ntk_caller(ops.ntk_step_eager(args.lr)), compiled=True)
        if "gram" in secs:
            section_gram(ops, R, args, ["highest", "tf32"], variant="jit")
        if "mfld" in secs:
            lr, lam2 = args.mfld_lr, args.mfld_lambda_l2
            steps = mfld_steps(args, lambda u, l: ops.mfld_callers(*ops.mfld_jit(lr, lam2, u, l))[0],
                               lambda u, l: ops.mfld_callers(*ops.mfld_fns(lr, lam2, u, l))[0])
            section_mfld(ops, R, args, "jit", steps, ops.mfld_callers(*ops.mfld_jit(lr, lam2))[1], compiled=True)
    else:
        raise SystemExit(f"unknown worker {job}")
    R.phase(None)
    return 0


# ----------------------------------------------------------------------------------------------
# Parent: runs the workers one after another, merges their reports, prints the table.

def worker_env(job, args):
    env = dict(os.environ)
    if job == "cupy":
        env["CUPY_TF32"] = "0"
    elif job == "cupy-tf32":
        env["CUPY_TF32"] = "1"
    if job == "jax":
        if args.device == "cpu":
            env["JAX_PLATFORMS"] = "cpu"
        env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.90")  # room for m = 2^24 (several n x m f32)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Stopped(BaseException):
    """Raised in the parent by SIGTERM / SIGINT: stop the running child, write what was measured."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


STOP = {"signum": None}


def _on_signal(signum, frame):
    if STOP["signum"] is None:
        STOP["signum"] = signum
        raise Stopped(signum)


def _child_setup(parent):
    """In the child, before exec: a process group of its own (so killpg stops it with its compile
    workers) in the parent's session (so the caller's session kill still reaches it), and SIGKILL
    when the parent dies (Linux), so no child outlives a killed parent holding GPU memory."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)   # PR_SET_PDEATHSIG
        if os.getppid() != parent:   # the parent died before prctl took effect
            os._exit(1)


def run_job(job, args, argv, workdir, timeout):
    result = os.path.join(workdir, job.replace(":", "_") + ".json")
    cmd = [sys.executable, os.path.abspath(__file__), *argv, "--_worker", job, "--_result", result]
    log(f"starting {job}")
    t0, parent = time.time(), os.getpid()
    proc = subprocess.Popen(cmd, env=worker_env(job, args), stdout=sys.stderr, stderr=sys.stderr,
                            preexec_fn=lambda: _child_setup(parent))
    killed, grace = None, 5
    while proc.poll() is None:
        try:
            time.sleep(0.5)
            now = time.time()
            if now - t0 > timeout:
                killed = (f"ran past --worker-timeout {args.worker_timeout:.0f} s" if timeout >= args.worker_timeout
                          else f"ran past what was left of --budget-seconds {args.budget_seconds:.0f} ({timeout:.0f} s)")
            else:
                try:
                    with open(result) as f:
                        ph = json.load(f).get("phase")
                except (OSError, ValueError):
                    ph = None
                if ph and ph["name"] == "compiling" and now - ph["since"] > args.compile_timeout:
                    killed = f"compilation ran past --compile-timeout {args.compile_timeout:.0f} s"
        except Stopped as ex:
            killed, grace = f"stopped: the peers script got signal {ex.signum}", 2
        if killed:
            log(f"{job}: {killed}; stopping it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            break
    try:
        with open(result) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = {"worker": job, "frameworks": {}, "checks": [], "measurements": [], "skipped": [], "errors": []}
    doc["job"] = {"name": job, "returncode": proc.returncode, "seconds": time.time() - t0, "stopped": killed}
    if killed or proc.returncode:
        fw = job.split("-")[0].split(":")[0]
        why = killed or f"child process exited with code {proc.returncode}" + (
            " (SIGKILL: often the kernel's out-of-memory killer)" if proc.returncode == -9 else "")
        doc["errors"].append({"framework": fw, "what": job, "error": why})
    return doc


def host_info():
    info = {"python": sys.version.split()[0], "numpy": np.__version__, "platform": platform.platform(),
            "hostname": socket.gethostname(), "cpu_count": os.cpu_count(),
            "env": {k: os.environ.get(k) for k in ("CUPY_TF32", "NVIDIA_TF32_OVERRIDE", "CUDA_VISIBLE_DEVICES",
                                                    "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE",
                                                    "XLA_PYTHON_CLIENT_MEM_FRACTION", "JAX_PLATFORMS")
                    if os.environ.get(k) is not None}}
    if shutil.which("nvidia-smi"):
        try:
            q = "name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit"
            out = subprocess.run(["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
            info["nvidia_smi"] = [dict(zip(q.split(","), (v.strip() for v in line.split(","))))
                                  for line in out.splitlines() if line.strip()]
        except Exception as ex:
            info["nvidia_smi"] = f"failed: {ex}"
    return info


def parse_widenet_shape(op, shape):
    """widenet bench shapes: gemm "4096x4096x4096", ntk_step "n=256 d=64 m=16777216",
    mask_gram "n=256 m=16777216", mfld_step "B=256 N=16777216 d=20", mfld_noise "N=16777216 D=22",
    copy "256 MiB"."""
    if op == "gemm":
        dims = [int(v) for v in shape.split("x")]
        return {"n": dims[0]} if len(set(dims)) == 1 else None
    if op in ("ntk_step", "mask_gram", "mfld_noise") + MFLD_STEP_OPS:
        return {k: int(v) for k, v in (kv.split("=") for kv in shape.split())}
    return {}


def compare_with_widenet(doc, path):
    """Pair each widenet bench measurement with the peer measurements of the same operation and
    shape; ratio = peer ms / widenet ms (> 1: widenet faster). Only meaningful in one call."""
    with open(path) as f:
        wn = json.load(f)
    out = {"widenet_file": os.path.abspath(path), "widenet_version": wn.get("version"),
           "widenet_precision": wn.get("precision"), "widenet_repeats": wn.get("repeats"),
           "peer_precision": "f32-highest (TF32 off)", "rows": [], "notes": []}
    if wn.get("precision") not in (None, "f32"):
        out["notes"].append(f"widenet ran in {wn.get('precision')}; the peers are f32, so no ratios")
        return out
    peer_kind = {"gemm": "gemm", "ntk_step": "ntk_step", "mask_gram": "ntk_gram", "mfld_noise": "mfld_noise",
                 **{op: op for op in MFLD_STEP_OPS}}
    copies = [r for r in doc["measurements"] if r["kind"] == "copy"]
    for b in wn.get("backends", []):
        if b.get("kind") == "cpu" and doc["args"]["device"] == "cuda":
            continue  # widenet's CPU backend has its own peer (ntk_step_numpy.py)
        if doc.get("device_name") and b.get("device") and doc["device_name"] != b.get("device"):
            out["notes"].append(f"widenet device {b.get('device')!r} vs peers' {doc['device_name']!r}: "
                                "check they are the same device")
        for m in b.get("measurements", []):
            op, wms = m.get("operation"), 1e3 * float(m.get("seconds", "nan"))
            base = {"widenet_backend": b.get("kind"), "widenet_device": b.get("device"), "operation": op,
                    "shape": m.get("shape"), "widenet_ms": wms}
            if op == "copy":
                for r in copies:
                    wgb = float(m.get("gb_per_s") or 2 * float(m.get("bytes", 0)) / (wms * 1e-3) / 1e9)
                    out["rows"].append({**base, "peer": f"{r['framework']} {r['variant']}", "peer_ms": r["ms_median"],
                                        "peer_shape": f"{r['params']['bytes'] >> 20} MiB", "widenet_gbps": wgb,
                                        "peer_gbps": r["gbps"], "bandwidth_fraction": wgb / r["gbps"]})
                continue
            try:
                want = parse_widenet_shape(op, m.get("shape", ""))
            except ValueError:
                want = None
            if op not in peer_kind or not want:
                continue
            for r in doc["measurements"]:
                if r["kind"] != peer_kind[op] or r["precision"] != "f32-highest":
                    continue
                if all(r["params"].get(k) == v for k, v in want.items()):
                    row = {**base, "peer": f"{r['framework']} {r['variant']}", "peer_ms": r["ms_median"],
                           "ratio": r["ms_median"] / wms}
                    if op == "mfld_noise":   # the same bytes (2 N D 4) on both sides
                        row.update(widenet_gbps=m.get("gb_per_s"), peer_gbps=r["gbps"],
                                   widenet_fraction_of_copy=m.get("fraction_of_copy"),
                                   peer_fraction_of_copy=r.get("fraction_of_copy"))
                    elif op in MFLD_STEP_OPS:
                        row.update(widenet_gflops=m.get("gflop_per_s"), peer_gflops=r["gflops"])
                    out["rows"].append(row)
    if not out["rows"]:
        out["notes"].append("no peer measurement has the shape of a widenet one: run both with the same "
                            "--gemm-sizes, --ntk-width and --particles / --mfld-particles")
    if any(r["operation"] in MFLD_STEP_OPS for r in out["rows"]):
        out["notes"].append("mfld_step (and its relu / logistic variants): widenet times its forward pass, the read-back of f and the upload of "
                            "(f - y) / B, then the fused update kernel; the peers time one function that does the "
                            "same on the device. widenet's flop count (6 B N d) is the peers' too")
    if any(r["operation"] == "mfld_noise" for r in out["rows"]):
        out["notes"].append("mfld_noise: both sides count 2 N D 4 bytes; widenet's fraction_of_copy is against its "
                            "own copy (<= 256 MiB), the peers' against torch's --copy-mib copy")
    return out


def print_comparison(cmp):
    print(f"\npeer ms / widenet ms (> 1: widenet faster), widenet {cmp.get('widenet_version')} from {cmp['widenet_file']}")
    rows = [("operation", "shape", "widenet", "widenet ms", "peer", "peer ms", "ratio")]
    for r in cmp["rows"]:
        if r["operation"] == "copy":
            rows.append(("copy", f"{r['shape']} / {r['peer_shape']}", r["widenet_backend"], f"{r['widenet_ms']:.3f}",
                         r["peer"], f"{r['peer_ms']:.3f}",
                         f"{r['widenet_gbps']:.4g} vs {r['peer_gbps']:.4g} GB/s = {r['bandwidth_fraction']:.2f}"))
        else:
            extra = ""
            if r["operation"] == "mfld_noise" and r.get("widenet_gbps") is not None:
                extra = f" ({r['widenet_gbps']:.4g} vs {r['peer_gbps']:.4g} GB/s)"
            elif r["operation"] in MFLD_STEP_OPS and r.get("widenet_gflops") is not None:
                extra = f" ({r['widenet_gflops']:.4g} vs {r['peer_gflops']:.4g} GFLOP/s)"
            rows.append((r["operation"], r["shape"], r["widenet_backend"], f"{r['widenet_ms']:.3f}", r["peer"],
                         f"{r['peer_ms']:.3f}", f"{r['ratio']:.2f}x{extra}"))
    w = [max(len(str(x[i])) for x in rows) for i in range(len(rows[0]))]
    for i, x in enumerate(rows):
        print("  ".join(str(c).ljust(w[j]) for j, c in enumerate(x)).rstrip())
        if i == 0:
            print("  ".join("-" * v for v in w))
    for note in cmp["notes"]:
        print(f"note: {note}")


def summary_key(r):
    p = r.get("params", {})
    keys = {"mfld_noise": ("N", "D"), **{op: ("B", "N", "d") for op in MFLD_STEP_OPS}}.get(
        r["kind"], ("n", "d", "m", "bytes"))
    shape = ",".join(f"{k}={p[k]}" for k in keys if k in p)
    return f"{r['kind']}/{r['framework']}/{r['variant']}/{r['precision']}/{shape}"


def fmt_row(r):
    p = r.get("params", {})
    if r["kind"] in ("gemm", "matmul_peak"):
        size, rate = f"n={p['n']}", f"{r['tflops']:.3g} TFLOP/s"
    elif r["kind"] == "ntk_step":
        size, rate = f"m={p['m']}", f"{r['gflops']:.4g} GFLOP/s"
        if r.get("compile_s") is not None:
            rate += f" (compile {r['compile_s'] + (r.get('compile_check_s') or 0):.1f}s)"
    elif r["kind"] == "ntk_gram":
        size, rate = f"m={p['m']}", f"{r['tflops_mask_matmul']:.3g} TFLOP/s"
    elif r["kind"] in MFLD_STEP_OPS:
        size, rate = f"B={p['B']},N={p['N']}", f"{r['gflops']:.4g} GFLOP/s"
        if r.get("compile_s") is not None:
            rate += f" (compile {r['compile_s'] + (r.get('compile_check_s') or 0):.1f}s)"
    elif r["kind"] == "mfld_noise":
        size, rate = f"N={p['N']},D={p['D']}", f"{r['gbps']:.4g} GB/s"
        if r.get("fraction_of_copy") is not None:
            rate += f" ({r['fraction_of_copy']:.2f} of copy)"
        if r.get("compile_s") is not None:
            rate += f" (compile {r['compile_s'] + (r.get('compile_check_s') or 0):.1f}s)"
    elif r["kind"] == "copy":
        size, rate = f"{p['bytes'] // 2 ** 20} MiB", f"{r['gbps']:.4g} GB/s"
    elif r["kind"] == "max_width":
        return (r["framework"], r["variant"], "max_width", "f32", f"n={p['n']},d={p['d']}",
                "-", f"m={r['largest_ok_width']} (fails {r['smallest_failed_width']})", "ok")
    else:
        size, rate = "", ""
    return (r["framework"], r["variant"], r["kind"], r["precision"], size, f"{r['ms_median']:.3f}", rate, "ok")


def print_table(doc):
    rows = [("framework", "variant", "measurement", "precision", "size", "ms", "rate", "check")]
    rows += [fmt_row(r) for r in doc["measurements"]]
    w = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    dev = doc.get("device_name") or doc["args"]["device"]
    mf = (f"; MFLD B={doc['args']['mfld_batch']}, d={doc['args']['mfld_d']}"
          if any(r["kind"].startswith("mfld") for r in doc["measurements"]) else "")
    print(f"\nGPU peers on {dev} (n={doc['args']['n']}, d={doc['args']['d']}{mf}; medians of {doc['args']['repeats']})")
    for i, r in enumerate(rows):
        print("  ".join(str(c).ljust(w[j]) if j != 5 else str(c).rjust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            print("  ".join("-" * x for x in w))
    for x in doc["skipped"]:
        print(f"skipped  {x['framework']} {x['what']}: {x['reason'][:150]}")
    for x in doc["errors"]:
        print(f"error    {x['framework']} {x['what']}: {x['error'].splitlines()[0][:150]}")
    nc = len(doc["checks"])
    nf = sum(1 for c in doc["checks"] if not c["passed"])
    print(f"checks: {nc - nf} passed, {nf} failed")


def main():
    args = parse_args()
    if args._worker:
        return run_worker(args)
    argv = sys.argv[1:]
    t0 = time.time()
    # the plain measurements of every framework first, then the slow optional ones
    jobs, later = [], []
    for fw in args.only_list:
        if fw == "torch":
            jobs.append("torch")
            ntk_c = [f"torch-compile:{mo}" for mo in args.compile_mode_list] if "ntk" in args.section_list else []
            mfld_c = ([j for mo in args.mfld_compile_mode_list for j in mfld_compile_jobs(args, mo)]
                      if "mfld" in args.section_list else [])
            later += ntk_c[:1] + mfld_c + ntk_c[1:]   # the slow autotuning NTK compile last
            if args.max_width_search:
                later.append("torch-width")
        elif fw == "cupy":
            jobs += ["cupy", "cupy-tf32"] if ("gemm" in args.section_list or "gram" in args.section_list) else ["cupy"]
        elif fw == "jax":
            jobs.append("jax")
    jobs += later
    deadline = t0 + args.budget_seconds
    doc = {"schema": SCHEMA, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "argv": [os.path.basename(sys.executable), *sys.argv], "args": {k: v for k, v in vars(args).items()
                                                                         if not k.startswith("_")},
           "host": host_info(), "frameworks": {}, "checks": [], "measurements": [], "skipped": [], "errors": [],
           "jobs": []}
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        with tempfile.TemporaryDirectory(prefix="gpu-peers-") as wd:
            for i, job in enumerate(jobs):
                fw = job.split("-")[0].split(":")[0]
                if job != fw and doc["frameworks"].get(fw, {}).get("available") is False:
                    continue  # the framework did not load; its main job already said why
                if STOP["signum"] is not None:
                    doc["skipped"].append({"framework": fw, "what": job,
                                           "reason": f"the peers script got signal {STOP['signum']} before it could start"})
                    continue
                left = deadline - time.time()
                if left < 20:
                    doc["skipped"].append({"framework": fw, "what": job,
                                           "reason": f"--budget-seconds {args.budget_seconds:.0f} spent before it could start"})
                    log(f"{job}: skipped, --budget-seconds spent")
                    continue
                r = run_job(job, args, argv, wd, min(args.worker_timeout, left))
                for k, v in r.get("frameworks", {}).items():
                    if k not in doc["frameworks"] or not doc["frameworks"][k].get("available"):
                        doc["frameworks"][k] = v
                    elif k == "cupy" and job == "cupy-tf32":
                        doc["frameworks"][k]["tf32_process"] = v
                for key in ("checks", "measurements", "skipped", "errors"):
                    doc[key] += r.get(key, [])
                doc["jobs"].append(r["job"])
                if i + 1 < len(jobs) and STOP["signum"] is None:
                    finish(doc, args, t0, complete=False)   # what was measured so far survives a kill
    except Stopped:
        pass   # raised outside a child's run: nothing is running; write what there is
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    finish(doc, args, t0, complete=STOP["signum"] is None)
    print_table(doc)
    if doc.get("comparison", {}).get("rows") is not None:
        print_comparison(doc["comparison"])
    return 128 + STOP["signum"] if STOP["signum"] is not None else 0


def finish(doc, args, t0, complete):
    """Derived fields, the comparison, and the JSON file (written atomically)."""
    copies = [r for r in doc["measurements"] if r["kind"] == "copy"]
    for r in doc["measurements"]:
        if r["kind"] in ("mfld_noise",) + MFLD_STEP_OPS:
            r["copy_gbps_same_run"] = copies[0]["gbps"] if copies else None
            r["fraction_of_copy"] = r["gbps"] / copies[0]["gbps"] if copies else None
    names = [v.get("device_name") for v in doc["frameworks"].values() if v.get("available")]
    doc["device_name"] = next((x for x in names if x), None)
    smi = doc["host"].get("nvidia_smi")
    doc["driver"] = smi[0].get("driver_version") if isinstance(smi, list) and smi else None
    doc["summary"] = {summary_key(r): {k: r[k] for k in ("ms_median", "tflops", "gflops", "gbps",
                                                         "tflops_mask_matmul", "largest_ok_width",
                                                         "fraction_of_copy") if k in r}
                      for r in doc["measurements"]}
    doc["all_checks_passed"] = all(c["passed"] for c in doc["checks"])
    # What the ratios against widenet (OpenCL: no TF32) are taken from: TF32 off.
    doc["tf32"] = {"compared_precision": "f32-highest", "tf32_off_for_comparison": True,
                   "note": "rows with precision f32-highest ran with TF32 off (torch allow_tf32=False and "
                           "matmul precision 'highest', CUPY_TF32=0, jax precision 'highest'); only they are "
                           "paired with widenet; f32-tf32 rows are ceilings",
                   "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE")}
    if args.compare:
        try:
            doc["comparison"] = compare_with_widenet(doc, args.compare)
        except (OSError, ValueError, TypeError, KeyError) as ex:
            doc["comparison"] = {"widenet_file": args.compare, "error": f"{type(ex).__name__}: {ex}"}
            log(f"--compare {args.compare}: {type(ex).__name__}: {ex}")
    doc["seconds"] = time.time() - t0
    doc["complete"] = complete
    if STOP["signum"] is not None:
        doc["stopped_by_signal"] = STOP["signum"]
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1, default=_json_default)
        os.replace(tmp, args.json)
        log(f"wrote {args.json}" + ("" if complete else " (partial)"))

if __name__ == "__main__":
    sys.exit(main())

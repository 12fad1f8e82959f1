"""Independent reference for `widenet resnet --experiment train`: the ResNet written the obvious way
in numpy (a loop over blocks), its gradient by central finite differences (no backpropagation),
and the optimiser's rule, replayed from the run's own inputs and initial parameters.

usage: resnet_train.py RUN_DIR OUT.json
Writes {"losses": [loss at every step 0..K], "parameters": [final flat parameters]}.
"""
import json
import sys

import numpy as np


def unpack(theta, d0, D, m, L, lm=False):
    at = 0

    def take(count, shape):
        nonlocal at
        out = theta[at:at + count].reshape(shape)
        at += count
        return out
    E = take(D * d0, (D, d0))
    blocks = [(take(m * D, (m, D)), take(m, (m,)), take(D * m, (D, m))) for _ in range(L)]
    w = take(D, (D,))
    b = take(1, ())
    k = take(L, (L,)) if lm else None
    return E, blocks, w, b, k


def loss(theta, x, y, d0, D, m, L, h, act, lm=False, heun=False, implicit=False, revnet=False):
    E, blocks, w, b, k = unpack(theta, d0, D, m, L, lm)
    sigma = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "linear": lambda z: z}[act]
    s = x @ E.T
    prev = None
    for l, (U, c, V) in enumerate(blocks):
        if implicit:   # y = s + h F(y) by fixed-point iteration to rounding
            F = lambda z: sigma(z @ U.T + c) @ V.T
            yy = s + h * F(s)
            for _ in range(500):
                nxt = s + h * F(yy)
                done = np.abs(nxt - yy).max() <= 1e-15 * (1 + np.abs(nxt).max())
                yy = nxt
                if done:
                    break
            s = yy
            continue
        if revnet:   # the halves in turn: y by F of (0, z), then z by F of (new y, 0)
            half = D // 2
            a = sigma(s[:, half:] @ U[:, half:].T + c)
            s = s.copy()
            s[:, :half] += h * a @ V[:half].T
            a = sigma(s[:, :half] @ U[:, :half].T + c)
            s[:, half:] += h * a @ V[half:].T
            continue
        if heun:
            F = lambda z: sigma(z @ U.T + c) @ V.T
            s = s + h / 2 * (F(s) + F(s + h * F(s)))
            continue
        step = h * sigma(s @ U.T + c) @ V.T
        if lm and l >= 1:
            s, prev = (1 - k[l]) * s + k[l] * prev + step, s
        else:
            s, prev = s + step, s
    f = s @ w + b
    return 0.5 * np.mean((f - y) ** 2)


def main():
    run, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{run}/config.json"))
    x, y = np.load(f"{run}/x.npy"), np.load(f"{run}/y.npy")
    theta = np.load(f"{run}/parameters_init.npy").astype(np.float64)
    d0, D, m, L = x.shape[1], cfg["dim"], cfg["width"], cfg["depth"]
    h, act, lr, steps = cfg["horizon"] / L, cfg["activation"], cfg["lr"], cfg["steps"]
    opt = cfg["optimizer"]
    lm = cfg.get("scheme") == "lm"
    args = (x, y, d0, D, m, L, h, act, lm, cfg.get("scheme") == "heun", cfg.get("scheme") == "backward-euler", cfg.get("scheme") == "revnet")
    first, second = np.zeros_like(theta), np.zeros_like(theta)
    # gd and momentum step the blocks' tensors by lr/h (everything between E and w, b).
    rate = np.full_like(theta, lr)
    if opt != "adam":
        rate[D * d0:theta.size - D - 1 - (L if lm else 0)] = lr / h
        if lm:
            rate[theta.size - L:] = lr / h
    losses = []
    eps = 1e-6
    for k in range(steps + 1):
        losses.append(loss(theta, *args))
        if k == steps:
            break
        g = np.zeros_like(theta)
        for q in range(theta.size):
            e = np.zeros_like(theta)
            e[q] = eps
            g[q] = (loss(theta + e, *args) - loss(theta - e, *args)) / (2 * eps)
        if opt == "gd":
            theta = theta - rate * g
        elif opt == "momentum":
            first = 0.9 * first + g
            theta = theta - rate * first
        else:
            t = k + 1
            first = 0.9 * first + 0.1 * g
            second = 0.999 * second + 0.001 * g * g
            theta = theta - lr * (first / (1 - 0.9 ** t)) / (np.sqrt(second / (1 - 0.999 ** t)) + 1e-8)
        if lm:
            theta[theta.size - L:] = np.clip(theta[theta.size - L:], -0.99, 1)
    json.dump({"losses": losses, "parameters": theta.tolist()}, open(out, "w"))


if __name__ == "__main__":
    main()

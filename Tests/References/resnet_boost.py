"""Independent reference for `widenet resnet --experiment boost`, written the obvious way in numpy:
from the run's inputs and the hidden weights (U, c) of its blocks (boost_blocks.npy), boosting fits
each block's V by ridge least squares to the negative functional gradient −(f − y)wᵀ, takes the
exact line search step, and refits the read-out [Z, 1] by ridge least squares; layer by layer trains
each new block (V = 0) and the read-out by GD with gradients by central finite differences.

usage: resnet_boost.py RUN_DIR OUT.json
Writes {"loss", "layerwise_loss", "eta"} per step.
"""
import json
import sys

import numpy as np


def readout(z, y, ridge):
    p, d = z.shape
    a = np.hstack([z, np.ones((p, 1))])
    g = a.T @ a
    g[:d, :d] += ridge * p * np.eye(d)
    sol = np.linalg.solve(g, a.T @ y)
    return sol[:d], sol[d]


def loss(z, w, b, y):
    return 0.5 * np.mean((z @ w + b - y) ** 2)


def main():
    run, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{run}/config.json"))
    x, y = np.load(f"{run}/x.npy"), np.load(f"{run}/y.npy")
    D, m, K, ridge, lr, S = cfg["dim"], cfg["width"], cfg["steps"], cfg["ridge"], cfg["lr"], cfg["boost_steps"]
    flat = np.load(f"{run}/boost_blocks.npy")
    per = 2 * m * D + m
    hidden = [(flat[k * per:k * per + m * D].reshape(m, D), flat[k * per + m * D:k * per + m * D + m]) for k in range(K)]
    p = x.shape[0]
    z0 = np.zeros((p, D))
    z0[:, :min(D, x.shape[1])] = x[:, :min(D, x.shape[1])]

    z = z0.copy()
    w, b = readout(z, y, ridge)
    losses, etas = [loss(z, w, b, y)], []
    for U, c in hidden:
        r = z @ w + b - y
        a = np.tanh(z @ U.T + c)
        g = -np.outer(r, w)
        vt = np.linalg.solve(a.T @ a + ridge * p * np.eye(m), a.T @ g)
        q = (a @ vt) @ w
        eta = -(r @ q) / (q @ q)
        z = z + eta * (a @ vt)
        w, b = readout(z, y, ridge)
        losses.append(loss(z, w, b, y))
        etas.append(eta)

    z = z0.copy()
    w, b = readout(z, y, ridge)
    layer = [loss(z, w, b, y)]
    for U0, c0 in hidden:
        theta = np.concatenate([U0.ravel(), c0, np.zeros(D * m), w, [b]])

        def f(t):
            U, c, V = t[:m * D].reshape(m, D), t[m * D:m * D + m], t[m * D + m:m * D + m + D * m].reshape(D, m)
            ww, bb = t[-D - 1:-1], t[-1]
            zz = z + np.tanh(z @ U.T + c) @ V.T
            return 0.5 * np.mean((zz @ ww + bb - y) ** 2), zz
        for _ in range(S):
            grad = np.zeros_like(theta)
            for i in range(theta.size):
                e = np.zeros_like(theta)
                e[i] = 1e-6
                grad[i] = (f(theta + e)[0] - f(theta - e)[0]) / 2e-6
            theta = theta - lr * grad
        value, z = f(theta)
        w, b = theta[-D - 1:-1], theta[-1]
        layer.append(value)
    json.dump({"loss": losses, "layerwise_loss": layer, "eta": etas}, open(out, "w"))


if __name__ == "__main__":
    main()

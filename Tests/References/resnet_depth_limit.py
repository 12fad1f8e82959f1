"""Reference end points of `widenet resnet --experiment depth-limit`, independent of the run's RK4.

Rebuilds F(x, t) = V(t) tanh(U(t) x + c(t)), U(t) = U0 + t U1, V(t) = V0 + t V1, c(t) = c0 + t c1, from
the run's field_U.npy (2×m×d), field_V.npy (2×d×m) and field_c.npy (2×m), and integrates the limits the
schemes converge to from points.npy over [0, T] with scipy's solve_ivp (DOP853, rtol = atol = 1e-12):
  field    x' = F(x, t)                                   (euler, heun, backward-euler)
  lm       x' = F(x, t)/(1 + k)                           (LM-ResNet's modified equation)
  revnet   y' = P_y F((0, z), t), z' = P_z F((y, 0), t)   (x = (y, z), y the first d/2 coordinates)
Usage: resnet_depth_limit.py RUN_DIR OUT.json
"""
import json
import sys

import numpy as np
from scipy.integrate import solve_ivp

run, out = sys.argv[1], sys.argv[2]
cfg = json.load(open(f"{run}/config.json"))
U, V, c = (np.load(f"{run}/field_{n}.npy") for n in ("U", "V", "c"))
x0 = np.load(f"{run}/points.npy")
P, d = x0.shape
T = cfg["horizon"]


def F(x, t):  # x: P×d
    u, v, b = U[0] + t * U[1], V[0] + t * V[1], c[0] + t * c[1]
    return np.tanh(x @ u.T + b) @ v.T


def coupled(x, t):
    half = d // 2
    only_z, only_y = x.copy(), x.copy()
    only_z[:, :half] = 0
    only_y[:, half:] = 0
    return np.concatenate([F(only_z, t)[:, :half], F(only_y, t)[:, half:]], axis=1)


def solve(G):
    sol = solve_ivp(lambda t, y: G(y.reshape(P, d), t).ravel(), (0.0, T), x0.ravel(), method="DOP853", rtol=1e-12, atol=1e-12)
    assert sol.success, sol.message
    return sol.y[:, -1].reshape(P, d).tolist()


result = {"field": solve(F)}
if "lm" in cfg["schemes"]:
    k = cfg["settings"]["lm_k"]
    result["lm"] = solve(lambda x, t: F(x, t) / (1 + k))
if "revnet" in cfg["schemes"] and d % 2 == 0:
    result["revnet"] = solve(coupled)
json.dump(result, open(out, "w"))

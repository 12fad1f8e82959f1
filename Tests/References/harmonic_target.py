"""The harmonic target of a widenet train run (--dataset harmonic), rebuilt with scipy from its
definition: μ_ℓ = E[k(t) P_ℓ(t)] for k(t) = t(π − arccos t)/2π and t = ζᵀx, x uniform on S^{d−1}
(density ∝ (1 − t²)^((d−3)/2), by scipy.integrate.quad), P_ℓ the Gegenbauer polynomial of index
(d − 2)/2 normalised to P_ℓ(1) = 1, N(d, ℓ) = (2ℓ + d − 2)/ℓ · C(ℓ + d − 3, ℓ − 1), and
f*(x) = Σ_ℓ μ_ℓ^r ℓ^(−1/2) √N(d, ℓ) P_ℓ(ζᵀx) over 1 ≤ ℓ ≤ L with μ_ℓ > 10^-12 μ_1.
Also, independently of Funk–Hecke: the largest eigenvalues of the kernel matrix H∞/n on n uniform
points against μ_0, μ_1 (d times) and μ_2 (N(d, 2) times).

    python3 harmonic_target.py RUN_DIR OUT.json
"""
import json, sys
import numpy as np
from scipy import integrate, special

run, out = sys.argv[1], sys.argv[2]
cfg = json.load(open(f"{run}/config.json"))
res = cfg["resolved"]
d, r = res["d"], res["source"]
top = cfg.get("degrees") or 40
zeta = np.load(f"{run}/harmonic_direction.npy")
alpha = (d - 2) / 2


def P(l, t):
    return special.eval_gegenbauer(l, alpha, t) / special.eval_gegenbauer(l, alpha, 1.0)


def k(t):
    return t * (np.pi - np.arccos(np.clip(t, -1, 1))) / (2 * np.pi)


weight = lambda t: (1 - t * t) ** ((d - 3) / 2)
norm = integrate.quad(weight, -1, 1)[0]
mu = np.array([integrate.quad(lambda t: k(t) * P(l, t) * weight(t), -1, 1, limit=400, epsabs=1e-14)[0] / norm
               for l in range(top + 1)])
degrees = [l for l in range(1, top + 1) if mu[l] > 1e-12 * mu[1]]
N = lambda l: (2 * l + d - 2) / l * special.comb(l + d - 3, l - 1)
coef = {l: mu[l] ** r / np.sqrt(l) * np.sqrt(N(l)) for l in degrees}
tx = np.load(f"{run}/test_x.npy")
t = np.clip(tx @ zeta, -1, 1)
f = sum(c * P(l, t) for l, c in coef.items())

rng = np.random.default_rng(1)
x = rng.standard_normal((2000, d)); x /= np.linalg.norm(x, axis=1, keepdims=True)
lam = np.sort(np.linalg.eigvalsh(k(x @ x.T) / x.shape[0]))[::-1]
expected = np.sort(np.array([mu[0]] + [mu[1]] * d + [mu[2]] * int(round(N(2)))))[::-1]
json.dump({"degrees": degrees, "mu": [float(mu[l]) for l in degrees], "coefficients": [float(coef[l]) for l in degrees],
           "test_y": f.tolist(), "kernel_top": lam[:len(expected)].tolist(), "mu_repeated": expected.tolist()}, open(out, "w"))

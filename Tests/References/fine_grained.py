"""The fine-grained analysis of a widenet train run, written from Arora, Du, Hu, Li, Wang (ICML 2019)
with numpy alone, from the run's own inputs (x.npy, y.npy, w0.npy, a0.npy, config.json's lr):
H∞_ij = x_iᵀx_j (π − arccos x_iᵀx_j) / 2π, its eigen-decomposition, u(0) = relu(X W0ᵀ) a0 / √m,
the projections (v_iᵀ(y − u(0)))² and (v_iᵀy)², the complexity √(2 yᵀ(H∞)⁻¹y / n), and the
predicted loss ½ Σ_i (1 − ηλ_i)^{2k} (v_iᵀ(y − u(0)))² at every logged step k.

    python3 fine_grained.py RUN_DIR OUT.json
"""
import json, sys
import numpy as np

run, out = sys.argv[1], sys.argv[2]
x = np.load(f"{run}/x.npy").astype(np.float64)
y = np.load(f"{run}/y.npy").astype(np.float64)
w0 = np.load(f"{run}/w0.npy").astype(np.float64)
a0 = np.load(f"{run}/a0.npy").astype(np.float64)
config = json.load(open(f"{run}/config.json"))
lr = config["resolved"]["lr"] if "resolved" in config else config["lr"]
n, m = x.shape[0], w0.shape[0]

g = x @ x.T
h = g * (np.pi - np.arccos(np.clip(g, -1.0, 1.0))) / (2 * np.pi)
lam, v = np.linalg.eigh(h)
u0 = np.maximum(x @ w0.T, 0.0) @ a0 / np.sqrt(m)
p_residual = (v.T @ (y - u0)) ** 2
p_labels = (v.T @ y) ** 2
complexity = float(np.sqrt(2 * y @ np.linalg.solve(h, y) / n))
steps = [json.loads(line)["step"] for line in open(f"{run}/metrics.jsonl")]
predicted = {str(k): float(0.5 * np.sum((1 - lr * lam) ** (2 * k) * p_residual)) for k in steps}
json.dump({"eigenvalues": lam.tolist(), "proj_residual": p_residual.tolist(), "proj_labels": p_labels.tolist(),
           "complexity": complexity, "predicted_loss": predicted}, open(out, "w"))

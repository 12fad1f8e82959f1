"""The smallest eigenvalues of H∞ for `widenet gram --eigensolver lanczos`, with numpy alone: the rows
of X scaled to unit norm, H∞_ij = x_iᵀx_j (π − θ_ij) / 2π with θ_ij the angle between the rows, its full eigen-decomposition
(numpy.linalg.eigh), and the k smallest eigenvalues; with a mask file (n×m of 0 and 1, the activation patterns S of a net of
width m) also the empirical H(0) = (X Xᵀ ⊙ S Sᵀ) / m and its smallest eigenvalue; with --weights W.npy (m×d hidden
weights) the same for the masks S_ir = 1[w_rᵀx_i > 0] of that net, H written to OUT.json's name with .h.npy.

    python3 gram_scale.py X.npy K OUT.json [S.npy | --weights W.npy]
"""
import json, sys
import numpy as np

x = np.load(sys.argv[1]).astype(np.float64)
k = int(sys.argv[2])
x = x / np.linalg.norm(x, axis=1, keepdims=True)
g = x @ x.T
# The angle by 2·atan2(‖x_i − x_j‖, ‖x_i + x_j‖): arccos(x_iᵀx_j) is off by √ulp ≈ 1.5e-8 where the rows
# are (nearly) parallel, which on the diagonal alone moves the eigenvalues by ~2e-9.
theta = np.empty_like(g)
for i in range(0, len(x), 256):
    a = x[i:i + 256, None, :]
    theta[i:i + 256] = 2 * np.arctan2(np.linalg.norm(a - x[None], axis=2), np.linalg.norm(a + x[None], axis=2))
h = g * (np.pi - theta) / (2 * np.pi)
lam = np.linalg.eigvalsh(h)
out = {"smallest": lam[:k].tolist(), "lambda_max": float(lam[-1])}
if len(sys.argv) > 4:
    if sys.argv[4] == "--weights":
        w = np.load(sys.argv[5]).astype(np.float64)
        s = (x @ w.T > 0).astype(np.float64)
    else:
        s = np.load(sys.argv[4]).astype(np.float64)
    h0 = g * (s @ s.T) / s.shape[1]
    out["lambda_min_h0"] = float(np.linalg.eigvalsh(h0)[0])
    if sys.argv[4] == "--weights":
        np.save(sys.argv[3][:-len(".json")] + ".h.npy", h0)
json.dump(out, open(sys.argv[3], "w"))

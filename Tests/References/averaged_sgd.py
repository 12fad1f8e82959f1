"""Averaged SGD of a widenet train run (--optimizer sgd --save-init --save-samples --save-weights),
replayed with numpy alone in float64 from the run's own files: the samples in the order seen
(samples_x.npy, samples_y.npy), w(0) and a(0), the test set (test_x.npy, test_y.npy) and
config.json's lr, batch, average_from and ridge λ.

    u = relu(X_B Wᵀ) a / √m,  e = (u − y_B) / B,
    W ← W − η (diag(a) 1{X_B Wᵀ ≥ 0}ᵀ diag(e) X_B / √m + λ (W − W(0))),
    w̄ ← w̄ + (W − w̄)/j for the j-th iterate after average_from updates.

At every logged step: the test error mean((f − y_test)²) on each of 8 folds (test point i in fold
i mod 8) of the last and the averaged iterate; at the end the largest differences from w.npy and
w_average.npy.

    python3 averaged_sgd.py RUN_DIR OUT.json
"""
import json, sys
import numpy as np

run, out = sys.argv[1], sys.argv[2]
cfg = json.load(open(f"{run}/config.json"))
res = cfg["resolved"]
lr, batch, start, ridge = res["lr"], res["batch"], res["average_from"], res.get("ridge", 0.0)
xs, ys = np.load(f"{run}/samples_x.npy"), np.load(f"{run}/samples_y.npy")
w, a = np.load(f"{run}/w0.npy").astype(np.float64), np.load(f"{run}/a0.npy").astype(np.float64)
w0 = w.copy()
tx, ty = np.load(f"{run}/test_x.npy"), np.load(f"{run}/test_y.npy")
m = w.shape[0]
rows = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
logged = {r["step"] for r in rows}
steps = xs.shape[0] // batch


def folds(wt):
    f = np.maximum(tx @ wt.T, 0.0) @ a / np.sqrt(m)
    sq = (f - ty) ** 2
    return [float(np.mean(sq[k::8])) for k in range(8)]


mean, terms, result = None, 0, {}
for k in range(steps + 1):
    if k in logged:
        result[str(k)] = {"last": folds(w), "average": folds(mean) if terms > 0 else None}
    if k == steps:
        break
    xb, yb = xs[k * batch:(k + 1) * batch], ys[k * batch:(k + 1) * batch]
    z = xb @ w.T
    e = (np.maximum(z, 0.0) @ a / np.sqrt(m) - yb) / batch
    w = w - lr * ((a[:, None] * ((z >= 0).T * e[None, :]) @ xb) / np.sqrt(m) + ridge * (w - w0))
    if start is not None and k + 1 > start:
        terms += 1
        mean = w.copy() if terms == 1 else mean + (w - mean) / terms

diff = {"w": float(np.max(np.abs(np.load(f"{run}/w.npy") - w)))}
if mean is not None:
    diff["w_average"] = float(np.max(np.abs(np.load(f"{run}/w_average.npy") - mean)))
json.dump({"rows": result, "final_difference": diff, "scale": float(np.max(np.abs(w)))}, open(out, "w"))

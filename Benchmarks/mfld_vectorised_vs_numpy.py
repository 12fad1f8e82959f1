#!/usr/bin/env python3
"""The mean-field step and noise-only update (widenet bench, CPU) before and after the vectorised
loops, beside numpy's step (Benchmarks/peers/mfld_step_numpy.py), interleaved over 5 rounds.
    python3 Benchmarks/mfld_vectorised_vs_numpy.py LABEL [BEFORE_BINARY]
BEFORE_BINARY: a build of an earlier commit, timed in the same rounds (left out when not given).
"""
import json, subprocess, sys
import os
res = {}
label = sys.argv[1] if len(sys.argv) > 1 else "as set"
for r in range(5):
    binaries = [("after", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".build/release/widenet"))]
    if len(sys.argv) > 2:
        binaries.insert(0, ("before", sys.argv[2]))
    for name, b in binaries:
        subprocess.run([b, "bench", "--backends", "cpu", "--gemm-sizes", "256", "--ntk-width", "4096", "--repeats", "3", "--json", "/tmp/b.json", "--quiet"], capture_output=True)
        d = json.load(open("/tmp/b.json"))
        for m in d["backends"][0]["measurements"]:
            if m["operation"].startswith("mfld"):
                res.setdefault((name, m["operation"]), []).append(m["seconds"])
    p = json.loads(subprocess.run(["python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers/mfld_step_numpy.py"), "--steps", "5"], capture_output=True, text=True).stdout)
    res.setdefault(("numpy", "mfld_step"), []).append(p["seconds_per_step"])
    res.setdefault(("numpy", "mfld_noise"), []).append(p["noise_seconds_per_step"])
import statistics
out = {"openblas": label, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"), "rounds": 5, "cpu": d["backends"][0]["device"], "driver": d["backends"][0]["driver"], "seconds": {f"{a} {b}": v for (a, b), v in res.items()}, "medians_ms": {f"{a} {b}": 1e3 * statistics.median(v) for (a, b), v in res.items()}}
print(json.dumps(out))

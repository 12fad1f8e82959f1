"""λ0 of H∞ at dataset scale on this CPU: `widenet gram` by the full decomposition and by Lanczos
(stored and matrix-free), each run under /usr/bin/time -v for its wall time and peak memory, and the
preflight's largest n in each mode. Writes Benchmarks/results/gram_scale_cpu.{json,md}.

    swift build -c release --product widenet
    python3 Benchmarks/gram_scale_cpu.py [--quick] [--rows=NAME,…]

--quick skips the n = 20 000 and 50 000 runs; --rows=NAME,… reruns only those rows and keeps the rest
of the existing JSON.
"""
import json, os, platform, re, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/widenet")
OUT = os.path.join(ROOT, "Benchmarks/results")
quick = "--quick" in sys.argv


def run(args, name):
    d = tempfile.mkdtemp(prefix="gram-scale-")
    out = os.path.join(d, "run")
    cmd = [BIN, "gram", "--quiet", "--out", out] + args
    t = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.time() - t
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    row = {"name": name, "command": "widenet gram " + " ".join(args), "status": p.returncode, "wall_s": round(wall, 2),
           "max_rss_bytes": int(rss.group(1)) * 1024 if rss else None}
    if p.returncode == 0:
        s = json.load(open(os.path.join(out, "summary.json")))
        keep = ["n", "d", "lambda0", "lambda0_error", "lambda0_lower", "lambda0_upper", "certificate", "eigensolver", "matrix",
                "smallest_eigenvalues", "residuals", "krylov_dimension", "block_products", "vector_products", "factorisations",
                "converged", "seconds", "peak_resident_bytes"]
        row.update({k: s.get(k) for k in keep if k in s})
    else:
        row["error"] = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    print(json.dumps(row), flush=True)
    return row


def largest(mode):
    p = subprocess.run([BIN, "gram", "--quiet", "--n", "10000000", "--d", "16", "--eigensolver", "lanczos", "--matrix", mode],
                       capture_output=True, text=True)
    line = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    m = re.search(r"largest n that fits is (\d+) with --matrix stored, (\d+) with --matrix free", line[0] if line else "")
    return {"refusal": line[0] if line else p.stderr, "status": p.returncode,
            "stored": int(m.group(1)) if m else None, "free": int(m.group(2)) if m else None}


sphere = lambda n: ["--n", str(n), "--d", "16", "--seed", "1"]
plan = [
    ("n4000_full", sphere(4000) + ["--eigensolver", "full"]),
    ("n4000_lanczos_stored", sphere(4000) + ["--eigensolver", "lanczos", "--matrix", "stored"]),
    ("n4000_lanczos_free", sphere(4000) + ["--eigensolver", "lanczos", "--matrix", "free"]),
    ("n20000_lanczos_stored", sphere(20000) + ["--eigensolver", "lanczos", "--matrix", "stored"]),
    ("n20000_lanczos_free", sphere(20000) + ["--eigensolver", "lanczos", "--matrix", "free", "--eigenvalues", "2", "--max-dimension", "2048"]),
    ("n50000_lanczos_stored", sphere(50000) + ["--eigensolver", "lanczos", "--matrix", "stored"]),
    ("n50000_lanczos_free", sphere(50000) + ["--eigensolver", "lanczos", "--matrix", "free", "--eigenvalues", "1", "--max-dimension", "2048"]),
]
if quick:
    plan = plan[:3]
# --rows a,b: rerun only those rows and keep the others from the existing JSON.
only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--rows=")), None)
previous = {}
path = os.path.join(OUT, "gram_scale_cpu.json")
if only and os.path.exists(path):
    previous = {r["name"]: r for r in json.load(open(path))["rows"]}
rows = [run(args, name) if not only or name in only else previous[name] for name, args in plan if not only or name in only or name in previous]
limits = largest("stored")
try:
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
except Exception:
    cpu = platform.processor()
result = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": cpu, "threads": os.cpu_count(), "rows": rows, "preflight": limits}
json.dump(result, open(path, "w"), indent=1)
print(json.dumps(limits))

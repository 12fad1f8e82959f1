"""Writes datasets/digits/: two classes of scikit-learn's handwritten digits as .npy for `widenet
train` (x.npy n×64, pixel intensities 0–16 as float64, rows scaled to unit norm by widenet; y.npy
±1). The files are committed, so tests and CI need no scikit-learn; this script remakes them.

    python3 -m venv .venv-data && .venv-data/bin/pip install numpy scikit-learn
    .venv-data/bin/python Scripts/make_digits.py [--classes 3,5]
"""
import argparse, os
import numpy as np
from sklearn.datasets import load_digits

p = argparse.ArgumentParser()
p.add_argument("--classes", default="3,5", help="the two digits: the first is labelled +1, the second −1")
p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "digits"))
a = p.parse_args()
first, second = (int(c) for c in a.classes.split(","))
digits = load_digits()
keep = np.isin(digits.target, [first, second])
x = digits.data[keep].astype(np.float64)
y = np.where(digits.target[keep] == first, 1.0, -1.0)
os.makedirs(a.out, exist_ok=True)
np.save(os.path.join(a.out, "x.npy"), x)
np.save(os.path.join(a.out, "y.npy"), y)
print(f"{a.out}: {x.shape[0]} images of {first} (+1) and {second} (−1), {x.shape[1]} pixels each")

"""Philox4x32-10 normals in float32, written from the description (Salmon et al., SC'11; the Box–Muller
of ARCHITECTURE.md's generator section) with numpy's float32 arithmetic, as the test reference.

    python3 philox_normal_f32.py SEED STREAM STEP OFFSET COUNT OUT.npy

writes COUNT standard normals of elements OFFSET … as float32 (no scale).
"""
import sys
import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)
f32 = np.float32


def philox(c0, c1, c2, c3, k0, k1):
    c = [x.astype(np.uint64) for x in (c0, c1, c2, c3)]
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0)) & MASK, p1 & MASK,
             ((p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1)) & MASK, p0 & MASK]
    return [x.astype(np.uint32) for x in c]


def uniform(x):
    # x + 1/2 rounded once to float32, then scaled by 2^-32 (exact)
    return ((x.astype(np.float64) + 0.5).astype(f32) * f32(2.0 ** -32)).astype(f32)


def minus_two_log(u):
    bits = u.view(np.uint32)
    e = (bits >> np.uint32(23)).astype(np.int32) - 126
    m = ((bits & np.uint32(0x7FFFFF)) | np.uint32(0x3F000000)).view(f32)
    low = m < f32(float.fromhex("0x1.6a09e6p-1"))
    e = np.where(low, e - 1, e)
    x = np.where(low, (m + m) - f32(1), m - f32(1)).astype(f32)
    z = x * x
    coefficients = ["0x1.204376p-4", "-0x1.d7a37p-4", "0x1.de4a34p-4", "-0x1.fcba9ep-4", "0x1.23d37ep-3",
                    "-0x1.555cap-3", "0x1.999d58p-3", "-0x1.fffff8p-3", "0x1.555554p-2"]
    p = np.full_like(x, f32(float.fromhex(coefficients[0])))
    for c in coefficients[1:]:
        p = p * x + f32(float.fromhex(c))
    fe = e.astype(f32)
    y = (p * x) * z
    y = y + f32(float.fromhex("-0x1.bd0106p-13")) * fe
    y = y + f32(-0.5) * z
    l = x + y
    l = l + f32(0.693359375) * fe
    return f32(-2) * l


def square_root(v):
    y = (np.uint32(0x5F375A86) - (v.view(np.uint32) >> np.uint32(1))).view(f32)
    h = f32(0.5) * v
    for _ in range(2):
        y = y * (f32(1.5) - (h * y) * y)
    r = v * y
    return r + (v - r * r) * (f32(0.5) * y)


def cos_sin(b):
    quadrant = b >> np.uint32(30)
    a = (((b >> np.uint32(9)) & np.uint32(0x1FFFFF)).astype(np.int32).astype(f32) + f32(0.5)) * f32(2.0 ** -21)
    flip = a > f32(0.5)
    a = np.where(flip, f32(1) - a, a).astype(f32)
    a2 = a * a
    s = np.full_like(a, f32(float.fromhex("-0x1.e3075p-19")))
    for c in ["0x1.507834p-13", "-0x1.32d2ccp-8", "0x1.466bc6p-4", "-0x1.4abbcep-1", "0x1.921fb6p+0"]:
        s = s * a2 + f32(float.fromhex(c))
    s = s * a
    c_ = np.full_like(a, f32(float.fromhex("-0x1.a6d1f2p-16")))
    for c in ["0x1.e1f506p-11", "-0x1.55d3c8p-6", "0x1.03c1fp-2", "-0x1.3bd3ccp+0", "1.0"]:
        c_ = c_ * a2 + f32(float.fromhex(c) if c.startswith(("0x", "-0x")) else float(c))
    sin_f, cos_f = np.where(flip, c_, s), np.where(flip, s, c_)
    cos_v = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [cos_f, -sin_f, -cos_f], sin_f)
    sin_v = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [sin_f, cos_f, -sin_f], -cos_f)
    return cos_v.astype(f32), sin_v.astype(f32)


def normals(seed, stream, step, offset, count):
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    groups = np.arange(offset // 4, (offset + count + 3) // 4 + 1, dtype=np.uint64)
    w = philox(groups & MASK, groups >> np.uint64(32), np.full_like(groups, stream), np.full_like(groups, step), k0, k1)
    out = np.empty((len(groups), 4), dtype=f32)
    for pair in (0, 1):
        r = square_root(minus_two_log(uniform(w[2 * pair])))
        c, s = cos_sin(w[2 * pair + 1])
        out[:, 2 * pair], out[:, 2 * pair + 1] = r * c, r * s
    flat = out.reshape(-1)
    start = offset - (offset // 4) * 4
    return flat[start:start + count]


if __name__ == "__main__":
    seed, stream, step, offset, count = (int(a, 0) for a in sys.argv[1:6])
    np.save(sys.argv[6], normals(seed, stream, step, offset, count))

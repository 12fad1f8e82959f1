// Box–Muller in float for f32 runs, the same expressions in the same order as
// Sources/WideNet/Random/PhiloxFloat.swift and the *_f32 functions of Kernels/cl/philox.cl: only
// +, −, × (correctly rounded in OpenCL's single precision, in C and in Swift), integer moves and
// exact conversions of integers below 2^24, contraction off. No division or square root, which
// OpenCL may round differently, and no subnormal value anywhere, which a device may flush.
#ifndef WN_PHILOX_NORMAL_F32_H
#define WN_PHILOX_NORMAL_F32_H
#include "vector_math.h"

/// fl(x + 0.5) · 2^-32 in (0, 1]: one rounding of the exact value, so the same float as the double
/// uniform rounded to float; 1 only for x ≥ 2^32 − 128.
static inline __attribute__((always_inline)) float wn_u01_f32(uint32_t x) {
    float hi = (float)(int32_t)(x >> 8), lo = (float)(int32_t)(x & 255u) + 0.5f;
    return (hi * 256.0f + lo) * 0x1p-32f;
}

/// −2 log u for u in [2^-33, 1] (Cephes logf: u = 2^e (1 + f), f in [√½ − 1, √2 − 1), log(1 + f) by
/// its degree-9 polynomial, ln 2 in two parts so that e · 0.693359375 is exact).
static inline __attribute__((always_inline)) float wn_minus_two_log_f32(float u) {
    uint32_t bits = wn_float_to_bits(u);
    int32_t e = (int32_t)(bits >> 23) - 126;
    float m = wn_bits_to_float((bits & 0x007fffffu) | 0x3f000000u);   // [0.5, 1)
    int low = m < 0x1.6a09e6p-1f;
    e = low ? e - 1 : e;
    float x = low ? (m + m) - 1.0f : m - 1.0f;                           // exact
    float z = x * x;
    float p = 0x1.204376p-4f;
    p = p * x - 0x1.d7a37p-4f;
    p = p * x + 0x1.de4a34p-4f;
    p = p * x - 0x1.fcba9ep-4f;
    p = p * x + 0x1.23d37ep-3f;
    p = p * x - 0x1.555cap-3f;
    p = p * x + 0x1.999d58p-3f;
    p = p * x - 0x1.fffff8p-3f;
    p = p * x + 0x1.555554p-2f;
    float fe = (float)e;
    float y = (p * x) * z;
    y = y + -0x1.bd0106p-13f * fe;
    y = y + -0.5f * z;
    float l = x + y;
    l = l + 0x1.63p-1f * fe;
    return -2.0f * l;
}

/// √v for v in [0, 47]: 1/√v from the bit estimate and two Newton steps, times v, then one Heron
/// correction (0 gives 0: the estimate for 0 is finite).
static inline __attribute__((always_inline)) float wn_sqrt_f32(float v) {
    float y = wn_bits_to_float(0x5f375a86u - (wn_float_to_bits(v) >> 1));
    float h = 0.5f * v;
    y = y * (1.5f - (h * y) * y);
    y = y * (1.5f - (h * y) * y);
    float r = v * y;
    // One Heron correction in the residual v − r², whose subtraction is exact (Sterbenz).
    return r + (v - r * r) * (0.5f * y);
}

/// (cos 2πu, sin 2πu) for u = (b_top23 + 0.5) · 2^-23: the top two bits of b are the quadrant, the
/// next 21 its fraction a in (0, 1), exact; a > ½ is reflected (1 − a exact) so that the angle
/// (π/2) a is at most π/4, where the Taylor polynomials to a^11 and a^10 are within 2e-10.
static inline __attribute__((always_inline)) void wn_cos_sin_2pi_f32(uint32_t b, float *c, float *s) {
    uint32_t quadrant = b >> 30;
    float a = ((float)(int32_t)((b >> 9) & 0x1fffffu) + 0.5f) * 0x1p-21f;
    int flip = a > 0.5f;
    a = flip ? 1.0f - a : a;
    float a2 = a * a;
    float sinA = -0x1.e3075p-19f;
    sinA = sinA * a2 + 0x1.507834p-13f;
    sinA = sinA * a2 - 0x1.32d2ccp-8f;
    sinA = sinA * a2 + 0x1.466bc6p-4f;
    sinA = sinA * a2 - 0x1.4abbcep-1f;
    sinA = sinA * a2 + 0x1.921fb6p+0f;
    sinA = sinA * a;
    float cosA = -0x1.a6d1f2p-16f;
    cosA = cosA * a2 + 0x1.e1f506p-11f;
    cosA = cosA * a2 - 0x1.55d3c8p-6f;
    cosA = cosA * a2 + 0x1.03c1fp-2f;
    cosA = cosA * a2 - 0x1.3bd3ccp+0f;
    cosA = cosA * a2 + 1.0f;
    float sinF = flip ? cosA : sinA, cosF = flip ? sinA : cosA;
    *c = quadrant == 0 ? cosF : quadrant == 1 ? -sinF : quadrant == 2 ? -cosF : sinF;
    *s = quadrant == 0 ? sinF : quadrant == 1 ? cosF : quadrant == 2 ? -sinF : -cosF;
}

/// Box–Muller of (a, b) in float: r cos 2πu_b into *c, r sin 2πu_b into *s, r = √(−2 log u_a).
static inline __attribute__((always_inline)) void wn_box_muller_f32(uint32_t a, uint32_t b, float *c, float *s) {
    float r = wn_sqrt_f32(wn_minus_two_log_f32(wn_u01_f32(a)));
    float cv, sv;
    wn_cos_sin_2pi_f32(b, &cv, &sv);
    *c = r * cv;
    *s = r * sv;
}
#endif

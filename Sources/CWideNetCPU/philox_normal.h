// Philox4x32-10 and its Box–Muller normals in double, the same expressions in the same order as
// Sources/WideNet/Random/Philox.swift and Kernels/cl/philox.cl (that file documents the layout), so
// the values are the same bits; written for the vectoriser: lanes are independent groups.
#ifndef WN_PHILOX_NORMAL_H
#define WN_PHILOX_NORMAL_H
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline __attribute__((always_inline)) double wn_bits_to_double(uint64_t b) { double d; memcpy(&d, &b, sizeof d); return d; }
static inline __attribute__((always_inline)) uint64_t wn_double_to_bits(double d) { uint64_t b; memcpy(&b, &d, sizeof b); return b; }

static inline __attribute__((always_inline)) double wn_u01(uint32_t x) { return ((double)x + 0.5) * 0x1p-32; }

static inline __attribute__((always_inline)) double wn_philox_log(double x) {
    uint64_t bits = wn_double_to_bits(x);
    int32_t e = (int32_t)(bits >> 52) - 1023;
    double m = wn_bits_to_double((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = big ? e + 1 : e;
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = 1.0 + s2 * (0.3333333333333333 + s2 * (0.2 + s2 * (0.14285714285714285
        + s2 * (0.1111111111111111 + s2 * (0.09090909090909091 + s2 * (0.07692307692307693
        + s2 * (0.06666666666666667 + s2 * (0.058823529411764705 + s2 * (0.05263157894736842
        + s2 * 0.047619047619047616)))))))));
    double logm = (2.0 * s) * p;
    double de = (double)e;
    return de * 0.6931471803691238 + (de * 1.9082149292705877e-10 + logm);
}

/// Box–Muller of (a, b): r cos 2πu_b into *c, r sin 2πu_b into *s.
static inline __attribute__((always_inline)) void wn_box_muller(uint32_t a, uint32_t b, double *c, double *s) {
    double r = sqrt(-2.0 * wn_philox_log(wn_u01(a)));
    double t = wn_u01(b) * 4.0;
    int32_t q = (int32_t)t;           // t in (0, 4): truncation is the floor
    double f = t - (double)q;
    int flip = f > 0.5;
    f = flip ? 1.0 - f : f;
    double f2 = f * f;
    double sn = f * (1.5707963267948966 + f2 * (-0.6459640975062463 + f2 * (0.07969262624616705
        + f2 * (-0.004681754135318688 + f2 * (0.00016044118478735983 + f2 * (-3.598843235212085e-06
        + f2 * (5.692172921967927e-08 + f2 * (-6.688035109811468e-10 + f2 * 6.0669357311061955e-12))))))));
    double cs = 1.0 + f2 * (-1.2337005501361697 + f2 * (0.25366950790104803 + f2 * (-0.02086348076335296
        + f2 * (0.0009192602748394266 + f2 * (-2.5202042373060607e-05 + f2 * (4.710874778818172e-07
        + f2 * (-6.386603083791852e-09 + f2 * 6.565963114979473e-11)))))));
    double sinF = flip ? cs : sn, cosF = flip ? sn : cs;
    int quadrant = q & 3;
    double cv = quadrant == 0 ? cosF : quadrant == 1 ? -sinF : quadrant == 2 ? -cosF : sinF;
    double sv = quadrant == 0 ? sinF : quadrant == 1 ? cosF : quadrant == 2 ? -sinF : -cosF;
    *c = r * cv;
    *s = r * sv;
}

/// The four words of Philox4x32-10 for counter (g_lo, g_hi, stream, step) and key (k0, k1).
static inline __attribute__((always_inline)) void wn_philox_block(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                                   uint32_t out[4]) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}
#endif

// philox.cl — Philox4x32-10 counter-based random numbers (Salmon et al., SC'11; Random123),
// bit-identical to Sources/WideNet/Random/Philox.swift, so a CPU run and an OpenCL run with one
// seed draw the same weights and noise. Other kernel files are concatenated after this one and
// call philox4x32_10 / philox_bits / philox_normal4 / philox_value directly.
//
// Stream layout (fixed; Philox.swift documents the same):
//
//   key     = (key0, key1) = (low 32 bits, high 32 bits) of the 64-bit seed
//   element e (ulong) = offset + i           i = get_global_id(0) = index into out
//   group   g = e / 4,  lane = e % 4
//
//   counter = ( g & 0xffffffff | g >> 32 | stream | step )
//               word 0           word 1    word 2   word 3
//
//   philox4x32_10(counter, key) -> (w0, w1, w2, w3); lane l takes w_l.
//
//   stream: 1 hidden weights W, 2 output weights a, 3 Langevin noise, 4 data X, 5 labels y,
//           6 teacher, 7 shuffle;  step: training step (0 for initialisation).
//
// Dimension letters: i output index (< count), e element index, g group, lane = e % 4.
// Tuning parameters: none beyond REAL (float or double, set with -DREAL=...).
//
// Conversions (the same expressions, in the same order, in Philox.swift):
//   uniform     u = (x + 0.5) * 2^-32, in (0, 1), exact in double
//   normal      Box–Muller per pair (w0, w1) -> (n0, n1), (w2, w3) -> (n2, n3):
//               r = sqrt(-2 log u_a), n_even = r cos(2π u_b), n_odd = r sin(2π u_b);
//               in float when REAL is float (the *_f32 functions), in double when it is double
//   rademacher  top bit of x set -> -1, else +1
//   stored      (REAL)value * scale   (round to REAL first, then one REAL multiply; as float, a
//               uniform above 1 - 2^-25 rounds to 1)
//
// log, cos and sin are our own, built from +, -, *, / and sqrt only in double and from +, -, *
// only in float: those are correctly rounded on every device (single precision division and
// square root are not, without -cl-fp32-correctly-rounded-divide-sqrt) and in Swift, while the
// builtins differ in the last bits. No float value on the way is subnormal, so a device that
// flushes them rounds alike. That needs fused multiply-add off (the pragma below) and a build
// without -cl-mad-enable, -cl-unsafe-math-optimizations or -cl-fast-relaxed-math. Only REAL=double
// builds need cl_khr_fp64.

#pragma OPENCL FP_CONTRACT OFF

#ifndef REAL
#define REAL float
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* Weyl key increments */
#define PHILOX_W1 0xBB67AE85u

#define PHILOX_NORMAL 0
#define PHILOX_UNIFORM 1
#define PHILOX_RADEMACHER 2

// Philox4x32 with 10 rounds (Random123 philox4x32_R(10, ...)).
uint4 philox4x32_10(uint4 ctr, uint2 key)
{
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            key.x += PHILOX_W0;
            key.y += PHILOX_W1;
        }
        const uint hi0 = mul_hi(PHILOX_M0, ctr.x), lo0 = PHILOX_M0 * ctr.x;
        const uint hi1 = mul_hi(PHILOX_M1, ctr.z), lo1 = PHILOX_M1 * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    }
    return ctr;
}

// The four words of group g of (stream, step).
uint4 philox_bits(ulong g, uint stream, uint step, uint2 key)
{
    return philox4x32_10((uint4)((uint)g, (uint)(g >> 32), stream, step), key);
}

// fl(x + 0.5) * 2^-32 in (0, 1]: one rounding of the exact value, so the same float as the double
// uniform rounded to float; 1 only for x >= 2^32 - 128.
float philox_u01_f32(uint x)
{
    const float hi = (float)(int)(x >> 8), lo = (float)(int)(x & 255u) + 0.5f;
    return (hi * 256.0f + lo) * 0x1p-32f;
}

// -2 log u for u in [2^-33, 1] (Cephes logf: u = 2^e (1 + f), f in [sqrt(1/2) - 1, sqrt(2) - 1),
// log(1 + f) by its degree-9 polynomial, ln 2 in two parts so that e * 0.693359375 is exact).
float philox_minus_two_log_f32(float u)
{
    const uint bits = as_uint(u);
    int e = (int)(bits >> 23) - 126;
    const float m = as_float((bits & 0x007fffffu) | 0x3f000000u); /* [0.5, 1) */
    const int low = m < 0x1.6a09e6p-1f;
    if (low)
        e -= 1;
    const float x = low ? (m + m) - 1.0f : m - 1.0f; /* exact */
    const float z = x * x;
    float p = 0x1.204376p-4f;
    p = p * x - 0x1.d7a37p-4f;
    p = p * x + 0x1.de4a34p-4f;
    p = p * x - 0x1.fcba9ep-4f;
    p = p * x + 0x1.23d37ep-3f;
    p = p * x - 0x1.555cap-3f;
    p = p * x + 0x1.999d58p-3f;
    p = p * x - 0x1.fffff8p-3f;
    p = p * x + 0x1.555554p-2f;
    const float fe = (float)e;
    float y = (p * x) * z;
    y = y + -0x1.bd0106p-13f * fe;
    y = y + -0.5f * z;
    float l = x + y;
    l = l + 0x1.63p-1f * fe;
    return -2.0f * l;
}

// sqrt(v) for v in [0, 47]: 1/sqrt(v) from the bit estimate and two Newton steps, times v, then one
// Heron correction in the residual v - r^2, an exact subtraction (0 gives 0: the estimate is finite).
float philox_sqrt_f32(float v)
{
    float y = as_float(0x5f375a86u - (as_uint(v) >> 1));
    const float h = 0.5f * v;
    y = y * (1.5f - (h * y) * y);
    y = y * (1.5f - (h * y) * y);
    const float r = v * y;
    return r + (v - r * r) * (0.5f * y);
}

// (cos 2πu, sin 2πu) for u = (top 23 bits of b + 0.5) * 2^-23: the top two bits are the quadrant, the
// next 21 its fraction a in (0, 1), exact; a > 1/2 is reflected (1 - a is exact) so that the angle
// (π/2) a is at most π/4, where the Taylor polynomials to a^11 and a^10 are within 2e-10.
float2 philox_cossin_2pi_f32(uint b)
{
    const uint quadrant = b >> 30;
    float a = ((float)(int)((b >> 9) & 0x1fffffu) + 0.5f) * 0x1p-21f;
    const int flip = a > 0.5f;
    if (flip)
        a = 1.0f - a;
    const float a2 = a * a;
    float s = -0x1.e3075p-19f;
    s = s * a2 + 0x1.507834p-13f;
    s = s * a2 - 0x1.32d2ccp-8f;
    s = s * a2 + 0x1.466bc6p-4f;
    s = s * a2 - 0x1.4abbcep-1f;
    s = s * a2 + 0x1.921fb6p+0f;
    s = s * a;
    float c = -0x1.a6d1f2p-16f;
    c = c * a2 + 0x1.e1f506p-11f;
    c = c * a2 - 0x1.55d3c8p-6f;
    c = c * a2 + 0x1.03c1fp-2f;
    c = c * a2 - 0x1.3bd3ccp+0f;
    c = c * a2 + 1.0f;
    const float sin_f = flip ? c : s, cos_f = flip ? s : c;
    switch (quadrant) {
    case 0: return (float2)(cos_f, sin_f);
    case 1: return (float2)(-sin_f, cos_f);
    case 2: return (float2)(-cos_f, -sin_f);
    default: return (float2)(sin_f, -cos_f);
    }
}

float2 philox_box_muller_f32(uint a, uint b)
{
    const float r = philox_sqrt_f32(philox_minus_two_log_f32(philox_u01_f32(a)));
    const float2 cs = philox_cossin_2pi_f32(b);
    return (float2)(r * cs.x, r * cs.y);
}

#if REAL_IS_DOUBLE
// (x + 0.5) * 2^-32, in (0, 1).
double philox_u01(uint x)
{
    return ((double)x + 0.5) * 0x1p-32;
}

double philox_rademacher(uint x)
{
    return (x >> 31) != 0 ? -1.0 : 1.0;
}

// Natural log of a positive normal double. x = 2^e * m with m in [sqrt(1/2), sqrt(2));
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172.
double philox_log(double x)
{
    const ulong bits = as_ulong(x);
    long e = (long)(bits >> 52) - 1023;
    double m = as_double((bits & 0x000FFFFFFFFFFFFFUL) | 0x3FF0000000000000UL);
    if (m > 1.4142135623730951) {
        m = m * 0.5;
        e += 1;
    }
    const double s = (m - 1.0) / (m + 1.0); /* m - 1 is exact */
    const double s2 = s * s;
    /* 2(s + s^3/3 + ... + s^21/21); the first omitted term is below 1e-18 relative. */
    const double p = 1.0 + s2 * (0.3333333333333333 + s2 * (0.2 + s2 * (0.14285714285714285
        + s2 * (0.1111111111111111 + s2 * (0.09090909090909091 + s2 * (0.07692307692307693
        + s2 * (0.06666666666666667 + s2 * (0.058823529411764705 + s2 * (0.05263157894736842
        + s2 * 0.047619047619047616)))))))));
    const double logm = (2.0 * s) * p;
    /* ln 2 split so that e * ln2_hi is exact (ln2_hi has 32 trailing zero bits). */
    const double de = (double)e;
    return de * 0.6931471803691238 + (de * 1.9082149292705877e-10 + logm);
}

// (cos 2πu, sin 2πu). Reduction is exact: t = 4u picks the quadrant, its fraction f is exact,
// and 1 - f for f > 1/2 is exact (Sterbenz), leaving an angle (π/2) a with a in [0, 1/2].
double2 philox_cossin_2pi(double u)
{
    const double t = u * 4.0;
    const double q = floor(t);
    double a = t - q;
    const int flip = a > 0.5;
    if (flip)
        a = 1.0 - a;
    const double a2 = a * a;
    /* sin(πa/2) and cos(πa/2), Taylor coefficients in a (terms to a^17 and a^16). */
    const double s = a * (1.5707963267948966 + a2 * (-0.6459640975062463 + a2 * (0.07969262624616705
        + a2 * (-0.004681754135318688 + a2 * (0.00016044118478735983 + a2 * (-3.598843235212085e-06
        + a2 * (5.692172921967927e-08 + a2 * (-6.688035109811468e-10 + a2 * 6.0669357311061955e-12))))))));
    const double c = 1.0 + a2 * (-1.2337005501361697 + a2 * (0.25366950790104803 + a2 * (-0.02086348076335296
        + a2 * (0.0009192602748394266 + a2 * (-2.5202042373060607e-05 + a2 * (4.710874778818172e-07
        + a2 * (-6.386603083791852e-09 + a2 * 6.565963114979473e-11)))))));
    const double sin_f = flip ? c : s; /* sin and cos of the angle within the quadrant */
    const double cos_f = flip ? s : c;
    switch ((int)q & 3) {
    case 0: return (double2)(cos_f, sin_f);
    case 1: return (double2)(-sin_f, cos_f);
    case 2: return (double2)(-cos_f, -sin_f);
    default: return (double2)(sin_f, -cos_f);
    }
}

// Box–Muller: (r cos 2πu_b, r sin 2πu_b), r = sqrt(-2 log u_a).
double2 philox_box_muller(uint a, uint b)
{
    const double r = sqrt(-2.0 * philox_log(philox_u01(a)));
    const double2 cs = philox_cossin_2pi(philox_u01(b));
    return (double2)(r * cs.x, r * cs.y);
}

// Four standard normals from one Philox block: (w0, w1) -> (n0, n1), (w2, w3) -> (n2, n3).
double4 philox_normal4(uint4 bits)
{
    const double2 lo = philox_box_muller(bits.x, bits.y);
    const double2 hi = philox_box_muller(bits.z, bits.w);
    return (double4)(lo, hi);
}

#endif

// Four standard normals of one Philox block in REAL's precision.
#if REAL_IS_DOUBLE
typedef double4 real4_t;
#define philox_normal4_real philox_normal4
#else
typedef float4 real4_t;
float4 philox_normal4_real(uint4 bits)
{
    return (float4)(philox_box_muller_f32(bits.x, bits.y), philox_box_muller_f32(bits.z, bits.w));
}
#endif

// The value of one lane of a block for dist (PHILOX_NORMAL / _UNIFORM / _RADEMACHER) in REAL's
// precision; a normal lane computes only its own Box–Muller pair, with the arithmetic of
// philox_normal4_real. A float uniform is the double one rounded to float.
REAL philox_value(uint4 bits, uint lane, int dist)
{
    const uint x = lane == 0 ? bits.x : lane == 1 ? bits.y : lane == 2 ? bits.z : bits.w;
#if REAL_IS_DOUBLE
    if (dist == PHILOX_UNIFORM)
        return philox_u01(x);
    if (dist == PHILOX_RADEMACHER)
        return philox_rademacher(x);
    const double2 n = lane < 2 ? philox_box_muller(bits.x, bits.y) : philox_box_muller(bits.z, bits.w);
#else
    if (dist == PHILOX_UNIFORM)
        return philox_u01_f32(x);
    if (dist == PHILOX_RADEMACHER)
        return (x >> 31) != 0 ? -1.0f : 1.0f;
    const float2 n = lane < 2 ? philox_box_muller_f32(bits.x, bits.y) : philox_box_muller_f32(bits.z, bits.w);
#endif
    return (lane & 1) ? n.y : n.x;
}

// out[i] = value(e = offset + i) * scale for i < count; one work-item per element, so the global
// size may be rounded up past count.
__kernel void philox_fill(__global REAL *out, const uint count, const uint offset_lo, const uint offset_hi,
                          const uint key0, const uint key1, const uint stream, const uint step,
                          const int dist, const REAL scale)
{
    const uint i = (uint)get_global_id(0);
    if (i >= count)
        return;
    const ulong e = (((ulong)offset_hi << 32) | (ulong)offset_lo) + (ulong)i;
    const uint4 bits = philox_bits(e >> 2, stream, step, (uint2)(key0, key1));
    out[i] = philox_value(bits, (uint)(e & 3), dist) * scale;
}

// Contraction back on for the files built after this one (reduce.cl, mfld.cl): their sums and
// gradients want fused multiply-adds, and OpenCL's default is ON. The functions above keep OFF,
// because a pragma applies to the code that follows it.
#pragma OPENCL FP_CONTRACT ON

// Element functions written with +, −, ×, ÷, comparisons and bit moves only, so the compiler
// vectorises them for each instruction set and every variant rounds alike.
#ifndef WN_VECTOR_MATH_H
#define WN_VECTOR_MATH_H
#include <stdint.h>
#include <string.h>

// Iteration i touches element i (or group i) only, so loops are vectorised even in place, where
// the compiler's own overlap check would fall back to scalar code.
#if defined(__clang__)
#define WN_ELEMENTWISE _Pragma("clang loop vectorize(assume_safety)")
#else
#define WN_ELEMENTWISE _Pragma("GCC ivdep")
#endif

// Each loop is written once as a macro LOOP(NAME, ATTRIBUTES) and instantiated per instruction set;
// WN_PICK chooses the instance for a wn_isa (only the baseline exists off x86-64).
#if defined(__x86_64__)
#define WN_INSTANTIATE(LOOP, NAME)                                                               \
    LOOP(NAME##_avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))) \
    LOOP(NAME##_avx2, __attribute__((target("avx2,fma"))))                                     \
    LOOP(NAME##_baseline, )
#define WN_PICK(isa, NAME) ((isa) == WN_ISA_AVX512 ? NAME##_avx512 : (isa) == WN_ISA_AVX2 ? NAME##_avx2 : NAME##_baseline)
#else
#define WN_INSTANTIATE(LOOP, NAME) LOOP(NAME##_baseline, )
#define WN_PICK(isa, NAME) ((void)(isa), NAME##_baseline)
#endif

static inline __attribute__((always_inline)) float wn_bits_to_float(uint32_t b) { float f; memcpy(&f, &b, sizeof f); return f; }
static inline __attribute__((always_inline)) uint32_t wn_float_to_bits(float f) { uint32_t b; memcpy(&b, &f, sizeof b); return b; }

/// expm1(y) for 0 ≤ y ≤ 20: y = k ln2 + r with |r| ≤ ln2/2 (Cody–Waite, ln2 in two parts so that
/// k·ln2_hi is exact), expm1(r) by its Taylor series to r⁸ (the remainder is under 1e-9 relative),
/// and expm1(y) = 2^k expm1(r) + (2^k − 1).
static inline __attribute__((always_inline)) float wn_expm1_nonnegative(float y) {
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860676533018e-06f;
    // Round to the nearest integer by the 1.5·2^23 trick: additions only, the same on every unit.
    float k = (y * log2e + 12582912.0f) - 12582912.0f;
    float r = (y - k * ln2_hi) - k * ln2_lo;
    float p = 1.0f / 40320.0f;
    p = p * r + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    float em = r + (r * r) * p;
    float scale = wn_bits_to_float((uint32_t)((int32_t)k + 127) << 23);
    return scale * em + (scale - 1.0f);
}

/// tanh(x) = e/(e + 2), e = expm1(2|x|), with the sign of x; |x| ≥ 9.5 gives ±1 (tanh rounds to
/// 1 in float from 9.01 on); NaN stays NaN.
static inline __attribute__((always_inline)) float wn_tanhf(float x) {
    uint32_t bits = wn_float_to_bits(x);
    float ax = wn_bits_to_float(bits & 0x7fffffffu);
    float t = ax < 9.5f ? ax : 9.5f;
    float e = wn_expm1_nonnegative(t + t);
    float v = e / (e + 2.0f);
    v = wn_bits_to_float(wn_float_to_bits(v) | (bits & 0x80000000u));
    return ax != ax ? x : v;
}

#endif

// The hot CPU loops, compiled once per x86-64 instruction set and chosen at run time
// (Sources/WideNet/Backend/CPU/CPUKernels.swift), so that one binary is fast on any x86-64 and the
// same on all of them: only +, −, ×, ÷ and comparisons, contraction off, so every variant and the
// plain Swift reference round alike.
#ifndef CWIDENETCPU_H
#define CWIDENETCPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The variants, best first.
enum wn_isa { WN_ISA_AVX512 = 0, WN_ISA_AVX2 = 1, WN_ISA_BASELINE = 2, WN_ISA_COUNT = 3 };

/// 1 when this processor runs the variant (the baseline always runs; other architectures only have it).
int wn_isa_supported(int isa);

/// out[i] = tanh(in[i]) for n floats (in == out allowed), every variant to the same bits.
void wn_tanh_f32(int isa, const float *in, float *out, long n);

/// Standard normals of Philox4x32-10 groups g0 … g0 + groups − 1 (four values each, Box–Muller in
/// double), stored as (float) value · scale: the same bits as the Swift generator and philox.cl.
void wn_philox_normals_f32(int isa, uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, long groups,
                           float scale, float *out);
void wn_philox_normals_f64(int isa, uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, long groups,
                           double scale, double *out);

/// Σ a_i b_i over n floats in a fixed order of eight lanes (the same bits from every variant).
float wn_dot_f32(int isa, const float *a, const float *b, long n);

#ifdef __cplusplus
}
#endif
#endif

// The hot CPU loops, compiled once per x86-64 instruction set and chosen at run time
// (Sources/WideNet/Backend/CPU/CPUKernels.swift), so that one binary is fast on any x86-64 and the
// same on all of them: only +, −, ×, ÷ and comparisons, contraction off, so every variant and the
// plain Swift reference round alike.
#ifndef CWIDENETCPU_H
#define CWIDENETCPU_H

#ifdef __cplusplus
extern "C" {
#endif

/// The variants, best first.
enum wn_isa { WN_ISA_AVX512 = 0, WN_ISA_AVX2 = 1, WN_ISA_BASELINE = 2, WN_ISA_COUNT = 3 };

/// 1 when this processor runs the variant (the baseline always runs; other architectures only have it).
int wn_isa_supported(int isa);

/// out[i] = tanh(in[i]) for n floats (in == out allowed), every variant to the same bits.
void wn_tanh_f32(int isa, const float *in, float *out, long n);

/// Σ a_i b_i over n floats in a fixed order of eight lanes (the same bits from every variant).
float wn_dot_f32(int isa, const float *a, const float *b, long n);

#ifdef __cplusplus
}
#endif
#endif
